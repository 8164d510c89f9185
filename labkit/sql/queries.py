"""The SELECT rules of the ksqlDB grammar: select items, FROM with joins, WINDOW and the later clauses.

query: SELECT items FROM relation [WINDOW w] [WHERE e] [GROUP BY g] [PARTITION BY p] [HAVING e]
[EMIT CHANGES|FINAL] [LIMIT n], clauses in this order only.
"""
from __future__ import annotations

from collections.abc import Callable

from labkit.sql import ast
from labkit.sql.expressions import ExpressionParser
from labkit.sql.tokens import KEYWORDS, TokenType

__all__ = ["QueryParser", "JOIN_KINDS"]

# First word of a join → (join kind, whether OUTER may follow).
JOIN_KINDS: dict[str, tuple[str, bool]] = {
    "JOIN": ("INNER", False), "INNER": ("INNER", False), "LEFT": ("LEFT", True),
    "RIGHT": ("RIGHT", True), "FULL": ("FULL", True),
}
# Clauses that may follow the FROM relation, in grammar order, with the words that start them.
_CLAUSE_WORDS = ("WINDOW", "WHERE", "GROUP", "PARTITION", "HAVING", "EMIT", "LIMIT")
_BARE_OPERATOR_NODES = (ast.ArithmeticBinary, ast.ArithmeticUnary, ast.Comparison, ast.LogicalBinary,
                        ast.Not, ast.Between, ast.InList, ast.Like, ast.IsNull)


class QueryParser(ExpressionParser):
    """Parses SELECT queries."""

    # Words that end a relation instead of naming its alias: ksqlDB's grammar looks one word further.
    _NOT_AN_ALIAS: dict[str, tuple[str, ...]] = {"PARTITION": ("BY",), "EMIT": ("CHANGES", "FINAL")}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.follow: list[str] = []  # what could have come after the last statement part, for errors

    def query(self) -> ast.Query:
        """query: SELECT ... FROM ... with its optional clauses."""
        start = self.expect_word("SELECT")
        items = [self.select_item()]
        while self.match(TokenType.COMMA):
            items.append(self.select_item())
        if not self.at_word("FROM"):
            self.fail_expected(["','", "'FROM'"])
        self.advance()
        source = self.relation()
        clauses: dict[str, object] = {}
        last = -1
        for position, word in enumerate(_CLAUSE_WORDS):
            if self.at_word(word) and not (word == "PARTITION" and not self.peek().is_word("BY")):
                self.advance()
                clauses[word] = self.CLAUSE_PARSERS[word](self)
                last = position
        possible = _CLAUSE_WORDS[last + 1:] if last >= 0 else (*JOIN_KINDS, *_CLAUSE_WORDS)
        self.follow = [f"'{word}'" for word in possible]
        return ast.Query(
            tuple(items), source, clauses.get("WINDOW"), clauses.get("WHERE"),  # type: ignore[arg-type]
            clauses.get("GROUP"), clauses.get("PARTITION"), clauses.get("HAVING"),  # type: ignore[arg-type]
            clauses.get("EMIT"), clauses.get("LIMIT"), pos=self.position(start),  # type: ignore[arg-type]
            text=self.text_from(start))

    def select_item(self) -> ast.SelectItem:
        """selectItem: `*`, `source.*`, `expr->*` or `expression [[AS] alias]`."""
        token = self.cur
        pos = self.position(token)
        if self.match(TokenType.STAR):
            return ast.AllColumns(pos=pos)
        if self.at_identifier() and self.peek().type is TokenType.DOT and self.peek(2).type is TokenType.STAR:
            source = self.identifier()
            self.index += 2
            return ast.AllColumns(source, pos=pos)
        expression = self.expression()
        if self.at(TokenType.ARROW) and self.peek().type is TokenType.STAR:
            if isinstance(expression, _BARE_OPERATOR_NODES):
                self.fail_no_viable()
            self.index += 2
            return ast.StructAll(expression, pos=pos)
        alias = None
        if self.match_word("AS"):
            alias = self.identifier()
        elif self.at_identifier():
            alias = self.identifier()
        return ast.SingleColumn(expression, alias, pos=pos)

    # ------------------------------------------------------------------------------------- relations

    def relation(self) -> ast.Relation:
        """relation: aliasedRelation, then any number of joins."""
        left = self.aliased_source()
        joins = []
        while self.cur.type is TokenType.WORD and self.cur.value in JOIN_KINDS:
            joins.append(self.joined_source())
        if not joins:
            return left
        return ast.Join(left, tuple(joins), pos=left.pos)

    def aliased_source(self) -> ast.AliasedSource:
        """sourceName [[AS] alias]."""
        token = self.cur
        name = self.source_name()
        alias = None
        if self.match_word("AS"):
            alias = self.source_name()
        elif self.at_identifier() and not self._ends_relation():
            alias = self.source_name()
        return ast.AliasedSource(name, alias, pos=self.position(token))

    def _ends_relation(self) -> bool:
        followers = self._NOT_AN_ALIAS.get(self.cur.value) if self.at(TokenType.WORD) else None
        return followers is not None and self.peek().is_word(*followers)

    def joined_source(self) -> ast.JoinedSource:
        """[INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER]] JOIN source [WITHIN ...] ON condition."""
        token = self.cur
        kind, outer_allowed = JOIN_KINDS[token.value]
        if token.value != "JOIN":
            self.advance()
            if outer_allowed:
                self.match_word("OUTER")
        self.expect_word("JOIN")
        source = self.aliased_source()
        within = self.join_window() if self.match_word("WITHIN") else None
        if within is None:
            self.expect_word("ON", "'WITHIN'")
        else:
            self.expect_word("ON")
        return ast.JoinedSource(kind, source, self.expression(), within, pos=self.position(token))

    def join_window(self) -> ast.JoinWindow:
        """WITHIN n UNIT | WITHIN (before, after), then optionally GRACE PERIOD n UNIT."""
        token = self.cur
        if self.match(TokenType.LPAREN):
            before = self.duration()
            self.expect(TokenType.COMMA)
            after = self.duration()
            self.expect_closing(TokenType.RPAREN)
        else:
            before = after = self.duration()
        return ast.JoinWindow(before, after, self._grace(), pos=self.position(token))

    def _grace(self) -> ast.Duration | None:
        if self.match_words("GRACE", "PERIOD"):
            return self.duration()
        return None

    # --------------------------------------------------------------------------------------- windows

    def _window(self) -> ast.WindowSpec:
        # ksqlDB allows (and ignores) a window name: WINDOW w TUMBLING (...)
        if self.cur.type is TokenType.WORD and self.cur.value not in KEYWORDS \
                and self.peek().is_word(*self.WINDOW_PARSERS):
            self.advance()
        token = self.cur
        rule = self.WINDOW_PARSERS.get(token.value) if token.type is TokenType.WORD else None
        if rule is None:
            self.fail_expected([f"'{word}'" for word in self.WINDOW_PARSERS])
        self.advance()
        self.expect(TokenType.LPAREN)
        window = rule(self)
        self.expect_closing(TokenType.RPAREN)
        return window  # type: ignore[no-any-return]

    def _window_tail(self) -> tuple[ast.Duration | None, ast.Duration | None]:
        """The optional `, RETENTION n UNIT` and `, GRACE PERIOD n UNIT` of every window."""
        retention = grace = None
        if self.at(TokenType.COMMA) and self.peek().is_word("RETENTION"):
            self.index += 2
            retention = self.duration()
        if self.at(TokenType.COMMA) and self.peek().is_word("GRACE"):
            self.index += 2
            self.expect_word("PERIOD")
            grace = self.duration()
        return retention, grace

    def _tumbling(self) -> ast.WindowSpec:
        token = self.expect_word("SIZE")
        size = self.duration()
        return ast.TumblingWindow(size, *self._window_tail(), pos=self.position(token))

    def _hopping(self) -> ast.WindowSpec:
        token = self.expect_word("SIZE")
        size = self.duration()
        self.expect(TokenType.COMMA)
        self.expect_word("ADVANCE")
        self.expect_word("BY")
        advance = self.duration()
        return ast.HoppingWindow(size, advance, *self._window_tail(), pos=self.position(token))

    def _session(self) -> ast.WindowSpec:
        token = self.cur
        gap = self.duration()
        return ast.SessionWindow(gap, *self._window_tail(), pos=self.position(token))

    WINDOW_PARSERS: dict[str, Callable[[QueryParser], ast.WindowSpec]] = {
        "TUMBLING": _tumbling, "HOPPING": _hopping, "SESSION": _session,
    }

    # ----------------------------------------------------------------------------------- the clauses

    def _grouping(self, clause: str) -> tuple[ast.Expression, ...]:
        """groupBy / partitionBy: `e, e, ...` or `(e, e, ...)`; at least one, no duplicates."""
        from labkit.sql.render import render  # the message shows expressions as SQL

        self.expect_word("BY")
        token = self.cur
        if self.at(TokenType.LPAREN):
            expressions = self.first_of(self._expression_list, self._parenthesized_list)
        else:
            expressions = self._expression_list()
        if not expressions:
            self.fail(token, f"{clause} requires at least one expression", stage="prepare")
        seen: set[ast.Expression] = set()
        for expression in expressions:
            if expression in seen:
                self.fail(token, f"Duplicate {clause} expression: {render(expression)}", stage="prepare")
            seen.add(expression)
        return expressions

    def _expression_list(self) -> tuple[ast.Expression, ...]:
        items = [self.value_expression()]
        while self.match(TokenType.COMMA):
            items.append(self.value_expression())
        return tuple(items)

    def _parenthesized_list(self) -> tuple[ast.Expression, ...]:
        self.expect(TokenType.LPAREN)
        items = []
        if not self.at(TokenType.RPAREN):
            items.append(self.value_expression())
            while self.match(TokenType.COMMA):
                items.append(self.value_expression())
        self.expect_closing(TokenType.RPAREN)
        return tuple(items)

    def _emit(self) -> str:
        token = self.match_word("CHANGES", "FINAL")
        if token is None:
            self.fail_expected(["'CHANGES'", "'FINAL'"])
        return token.value

    CLAUSE_PARSERS: dict[str, Callable[[QueryParser], object]] = {
        "WINDOW": _window,
        "WHERE": lambda self: self.expression(),
        "GROUP": lambda self: self._grouping("GROUP BY"),
        "PARTITION": lambda self: self._grouping("PARTITION BY"),
        "HAVING": lambda self: self.expression(),
        "EMIT": _emit,
        "LIMIT": lambda self: self.integer_number("LIMIT"),
    }
