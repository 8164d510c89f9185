"""ksqlDB statements: a recursive-descent parser driven by a table keyed by each statement's first word.

`parse(sql)` reads a script of `;`-separated statements; every statement keeps its original text
(`statement.text`, with its `;`) because the REST API echoes it as `statementText`. A few checks that
ksqlDB makes while building its syntax tree are made here too, with ksqlDB's messages: source-name
characters, KEY vs PRIMARY KEY, HEADER(S) column types, LIMIT in CREATE ... AS SELECT, INSERT VALUES
counts, and qualifiers that name no source of the statement.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from labkit.sql import ast
from labkit.sql.errors import SqlParseError
from labkit.sql.queries import QueryParser
from labkit.sql.render import render
from labkit.sql.tokens import Token, TokenType, excerpt, tokenize

__all__ = ["Parser", "MAX_TREE_DEPTH", "parse", "parse_statement", "parse_expression", "parse_type", "parse_columns"]

T = TypeVar("T")

#: Deepest syntax tree a statement may have. The parser and the engine walk trees recursively; ksqlDB's own
#: limit is the JVM's stack. 200 levels is far beyond any hand-written statement.
MAX_TREE_DEPTH = 200

_HEADERS_TYPE = ast.ArrayType(ast.StructType((ast.StructField("KEY", ast.PrimitiveType("STRING")),
                                              ast.StructField("VALUE", ast.PrimitiveType("BYTES")))))
_KEY_ADVICE = ("Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
               "Streams have KEYs, which have no uniqueness or NON NULL constraints.")


def _type_text(type_: ast.TypeSpec) -> str:
    """A type as ksqlDB prints it in messages (struct fields back-quoted)."""
    if isinstance(type_, ast.ArrayType):
        return f"ARRAY<{_type_text(type_.element)}>"
    if isinstance(type_, ast.MapType):
        return f"MAP<{_type_text(type_.key)}, {_type_text(type_.value)}>"
    if isinstance(type_, ast.StructType):
        return "STRUCT<" + ", ".join(f"`{f.name}` {_type_text(f.type)}" for f in type_.fields) + ">"
    if isinstance(type_, ast.DecimalType):
        return f"DECIMAL({type_.precision}, {type_.scale})"
    return type_.name  # type: ignore[attr-defined, no-any-return]


class Parser(QueryParser):
    """Parses statements; `STATEMENT_PARSERS` maps a statement's first word to its rule."""

    def statements(self, require_semicolon: bool = False) -> list[ast.Statement]:
        """statements: any number of `statement ;` up to the end of the text."""
        result = []
        while not self.at(TokenType.EOF):
            if self.match(TokenType.SEMICOLON):
                continue  # an empty statement
            result.append(self.statement_with_text(require_semicolon))
        return result

    def statement_with_text(self, require_semicolon: bool = False) -> ast.Statement:
        """One statement and its terminating `;`, with `text` set to the source text."""
        first = self.cur
        self.follow = []
        statement = self.statement()
        if not self.match(TokenType.SEMICOLON) and (require_semicolon or not self.at(TokenType.EOF)):
            self.fail_expected([*self.follow, "';'"])
        self._check_depth(statement, first)
        self._check_qualifiers(statement)
        return dataclasses.replace(statement, text=self.text_from(first))

    def statement(self) -> ast.Statement:
        """statement: dispatched on its first word."""
        token = self.cur
        rule = self.STATEMENT_PARSERS.get(token.value) if token.type is TokenType.WORD else None
        if rule is None:
            self.fail_unknown_statement()
        statement = rule(self)
        return statement if statement.pos else dataclasses.replace(statement, pos=self.position(token))

    # ---------------------------------------------------------------------------------------- CREATE

    def _create(self) -> ast.Statement:
        self.advance()
        or_replace = self.match_words("OR", "REPLACE")
        if not or_replace:
            if self.match_word("TYPE"):
                return self._create_type()
            if self.at_word("SINK") or (self.at_word("SOURCE") and self.peek().is_word("CONNECTOR")):
                return self._create_connector()
        is_source = self.match_word("SOURCE") is not None
        kind = self.match_word("STREAM", "TABLE")
        if kind is None:
            return self.fail_no_viable()
        if_not_exists = self.match_words("IF", "NOT", "EXISTS")
        name = self.source_name()
        elements = self.table_elements() if self.at(TokenType.LPAREN) else ()
        properties = self.with_properties() if self.at_word("WITH") else ()
        if self.at_word("AS") and not elements and not is_source:
            self.advance()
            query = self.query()
            if query.limit is not None:
                self.fail(kind, f"CREATE {kind.value} AS SELECT statements don't support LIMIT clause.",
                          stage="prepare")
            cls = ast.CreateStreamAsSelect if kind.value == "STREAM" else ast.CreateTableAsSelect
            return cls(name, query, properties, or_replace, if_not_exists)
        if not elements and not properties:
            self.follow = ["'('", "'WITH'", "'AS'"]
        self._check_elements(kind.value, elements)
        cls2 = ast.CreateStream if kind.value == "STREAM" else ast.CreateTable
        return cls2(name, elements, properties, or_replace, if_not_exists, is_source)

    def _create_type(self) -> ast.Statement:
        if_not_exists = self.match_words("IF", "NOT", "EXISTS")
        name = self.identifier()
        self.expect_word("AS")
        return ast.CreateType(name, self.type_spec(), if_not_exists)

    def _create_connector(self) -> ast.Statement:
        kind = self.advance().value
        self.expect_word("CONNECTOR")
        if_not_exists = self.match_words("IF", "NOT", "EXISTS")
        name = self.identifier()
        return ast.CreateConnector(name, kind, self.with_properties(), if_not_exists)

    def table_elements(self) -> tuple[ast.TableElement, ...]:
        """'(' name type [KEY | PRIMARY KEY | HEADERS | HEADER('key')], ... ')'."""
        self.expect(TokenType.LPAREN)
        elements = [self.table_element()]
        while self.match(TokenType.COMMA):
            elements.append(self.table_element())
        if not self.at(TokenType.RPAREN):
            self.fail_expected(["','", "')'"])
        self.advance()
        return tuple(elements)

    def table_element(self) -> ast.TableElement:
        """One column definition."""
        token = self.cur
        name = self.identifier()
        type_ = self.type_spec()
        constraint = header_key = None
        if self.match_words("PRIMARY", "KEY"):
            constraint = "PRIMARY KEY"
        elif self.match_word("KEY", "HEADERS"):
            constraint = self.tokens[self.index - 1].value
        elif self.match_word("HEADER"):
            constraint = "HEADER"
            self.expect(TokenType.LPAREN)
            header_key = self.expect(TokenType.STRING).value.strip()
            self.expect_closing(TokenType.RPAREN)
        return ast.TableElement(name, type_, constraint, header_key, pos=self.position(token))

    def _check_elements(self, kind: str, elements: tuple[ast.TableElement, ...]) -> None:
        wrong, right = ("KEY", "PRIMARY KEY") if kind == "TABLE" else ("PRIMARY KEY", "KEY")
        for element in elements:
            pos = element.pos
            assert pos is not None
            if element.constraint == wrong:
                self._fail_at(pos, "plain", f"Line: {pos.line}, Col: {pos.column}: Column `{element.name}` "
                                            f"is a '{wrong}' column: please use '{right}' for "
                                            f"{kind.lower()}s.\n{_KEY_ADVICE}")
            got = _type_text(element.type)
            if element.constraint == "HEADER" and element.type != ast.PrimitiveType("BYTES"):
                self._fail_at(pos, "prepare", f"Invalid type for HEADER('{element.header_key}') column: "
                                              f"expected BYTES, got {got}")
            if element.constraint == "HEADERS" and element.type != _HEADERS_TYPE:
                self._fail_at(pos, "prepare", f"Invalid type for HEADERS column: expected "
                                              f"{_type_text(_HEADERS_TYPE)}, got {got}")

    def with_properties(self) -> tuple[ast.Property, ...]:
        """WITH '(' name = literal, ... ')'; unquoted names upper-cased, 'quoted' names kept."""
        self.expect_word("WITH")
        self.expect(TokenType.LPAREN)
        properties = []
        while True:
            token = self.cur
            name = self.advance().value if self.at(TokenType.STRING) else self.identifier()
            self.expect(TokenType.EQ)
            value = self.literal()
            earlier = next((p for p in properties if p.name == name), None)
            if earlier is not None:
                self.fail(token, f"Multiple entries with same key: {name}={render(earlier.value)} and "
                                 f"{name}={render(value)}", stage="prepare")
            properties.append(ast.Property(name, value, pos=self.position(token)))
            if not self.match(TokenType.COMMA):
                break
        self.expect_closing(TokenType.RPAREN)
        return tuple(properties)

    # ------------------------------------------------------------------------ INSERT, DROP, ALTER

    def _insert(self) -> ast.Statement:
        self.advance()
        self.expect_word("INTO")
        target = self.source_name()
        if self.at_word("WITH", "SELECT"):
            properties = self.with_properties() if self.at_word("WITH") else ()
            return ast.InsertInto(target, self.query(), properties)
        columns: list[str] = []
        if self.match(TokenType.LPAREN):
            columns.append(self.identifier())
            while self.match(TokenType.COMMA):
                columns.append(self.identifier())
            self.expect(TokenType.RPAREN, "','")
        values_token = self.cur
        if not self.at_word("VALUES"):
            self.fail_expected(["'VALUES'"] if columns else ["'('", "'VALUES'", "'WITH'", "'SELECT'"])
        self.advance()
        self.expect(TokenType.LPAREN)
        values = []
        if not self.at(TokenType.RPAREN):
            values.append(self.value_expression())
            while self.match(TokenType.COMMA):
                values.append(self.value_expression())
        self.expect_closing(TokenType.RPAREN)
        if not values:
            self.fail(values_token, "Expected some values for INSERT INTO statement.", stage="prepare")
        if columns and len(columns) != len(values):
            self.fail(values_token, f"Expected number columns and values to match: {len(columns)}, "
                                    f"{len(values)}", stage="prepare")
        return ast.InsertValues(target, tuple(columns), tuple(values))

    def _drop(self) -> ast.Statement:
        self.advance()
        kind = self.match_word("STREAM", "TABLE", "CONNECTOR", "TYPE")
        if kind is None:
            return self.fail_no_viable()
        if_exists = self.match_words("IF", "EXISTS")
        if kind.value == "CONNECTOR":
            return ast.DropConnector(self.identifier(), if_exists)
        if kind.value == "TYPE":
            return ast.DropType(self.identifier(), if_exists)
        name = self.source_name()
        delete_topic = self.match_words("DELETE", "TOPIC")
        if not delete_topic:
            self.follow = ["'DELETE'"]
        cls = ast.DropStream if kind.value == "STREAM" else ast.DropTable
        return cls(name, if_exists, delete_topic)

    def _alter(self) -> ast.Statement:
        self.advance()
        if self.match_word("SYSTEM"):
            name, value = self._string_assignment()
            return ast.AlterSystemProperty(name, value)
        kind = self.match_word("STREAM", "TABLE")
        if kind is None:
            return self.fail_no_viable()
        name = self.source_name()
        options = [self._alter_option()]
        while self.match(TokenType.COMMA):
            options.append(self._alter_option())
        return ast.AlterSource(kind.value, name, tuple(options))

    def _alter_option(self) -> ast.AlterOption:
        token = self.expect_word("ADD")
        self.match_word("COLUMN")
        name = self.identifier()
        return ast.AlterOption(name, self.type_spec(), pos=self.position(token))

    # ----------------------------------------------------------------------- SHOW, LIST, DESCRIBE

    def _show(self) -> ast.Statement:
        self.advance()
        token = self.cur
        rule = self.SHOW_PARSERS.get(token.value) if token.type is TokenType.WORD else None
        if rule is None:
            return self.fail_no_viable()
        self.advance()
        return rule(self)

    def _extended(self) -> bool:
        return self.match_word("EXTENDED") is not None

    def _show_topics(self) -> ast.Statement:
        all_topics = self.tokens[self.index - 1].value == "ALL"
        if all_topics:
            self.expect_word("TOPICS")
        return ast.ListTopics(all_topics, self._extended())

    def _show_connectors(self) -> ast.Statement:
        scope = self.tokens[self.index - 1].value
        if scope == "CONNECTOR":
            self.expect_word("PLUGINS")
            return ast.ListConnectorPlugins()
        if scope != "CONNECTORS":
            self.expect_word("CONNECTORS")
            return ast.ListConnectors(scope)
        return ast.ListConnectors()

    SHOW_PARSERS: dict[str, Callable[[Parser], ast.Statement]] = {
        "PROPERTIES": lambda self: ast.ListProperties(),
        "ALL": _show_topics,
        "TOPICS": _show_topics,
        "STREAMS": lambda self: ast.ListStreams(self._extended()),
        "TABLES": lambda self: ast.ListTables(self._extended()),
        "QUERIES": lambda self: ast.ListQueries(self._extended()),
        "FUNCTIONS": lambda self: ast.ListFunctions(),
        "TYPES": lambda self: ast.ListTypes(),
        "VARIABLES": lambda self: ast.ListVariables(),
        "CONNECTORS": _show_connectors,
        "SOURCE": _show_connectors,
        "SINK": _show_connectors,
        "CONNECTOR": _show_connectors,
    }

    def _describe(self) -> ast.Statement:
        self.advance()
        if self.match_word("STREAMS"):
            return ast.DescribeStreams(self._extended())
        if self.at_word("FUNCTION") and self.at_identifier(1):
            self.advance()
            return ast.DescribeFunction(self.identifier())
        if self.match_word("CONNECTOR"):
            return ast.DescribeConnector(self.identifier())
        token = self.cur
        name = self.source_name()
        extended = self._extended()
        if token.is_word("TABLES"):  # DESCRIBE TABLES, unless the name is quoted
            return ast.DescribeTables(extended)
        return ast.DescribeSource(name, extended)

    # ------------------------------------------------------------- PRINT, TERMINATE, PAUSE, RESUME

    def resource_name(self) -> str:
        """resourceName: a 'string' or an identifier whose case is kept even when unquoted."""
        token = self.cur
        if self.at(TokenType.STRING, TokenType.DIGIT_IDENTIFIER) or (self.at(TokenType.WORD)
                                                                     and self.at_identifier()):
            self.advance()
            return token.value if token.type is TokenType.STRING else token.text
        return self.identifier()

    def _print(self) -> ast.Statement:
        self.advance()
        topic = self.resource_name()
        from_beginning = self.match_words("FROM", "BEGINNING")
        interval = self.integer_number("INTERVAL") if self.match_word("INTERVAL", "SAMPLE") else None
        limit = self.integer_number("LIMIT") if self.match_word("LIMIT") else None
        return ast.PrintTopic(topic, from_beginning, interval, limit)

    def _query_control(self, cls: type[ast.TerminateQuery | ast.PauseQuery | ast.ResumeQuery]) \
            -> ast.Statement:
        self.advance()
        if self.match_word("ALL"):
            return cls()
        return cls(self.identifier())

    # --------------------------------------------------------------- SET, UNSET, DEFINE, UNDEFINE

    def _string_assignment(self) -> tuple[str, str]:
        name = self.expect(TokenType.STRING).value
        self.expect(TokenType.EQ)
        return name, self.expect(TokenType.STRING).value

    def _set(self) -> ast.Statement:
        self.advance()
        return ast.SetProperty(*self._string_assignment())

    def _unset(self) -> ast.Statement:
        self.advance()
        return ast.UnsetProperty(self.expect(TokenType.STRING).value)

    def _variable_name(self) -> str:
        # ksqlDB accepts any word here, even a reserved one, and keeps its case.
        if not self.at(TokenType.WORD):
            self.fail_expected(["IDENTIFIER"])
        return self.advance().text

    def _define(self) -> ast.Statement:
        self.advance()
        name = self._variable_name()
        self.expect(TokenType.EQ)
        return ast.DefineVariable(name, self.expect(TokenType.STRING).value)

    def _undefine(self) -> ast.Statement:
        self.advance()
        return ast.UndefineVariable(self._variable_name())

    # ----------------------------------------------------------------------------- EXPLAIN, ASSERT

    def _explain(self) -> ast.Statement:
        self.advance()

        def inner_statement() -> ast.Statement:
            first = self.cur
            statement = self.statement()
            self._check_qualifiers(statement)
            if not self.at(TokenType.SEMICOLON, TokenType.EOF):
                self.fail_expected([*self.follow, "';'"])
            return dataclasses.replace(statement, text=self.text_from(first))

        def query_id() -> ast.Statement:
            return ast.Explain(query_id=self.identifier())

        if self.cur.type is TokenType.WORD and self.cur.value in self.STATEMENT_PARSERS:
            result = self.first_of(lambda: ast.Explain(statement=inner_statement()), query_id)
        else:
            result = query_id()
        self.follow = []
        return result

    def _assert(self) -> ast.Statement:
        self.advance()
        exists = not self.match_words("NOT", "EXISTS")
        if self.match_word("TOPIC"):
            topic = self.resource_name()
            properties = self.with_properties() if self.at_word("WITH") else ()
            return ast.AssertTopic(topic, properties, self._timeout(), exists)
        if not self.at_word("SCHEMA"):
            return self.fail_no_viable()
        token = self.advance()
        subject = self.resource_name() if self.match_word("SUBJECT") else None
        schema_id = None
        if self.match_word("ID"):
            literal_token = self.cur
            literal = self.literal()
            if not isinstance(literal, ast.IntegerLiteral) or literal.sql_type != "INTEGER":
                self.fail(literal_token, "ID must be an integer", stage="prepare")
            schema_id = literal.value
        timeout = self._timeout()
        if subject is None and schema_id is None:
            self.fail(token, "ASSERT SCHEMA statements much include a subject name or an id", stage="prepare")
        return ast.AssertSchema(subject, schema_id, timeout, exists)

    def _timeout(self) -> ast.Duration | None:
        return self.duration("TIMEOUT") if self.match_word("TIMEOUT") else None

    STATEMENT_PARSERS: dict[str, Callable[[Parser], ast.Statement]] = {
        "SELECT": lambda self: self.query(),
        "CREATE": _create,
        "INSERT": _insert,
        "DROP": _drop,
        "ALTER": _alter,
        "SHOW": _show,
        "LIST": _show,
        "DESCRIBE": _describe,
        "PRINT": _print,
        "TERMINATE": lambda self: self._query_control(ast.TerminateQuery),
        "PAUSE": lambda self: self._query_control(ast.PauseQuery),
        "RESUME": lambda self: self._query_control(ast.ResumeQuery),
        "SET": _set,
        "UNSET": _unset,
        "DEFINE": _define,
        "UNDEFINE": _undefine,
        "EXPLAIN": _explain,
        "ASSERT": _assert,
    }

    # ------------------------------------------------------------------------------------- checks

    def _fail_at(self, pos: ast.Position, stage: str, message: str) -> None:
        raise SqlParseError(message, pos.line, pos.column, excerpt(self.sql, pos.line, pos.column),
                            stage=stage)

    def _check_depth(self, statement: ast.Statement, first: Token) -> None:
        """Refuse a syntax tree deeper than MAX_TREE_DEPTH: the engine walks trees recursively."""
        if ast.tree_depth(statement) > MAX_TREE_DEPTH:
            raise too_deep(self.sql, first)

    def _check_qualifiers(self, statement: ast.Statement) -> None:
        """ksqlDB rejects `x.col` and `x.*` when no source or alias of the statement is called x."""
        nodes = list(ast.iter_nodes(statement))
        known = {name for node in nodes if isinstance(node, ast.AliasedSource)
                 for name in (node.name, node.alias) if name}
        for node in nodes:
            qualifier = node.source if isinstance(node, (ast.ColumnRef, ast.AllColumns)) else None
            if qualifier and qualifier not in known and not qualifier.startswith("${") and node.pos:
                self._fail_at(node.pos, "prepare", f"'{qualifier}' is not a valid stream/table name or alias.")


def too_deep(sql: str, token: Token) -> SqlParseError:
    """The error for a statement nested deeper than the parser and engine follow."""
    return SqlParseError(f"The statement is nested too deeply for the parser (expressions or types more "
                         f"than {MAX_TREE_DEPTH} levels deep, or brackets and function calls nested dozens "
                         "deep): split it up, for example into several queries or shorter chains of operators.", token.line, token.column,
                         excerpt(sql, token.line, token.column, token.end - token.start), stage="plain")


def _parser(sql: str) -> Parser:
    return Parser(sql, tokenize(sql))


def _guarded(parser: Parser, rule: Callable[[], T]) -> T:
    """Run a parser rule; running out of stack on deep nesting becomes a SqlParseError, not a crash."""
    try:
        return rule()
    except RecursionError:
        raise too_deep(parser.sql, parser.cur) from None


def parse(sql: str, *, require_semicolon: bool = False) -> list[ast.Statement]:
    """Parse a script of `;`-separated statements; each keeps its source text in `.text`.

    With `require_semicolon`, the last statement must end with `;` as ksqlDB's REST API demands.

    >>> [type(s).__name__ for s in parse("SHOW STREAMS; SELECT * FROM orders EMIT CHANGES;")]
    ['ListStreams', 'Query']
    """
    parser = _parser(sql)
    return _guarded(parser, lambda: parser.statements(require_semicolon))


def parse_statement(sql: str) -> ast.Statement:
    """Parse exactly one statement (the `;` is optional)."""
    parser = _parser(sql)
    statements = _guarded(parser, parser.statements)
    if len(statements) != 1:
        token: Token = parser.tokens[-1]
        if len(statements) > 1:
            second = statements[1]
            assert second.pos is not None
            token = next(t for t in parser.tokens if (t.line, t.column) == second.pos)
        parser.fail(token, f"Expected exactly one statement, found {len(statements)}", stage="plain")
    return statements[0]


def parse_expression(sql: str) -> ast.Expression:
    """Parse one expression, e.g. `a + 1 > b AND c IS NOT NULL`."""
    parser = _parser(sql)
    expression = _guarded(parser, parser.expression)
    if ast.tree_depth(expression) > MAX_TREE_DEPTH:
        raise too_deep(sql, parser.tokens[0])
    if not parser.at(TokenType.EOF):
        parser.fail_no_viable()
    return expression


def parse_type(sql: str) -> ast.TypeSpec:
    """Parse one type, e.g. `STRUCT<A INT, B ARRAY<STRING>>`."""
    parser = _parser(sql)
    type_ = _guarded(parser, parser.type_spec)
    if not parser.at(TokenType.EOF):
        parser.fail_no_viable()
    return type_


def parse_columns(sql: str) -> tuple[ast.TableElement, ...]:
    """Parse a column list without parentheses, e.g. "ID BIGINT KEY, NAME STRING" ("" gives ())."""
    parser = _parser(sql)
    if parser.at(TokenType.EOF):
        return ()
    elements = [_guarded(parser, parser.table_element)]
    while parser.match(TokenType.COMMA):
        elements.append(_guarded(parser, parser.table_element))
    if not parser.at(TokenType.EOF):
        parser.fail_expected(["','", "<EOF>"])
    return tuple(elements)
