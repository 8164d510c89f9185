"""Expression and type rules of the ksqlDB grammar, one method per precedence tier.

Tiers, loosest first (as in `SqlBase.g4`): OR, AND, NOT, predicate (comparison, BETWEEN, IN, LIKE,
IS [NOT] NULL, IS [NOT] DISTINCT FROM: at most one per operand), `||`, `+ -`, `* / %`, unary `- +`,
then primaries with their postfix `[index]` and `->field`. Each tier's operators sit in a lookup table.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from labkit.sql import ast
from labkit.sql.cursor import TokenCursor
from labkit.sql.tokens import RESERVED, Token, TokenType

__all__ = ["ExpressionParser", "WINDOW_UNITS"]

# Time units of window sizes and function arguments, mapped to their canonical (plural) name.
WINDOW_UNITS: dict[str, str] = {
    "DAY": "DAYS", "DAYS": "DAYS", "HOUR": "HOURS", "HOURS": "HOURS", "MINUTE": "MINUTES",
    "MINUTES": "MINUTES", "SECOND": "SECONDS", "SECONDS": "SECONDS", "MILLISECOND": "MILLISECONDS",
    "MILLISECONDS": "MILLISECONDS",
}
# Units that are read as a unit in a function argument; DAY, HOUR, MINUTE and SECOND are unreserved
# words, so there ksqlDB reads them as column names (its grammar tries the expression first).
_ARGUMENT_UNITS = frozenset(unit for unit in WINDOW_UNITS if unit in RESERVED)

COMPARISON_OPERATORS: dict[TokenType, str] = {
    TokenType.EQ: "=", TokenType.NEQ: "<>", TokenType.LT: "<", TokenType.LTE: "<=", TokenType.GT: ">",
    TokenType.GTE: ">=",
}
ADDITIVE_OPERATORS: dict[TokenType, str] = {TokenType.PLUS: "+", TokenType.MINUS: "-"}
MULTIPLICATIVE_OPERATORS: dict[TokenType, str] = {
    TokenType.STAR: "*", TokenType.SLASH: "/", TokenType.PERCENT: "%",
}
_AFTER_NAME = frozenset({
    TokenType.COMMA, TokenType.RPAREN, TokenType.SEMICOLON, TokenType.EOF, TokenType.DOT,
    TokenType.LBRACKET, TokenType.ARROW, TokenType.CONCAT, *COMPARISON_OPERATORS, *ADDITIVE_OPERATORS,
    *MULTIPLICATIVE_OPERATORS,
})
_NUMBER_TYPES = (TokenType.INTEGER, TokenType.DECIMAL, TokenType.DOUBLE)
_NUMBER_NAMES = ["'-'", "DECIMAL_VALUE", "FLOATING_POINT_VALUE", "INTEGER_VALUE"]
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class ExpressionParser(TokenCursor):
    """Parses expressions, literals, numbers, durations and types."""

    # ------------------------------------------------------------------------------- boolean tiers

    def expression(self) -> ast.Expression:
        """expression: booleanExpression (OR is the loosest tier)."""
        return self._logical(self._conjunction, "OR")

    def _conjunction(self) -> ast.Expression:
        return self._logical(self._negation, "AND")

    def _logical(self, operand: Callable[[], ast.Expression], word: str) -> ast.Expression:
        left = operand()
        while self.at_word(word):
            token = self.advance()
            left = ast.LogicalBinary(word, left, operand(), pos=self.position(token))
        return left

    def _negation(self) -> ast.Expression:
        if self.at_word("NOT"):
            token = self.advance()
            return ast.Not(self._negation(), pos=self.position(token))
        return self._predicated()

    def _predicated(self) -> ast.Expression:
        start = self.cur
        value = self.value_expression()
        op = COMPARISON_OPERATORS.get(self.cur.type)
        if op is not None:
            self.advance()
            return ast.Comparison(op, value, self.value_expression(), pos=self.position(start))
        if self.at_word("IS"):
            return self._is_predicate(value, start)
        negated = self.at_word("NOT") and self.peek().is_word(*self.PREDICATE_PARSERS)
        if negated:
            self.advance()
        rule = self.PREDICATE_PARSERS.get(self.cur.value) if self.at(TokenType.WORD) else None
        if rule is None:
            return value
        self.advance()
        return rule(self, value, negated, start)

    def _between(self, value: ast.Expression, negated: bool, start: Token) -> ast.Expression:
        lower = self.value_expression()
        self.expect_word("AND")
        return ast.Between(value, lower, self.value_expression(), negated, pos=self.position(start))

    def _in_list(self, value: ast.Expression, negated: bool, start: Token) -> ast.Expression:
        self.expect(TokenType.LPAREN)
        items = [self.expression()]
        while self.match(TokenType.COMMA):
            items.append(self.expression())
        self.expect_closing(TokenType.RPAREN)
        return ast.InList(value, tuple(items), negated, pos=self.position(start))

    def _like(self, value: ast.Expression, negated: bool, start: Token) -> ast.Expression:
        pattern = self.value_expression()
        escape = None
        if self.at_word("ESCAPE") and self.peek().type is TokenType.STRING:  # else ESCAPE is an alias
            self.advance()
            token = self.advance()
            escape = token.value
            if len(escape) != 1:
                self.fail(token, f"Expected single character escape but got: {escape}", stage="prepare")
        return ast.Like(value, pattern, escape, negated, pos=self.position(start))

    def _is_predicate(self, value: ast.Expression, start: Token) -> ast.Expression:
        self.advance()  # IS
        negated = self.match_word("NOT") is not None
        if self.match_word("NULL"):
            return ast.IsNull(value, negated, pos=self.position(start))
        if self.match_word("DISTINCT"):
            self.expect_word("FROM")
            op = "IS NOT DISTINCT FROM" if negated else "IS DISTINCT FROM"
            return ast.Comparison(op, value, self.value_expression(), pos=self.position(start))
        return self.fail_expected(["'NULL'", "'DISTINCT'"] if negated else ["'NOT'", "'NULL'", "'DISTINCT'"])

    PREDICATE_PARSERS: dict[str, Callable[..., ast.Expression]] = {
        "BETWEEN": _between, "IN": _in_list, "LIKE": _like,
    }

    # --------------------------------------------------------------------------------- value tiers

    def value_expression(self) -> ast.Expression:
        """valueExpression: arithmetic and `||` (which ksqlDB reads as CONCAT(left, right))."""
        left = self._additive()
        while self.at(TokenType.CONCAT):
            token = self.advance()
            left = ast.FunctionCall("CONCAT", (left, self._additive()), pos=self.position(token))
        return left

    def _additive(self) -> ast.Expression:
        return self._arithmetic(self._multiplicative, ADDITIVE_OPERATORS)

    def _multiplicative(self) -> ast.Expression:
        return self._arithmetic(self._unary, MULTIPLICATIVE_OPERATORS)

    def _arithmetic(self, operand: Callable[[], ast.Expression],
                    operators: dict[TokenType, str]) -> ast.Expression:
        left = operand()
        while self.cur.type in operators:
            token = self.advance()
            left = ast.ArithmeticBinary(operators[token.type], left, operand(), pos=self.position(token))
        return left

    def _unary(self) -> ast.Expression:
        token = self.cur
        if token.type is TokenType.PLUS or (token.type is TokenType.MINUS
                                             and self.peek().type not in _NUMBER_TYPES):
            self.advance()
            return ast.ArithmeticUnary(token.text, self._unary(), pos=self.position(token))
        return self.primary()

    # ------------------------------------------------------------------------------------ primaries

    def primary(self) -> ast.Expression:
        """primaryExpression with its postfix subscripts and dereferences."""
        token = self.cur
        if token.type is TokenType.WORD and token.value in self.KEYWORD_PRIMARIES:
            rule = self.KEYWORD_PRIMARIES[token.value]
            node = rule(self) if rule is not None else None
            if node is None:  # a keyword that is also a name here (e.g. a column called MAP)
                node = self._named()
        elif token.type in self.TOKEN_PRIMARIES:
            node = self.TOKEN_PRIMARIES[token.type](self)
        elif self.at_identifier():
            node = self._named()
        elif token.type is TokenType.WORD and self._looks_like_a_name():
            return self.identifier()  # type: ignore[return-value]  # raises "reserved keyword"
        else:
            return self.fail_no_viable()
        return self._postfix(node)

    def _looks_like_a_name(self) -> bool:
        """True if the (reserved) word at hand is followed by what usually follows a column name."""
        after = self.peek()
        return after.type in _AFTER_NAME or after.is_word("FROM", "AS", "AND", "OR", "IS", "IN", "LIKE")

    def _postfix(self, node: ast.Expression) -> ast.Expression:
        while True:
            token = self.cur
            if self.match(TokenType.LBRACKET):
                index = self.value_expression()
                self.expect_closing(TokenType.RBRACKET)
                node = ast.Subscript(node, index, pos=node.pos)
            elif token.type is TokenType.ARROW and self.peek().type is not TokenType.STAR:
                self.advance()
                node = ast.Dereference(node, self.identifier(), pos=node.pos)
            else:
                return node

    def _named(self) -> ast.Expression:
        """A column reference, qualified column reference, function call or `type 'literal'`."""
        token = self.cur
        name = self.identifier()
        pos = self.position(token)
        if self.at(TokenType.LPAREN):
            return self._function_call(name, pos)
        if self.at(TokenType.STRING):
            return self._typed_literal(name, token)
        if self.match(TokenType.DOT):
            return ast.ColumnRef(self.identifier(), name, pos=pos)
        if name in self.lambda_params:
            return ast.LambdaVariable(name, pos=pos)
        return ast.ColumnRef(name, pos=pos)

    def _typed_literal(self, type_name: str, token: Token) -> ast.Expression:
        value = self.advance()
        if type_name != "DECIMAL":
            self.fail(token, f"Unknown type: {type_name}", stage="prepare")
        try:
            return ast.DecimalLiteral(Decimal(value.value), pos=self.position(token))
        except ArithmeticError:
            self.fail(value, f"Invalid numeric literal: {value.value}", stage="located")

    def _function_call(self, name: str, pos: ast.Position) -> ast.Expression:
        self.expect(TokenType.LPAREN)
        if self.match(TokenType.STAR):
            self.expect(TokenType.RPAREN)
            return ast.FunctionCall(name, (), star=True, pos=pos)
        args: list[ast.Expression] = []
        if not self.at(TokenType.RPAREN):
            args.append(self._function_argument())
            in_lambdas = False
            while self.match(TokenType.COMMA):
                in_lambdas = in_lambdas or self._at_lambda()
                args.append(self._lambda() if in_lambdas else self._function_argument())
        if not self.at(TokenType.RPAREN):
            self.fail_expected(["','", "')'"])
        self.advance()
        return ast.FunctionCall(name, tuple(args), pos=pos)

    def _function_argument(self) -> ast.Expression:
        token = self.cur
        if token.type is TokenType.WORD and token.value in _ARGUMENT_UNITS:
            self.advance()
            return ast.IntervalUnit(WINDOW_UNITS[token.value], pos=self.position(token))
        return self.expression()

    def _at_lambda(self) -> bool:
        if self.at_identifier() and self.peek().type is TokenType.LAMBDA:
            return True
        if not self.at(TokenType.LPAREN):
            return False
        ahead = 1
        while self.at_identifier(ahead):
            ahead += 1
            if self.peek(ahead).type is TokenType.RPAREN:
                return self.peek(ahead + 1).type is TokenType.LAMBDA
            if self.peek(ahead).type is not TokenType.COMMA:
                return False
            ahead += 1
        return False

    def _lambda(self) -> ast.Expression:
        token = self.cur
        if self.match(TokenType.LPAREN):
            params = [self.identifier()]
            while self.match(TokenType.COMMA):
                params.append(self.identifier())
            self.expect(TokenType.RPAREN)
        else:
            params = [self.identifier()]
        self.expect(TokenType.LAMBDA)
        outer = self.lambda_params
        self.lambda_params = outer | frozenset(params)
        try:
            body = self.expression()
        finally:
            self.lambda_params = outer
        return ast.Lambda(tuple(params), body, pos=self.position(token))

    def _parenthesized(self) -> ast.Expression:
        self.advance()
        inner = self.expression()
        self.expect_closing(TokenType.RPAREN)
        return inner

    def _number(self) -> ast.Expression:
        token = self.cur
        negative = self.match(TokenType.MINUS) is not None
        number = self.advance()
        text = ("-" if negative else "") + number.text
        if number.type is TokenType.INTEGER:
            if len(number.text.lstrip("0")) > 19:  # beyond BIGINT; int() of thousands of digits is refused
                self.fail(token, f"Invalid numeric literal: {text}", stage="located")
            value = int(text)
            if not _LONG_MIN <= value <= _LONG_MAX:
                self.fail(token, f"Invalid numeric literal: {text}", stage="located")
            return ast.IntegerLiteral(value, pos=self.position(token))
        if number.type is TokenType.DECIMAL:
            return ast.DecimalLiteral(Decimal(text), pos=self.position(token))
        value_f = float(text)
        if value_f in (float("inf"), float("-inf")):
            self.fail(token, f"Number overflows DOUBLE: {text}", stage="located")
        return ast.DoubleLiteral(value_f, pos=self.position(token))

    def _minus(self) -> ast.Expression:
        return self._number()  # _unary only lets a minus through when a number follows

    def _string(self) -> ast.Expression:
        token = self.advance()
        return ast.StringLiteral(token.value, pos=self.position(token))

    def _variable(self) -> ast.Expression:
        if self.peek().type in (TokenType.LPAREN, TokenType.DOT):
            return self._named()
        token = self.advance()
        return ast.VariableRef(token.value, pos=self.position(token))

    def _keyword_literal(self) -> ast.Expression:
        token = self.advance()
        if token.value == "NULL":
            return ast.NullLiteral(pos=self.position(token))
        return ast.BooleanLiteral(token.value == "TRUE", pos=self.position(token))

    def _case(self) -> ast.Expression:
        token = self.advance()
        operand = None if self.at_word("WHEN") else self.value_expression()
        whens = []
        while True:
            when = self.expect_word("WHEN")
            condition = self.expression()
            self.expect_word("THEN")
            whens.append(ast.WhenClause(condition, self.expression(), pos=self.position(when)))
            if not self.at_word("WHEN"):
                break
        default = self.expression() if self.match_word("ELSE") else None
        if not self.at_word("END"):
            self.fail_expected(["'WHEN'", "'ELSE'", "'END'"] if default is None else ["'END'"])
        self.advance()
        if operand is None:
            return ast.SearchedCase(tuple(whens), default, pos=self.position(token))
        return ast.SimpleCase(operand, tuple(whens), default, pos=self.position(token))

    def _cast(self) -> ast.Expression:
        token = self.advance()
        self.expect(TokenType.LPAREN)
        value = self.expression()
        self.expect_word("AS")
        type_ = self.type_spec()
        self.expect_closing(TokenType.RPAREN)
        return ast.Cast(value, type_, pos=self.position(token))

    def _array(self) -> ast.Expression | None:
        if self.peek().type is not TokenType.LBRACKET:
            return None
        token = self.advance()
        self.advance()
        items = []
        if not self.at(TokenType.RBRACKET):
            items.append(self.expression())
            while self.match(TokenType.COMMA):
                items.append(self.expression())
        self.expect_closing(TokenType.RBRACKET)
        return ast.ArrayConstructor(tuple(items), pos=self.position(token))

    def _map(self) -> ast.Expression | None:
        if self.peek().type is not TokenType.LPAREN:
            return None
        return self.first_of(self._map_constructor, self._named)

    def _map_constructor(self) -> ast.Expression:
        token = self.advance()
        self.advance()
        entries = []
        while not self.at(TokenType.RPAREN) or entries:
            key = self.expression()
            self.expect(TokenType.ASSIGN)
            entries.append((key, self.expression()))
            if not self.match(TokenType.COMMA):
                break
        self.expect_closing(TokenType.RPAREN)
        return ast.MapConstructor(tuple(entries), pos=self.position(token))

    def _struct(self) -> ast.Expression | None:
        if self.peek().type is not TokenType.LPAREN:
            return None
        return self.first_of(self._struct_constructor, self._named)

    def _struct_constructor(self) -> ast.Expression:
        token = self.advance()
        self.advance()
        fields = []
        while not self.at(TokenType.RPAREN) or fields:
            name = self.identifier()
            self.expect(TokenType.ASSIGN)
            fields.append((name, self.expression()))
            if not self.match(TokenType.COMMA):
                break
        self.expect_closing(TokenType.RPAREN)
        return ast.StructConstructor(tuple(fields), pos=self.position(token))

    # Primary rules keyed by keyword; None marks a keyword that can also be a plain name.
    KEYWORD_PRIMARIES: dict[str, Callable[[ExpressionParser], ast.Expression | None] | None] = {
        "NULL": _keyword_literal, "TRUE": _keyword_literal, "FALSE": _keyword_literal, "CASE": _case,
        "CAST": _cast, "ARRAY": _array, "MAP": _map, "STRUCT": _struct,
    }
    # Primary rules keyed by token type.
    TOKEN_PRIMARIES: dict[TokenType, Callable[[ExpressionParser], ast.Expression]] = {
        TokenType.INTEGER: _number, TokenType.DECIMAL: _number, TokenType.DOUBLE: _number,
        TokenType.MINUS: _minus, TokenType.STRING: _string, TokenType.VARIABLE: _variable,
        TokenType.LPAREN: _parenthesized,
    }

    # --------------------------------------------------------------------------- literals, numbers

    def expect_closing(self, type_: TokenType) -> Token:
        """Consume a closing `)` or `]`, reporting "missing ')' at ','" the way ksqlDB does."""
        if self.at(type_):
            return self.advance()
        return self.fail_expected([type_.value])

    def literal(self) -> ast.Literal:
        """literal: NULL, a number (optionally negative), TRUE, FALSE, a string or ${variable}."""
        token = self.cur
        if token.is_word("NULL", "TRUE", "FALSE"):
            return self._keyword_literal()  # type: ignore[return-value]
        if token.type in _NUMBER_TYPES or (token.type is TokenType.MINUS
                                           and self.peek().type in _NUMBER_TYPES):
            return self._number()  # type: ignore[return-value]
        if token.type is TokenType.STRING:
            return self._string()  # type: ignore[return-value]
        if token.type is TokenType.VARIABLE:
            self.advance()
            return ast.VariableRef(token.value, pos=self.position(token))
        return self.fail_expected(["'NULL'", "'TRUE'", "'FALSE'", "STRING", "VARIABLE", *_NUMBER_NAMES])

    def integer_number(self, context: str) -> int:
        """number rule where ksqlDB needs a whole number (LIMIT, sizes, DECIMAL(p, s))."""
        token = self.cur
        if not (token.type in _NUMBER_TYPES or (token.type is TokenType.MINUS
                                                and self.peek().type in _NUMBER_TYPES)):
            self.fail_expected(_NUMBER_NAMES)
        literal = self._number()
        if not isinstance(literal, ast.IntegerLiteral):
            self.fail(token, f"Value must be integer for command: {context}", stage="prepare")
        return literal.value

    def window_unit(self) -> str:
        """windowUnit: DAY(S), HOUR(S), MINUTE(S), SECOND(S), MILLISECOND(S), as the plural name."""
        token = self.cur
        if token.type is TokenType.WORD and token.value in WINDOW_UNITS:
            self.advance()
            return WINDOW_UNITS[token.value]
        return self.fail_expected(f"'{unit}'" for unit in WINDOW_UNITS)

    def duration(self, context: str = "WINDOW") -> ast.Duration:
        """number windowUnit, e.g. `10 SECONDS`."""
        token = self.cur
        value = self.integer_number(context)
        return ast.Duration(value, self.window_unit(), pos=self.position(token))

    # ----------------------------------------------------------------------------------------- types

    def type_spec(self) -> ast.TypeSpec:
        """type: ARRAY<T>, MAP<K, V>, STRUCT<name T, ...>, DECIMAL(p, s), a primitive or custom name."""
        type_ = self._base_type()
        while self.at_word("ARRAY") and self.peek().type is not TokenType.LT:
            self.advance()
            type_ = ast.ArrayType(type_, pos=type_.pos)
        return type_

    def _base_type(self) -> ast.TypeSpec:
        token = self.cur
        pos = self.position(token)
        generic = self.peek().type is TokenType.LT
        if token.is_word("STRUCT") and self.peek().type is TokenType.NEQ:  # STRUCT<> lexes as '<>'
            self.index += 2
            return ast.StructType((), pos=pos)
        if token.is_word("ARRAY") and generic:
            self.index += 2
            element = self.type_spec()
            self.expect(TokenType.GT)
            return ast.ArrayType(element, pos=pos)
        if token.is_word("MAP") and generic:
            self.index += 2
            key = self.type_spec()
            self.expect(TokenType.COMMA)
            value = self.type_spec()
            self.expect(TokenType.GT)
            return ast.MapType(key, value, pos=pos)
        if token.is_word("STRUCT") and generic:
            self.index += 2
            fields = []
            while not self.at(TokenType.GT) or fields:
                field_token = self.cur
                name = self.identifier()
                fields.append(ast.StructField(name, self.type_spec(), pos=self.position(field_token)))
                if not self.match(TokenType.COMMA):
                    break
            self.expect(TokenType.GT, "','")
            return ast.StructType(tuple(fields), pos=pos)
        if token.is_word("DECIMAL"):
            self.advance()
            self.expect(TokenType.LPAREN)
            precision = self.integer_number("DECIMAL(PRECISION)")
            self.expect(TokenType.COMMA)
            scale = self.integer_number("DECIMAL(SCALE)")
            self.expect_closing(TokenType.RPAREN)
            return ast.DecimalType(precision, scale, pos=pos)
        if not self.at_identifier():
            return self.fail_no_viable()
        name = self.identifier()
        if self.match(TokenType.LPAREN):  # type parameters such as VARCHAR(10): accepted, ignored
            while True:
                if not (self.at(TokenType.INTEGER) or self.at_word("STRING")):
                    self.fail_expected(["'STRING'", "INTEGER_VALUE"])
                self.advance()
                if not self.match(TokenType.COMMA):
                    break
            self.expect(TokenType.RPAREN, "','")
        canonical = ast.PRIMITIVE_TYPE_NAMES.get(name.upper())
        if canonical is not None:
            return ast.PrimitiveType(canonical, pos=pos)
        return ast.CustomType(name, pos=pos)
