"""Canonical SQL text for syntax tree nodes: upper-case keywords, identifiers quoted only when needed.

`parse(render(node))` gives back a node equal to `node`, so rendered text is safe to re-submit.
Parentheses are added only where precedence needs them; statements end with `;`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from labkit.sql import ast
from labkit.sql.tokens import RESERVED

__all__ = ["render", "quote_identifier", "render_string"]

_PLAIN_IDENTIFIER = re.compile(r"[A-Z_][A-Z0-9_@]*")
_VARIABLE_TEXT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_@]*\}")
# Names that are also constructor keywords: quoted where they could read as ARRAY[...], MAP(...), ...
_CONSTRUCTOR_WORDS = frozenset({"ARRAY", "MAP", "STRUCT"})

# Precedence tiers, loosest first, as in the grammar (see labkit.sql.expressions).
OR, AND, NOT, PREDICATE, ADDITIVE, MULTIPLICATIVE, UNARY, PRIMARY = range(1, 9)
_BINARY_PRECEDENCE = {"OR": OR, "AND": AND, "+": ADDITIVE, "-": ADDITIVE, "*": MULTIPLICATIVE,
                      "/": MULTIPLICATIVE, "%": MULTIPLICATIVE}


def quote_identifier(name: str, *, force: bool = False) -> str:
    """`name` as SQL: bare when it reads back the same (upper-case, not reserved), else back-quoted."""
    if _VARIABLE_TEXT.fullmatch(name):
        return name
    if not force and _PLAIN_IDENTIFIER.fullmatch(name) and name not in RESERVED:
        return name
    return "`" + name.replace("`", "``") + "`"


def render_string(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _precedence(node: ast.Expression) -> int:
    if isinstance(node, (ast.LogicalBinary, ast.ArithmeticBinary)):
        return _BINARY_PRECEDENCE[node.op]
    if isinstance(node, ast.Not):
        return NOT
    if isinstance(node, (ast.Comparison, ast.Between, ast.InList, ast.Like, ast.IsNull)):
        return PREDICATE
    if isinstance(node, ast.ArithmeticUnary):
        return UNARY
    return PRIMARY


def _operand(node: ast.Expression, tighter_than: int) -> str:
    """`node` rendered, in parentheses unless it binds tighter than the `tighter_than` tier."""
    text = _expression(node)
    return text if _precedence(node) > tighter_than else f"({text})"


def _value(node: ast.Expression) -> str:
    """`node` where the grammar wants a valueExpression (no predicate or boolean operator)."""
    return _operand(node, PREDICATE)


# ----------------------------------------------------------------------------------------- expressions


def _double(value: float) -> str:
    text = repr(value).upper()
    return text if "E" in text else text + "E0"


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." in text else text + "."


def _unary(node: ast.ArithmeticUnary) -> str:
    # `-5` would read back as a negative literal and `--` as a comment: such operands get parentheses.
    text = _expression(node.operand)
    if _precedence(node.operand) <= UNARY or text[0] in "0123456789.+-":
        return f"{node.op}({text})"
    return node.op + text


def _binary(node: ast.LogicalBinary | ast.ArithmeticBinary) -> str:
    tier = _BINARY_PRECEDENCE[node.op]
    return f"{_operand(node.left, tier - 1)} {node.op} {_operand(node.right, tier)}"


def _postfix_base(node: ast.Expression) -> str:
    if isinstance(node, ast.ColumnRef) and node.source is None and node.name in _CONSTRUCTOR_WORDS:
        return quote_identifier(node.name, force=True)
    if isinstance(node, (ast.IntegerLiteral, ast.DecimalLiteral, ast.DoubleLiteral)) and node.value < 0:
        return f"({_expression(node)})"
    return _operand(node, UNARY)


def _function(node: ast.FunctionCall) -> str:
    name = quote_identifier(node.name, force=node.name in _CONSTRUCTOR_WORDS)
    if node.star:
        return f"{name}(*)"
    return f"{name}({', '.join(_expression(arg) for arg in node.args)})"


def _lambda(node: ast.Lambda) -> str:
    params = [quote_identifier(p) for p in node.params]
    head = params[0] if len(params) == 1 else f"({', '.join(params)})"
    return f"{head} => {_expression(node.body)}"


def _case(node: ast.SearchedCase | ast.SimpleCase) -> str:
    parts = ["CASE"]
    if isinstance(node, ast.SimpleCase):
        parts.append(_value(node.operand))
    for when in node.whens:
        parts.append(f"WHEN {_expression(when.condition)} THEN {_expression(when.result)}")
    if node.default is not None:
        parts.append(f"ELSE {_expression(node.default)}")
    parts.append("END")
    return " ".join(parts)


def _like(node: ast.Like) -> str:
    text = f"{_value(node.value)} {'NOT ' if node.negated else ''}LIKE {_value(node.pattern)}"
    return text if node.escape is None else f"{text} ESCAPE {render_string(node.escape)}"


def _column(node: ast.ColumnRef) -> str:
    name = quote_identifier(node.name)
    return name if node.source is None else f"{quote_identifier(node.source)}.{name}"


_EXPRESSION_RENDERERS: dict[type, Callable[[Any], str]] = {
    ast.NullLiteral: lambda n: "NULL",
    ast.BooleanLiteral: lambda n: "TRUE" if n.value else "FALSE",
    ast.IntegerLiteral: lambda n: str(n.value),
    ast.DecimalLiteral: lambda n: _decimal(n.value),
    ast.DoubleLiteral: lambda n: _double(n.value),
    ast.StringLiteral: lambda n: render_string(n.value),
    ast.VariableRef: lambda n: "${" + n.name + "}",
    ast.ColumnRef: _column,
    ast.LambdaVariable: lambda n: quote_identifier(n.name),
    ast.IntervalUnit: lambda n: n.unit,
    ast.FunctionCall: _function,
    ast.Lambda: _lambda,
    ast.ArithmeticUnary: _unary,
    ast.ArithmeticBinary: _binary,
    ast.LogicalBinary: _binary,
    ast.Not: lambda n: f"NOT {_operand(n.operand, AND)}",
    ast.Comparison: lambda n: f"{_value(n.left)} {n.op} {_value(n.right)}",
    ast.Between: lambda n: (f"{_value(n.value)} {'NOT ' if n.negated else ''}BETWEEN "
                            f"{_value(n.lower)} AND {_value(n.upper)}"),
    ast.InList: lambda n: (f"{_value(n.value)} {'NOT ' if n.negated else ''}IN "
                           f"({', '.join(_expression(i) for i in n.items)})"),
    ast.Like: _like,
    ast.IsNull: lambda n: f"{_value(n.value)} IS {'NOT ' if n.negated else ''}NULL",
    ast.SearchedCase: _case,
    ast.SimpleCase: _case,
    ast.Cast: lambda n: f"CAST({_expression(n.expression)} AS {_type(n.type)})",
    ast.Subscript: lambda n: f"{_postfix_base(n.base)}[{_value(n.index)}]",
    ast.Dereference: lambda n: f"{_postfix_base(n.base)}->{quote_identifier(n.field)}",
    ast.ArrayConstructor: lambda n: f"ARRAY[{', '.join(_expression(i) for i in n.items)}]",
    ast.MapConstructor: lambda n: "MAP(" + ", ".join(f"{_expression(k)} := {_expression(v)}"
                                                     for k, v in n.entries) + ")",
    ast.StructConstructor: lambda n: "STRUCT(" + ", ".join(f"{quote_identifier(k)} := {_expression(v)}"
                                                           for k, v in n.fields) + ")",
}


def _expression(node: ast.Expression) -> str:
    return _EXPRESSION_RENDERERS[type(node)](node)


# ----------------------------------------------------------------------------------------------- types


def _type(node: ast.TypeSpec) -> str:
    if isinstance(node, ast.PrimitiveType):
        return node.name
    if isinstance(node, ast.DecimalType):
        return f"DECIMAL({node.precision}, {node.scale})"
    if isinstance(node, ast.ArrayType):
        return f"ARRAY<{_type(node.element)}>"
    if isinstance(node, ast.MapType):
        return f"MAP<{_type(node.key)}, {_type(node.value)}>"
    if isinstance(node, ast.StructType):
        return "STRUCT<" + ", ".join(f"{quote_identifier(f.name)} {_type(f.type)}" for f in node.fields) + ">"
    assert isinstance(node, ast.CustomType)
    return quote_identifier(node.name, force=node.name in _CONSTRUCTOR_WORDS or node.name == "DECIMAL")


# --------------------------------------------------------------------------------------------- queries


def _duration(node: ast.Duration) -> str:
    unit = node.unit[:-1] if node.value == 1 else node.unit
    return f"{node.value} {unit}"


def _select_item(node: ast.SelectItem) -> str:
    if isinstance(node, ast.AllColumns):
        return "*" if node.source is None else f"{quote_identifier(node.source)}.*"
    if isinstance(node, ast.StructAll):
        return f"{_postfix_base(node.base)}->*"
    assert isinstance(node, ast.SingleColumn)
    text = _expression(node.expression)
    return text if node.alias is None else f"{text} AS {quote_identifier(node.alias)}"


def _source(node: ast.AliasedSource) -> str:
    name = quote_identifier(node.name)
    return name if node.alias is None else f"{name} AS {quote_identifier(node.alias)}"


_JOIN_WORDS = {"INNER": "INNER JOIN", "LEFT": "LEFT JOIN", "RIGHT": "RIGHT JOIN", "FULL": "FULL OUTER JOIN"}


def _relation(node: ast.Relation) -> str:
    if isinstance(node, ast.AliasedSource):
        return _source(node)
    assert isinstance(node, ast.Join)
    parts = [_source(node.left)]
    for join in node.joins:
        parts.append(f"{_JOIN_WORDS[join.kind]} {_source(join.source)}")
        if join.within is not None:
            parts.append(f"WITHIN {_join_window(join.within)}")
        parts.append(f"ON {_expression(join.on)}")
    return " ".join(parts)


def _join_window(node: ast.JoinWindow) -> str:
    if node.before == node.after:
        text = _duration(node.before)
    else:
        text = f"({_duration(node.before)}, {_duration(node.after)})"
    return text if node.grace is None else f"{text} GRACE PERIOD {_duration(node.grace)}"


def _window(node: ast.WindowSpec) -> str:
    if isinstance(node, ast.TumblingWindow):
        name, parts = "TUMBLING", [f"SIZE {_duration(node.size)}"]
    elif isinstance(node, ast.HoppingWindow):
        name, parts = "HOPPING", [f"SIZE {_duration(node.size)}", f"ADVANCE BY {_duration(node.advance)}"]
    else:
        assert isinstance(node, ast.SessionWindow)
        name, parts = "SESSION", [_duration(node.gap)]
    if node.retention is not None:  # type: ignore[attr-defined]
        parts.append(f"RETENTION {_duration(node.retention)}")  # type: ignore[attr-defined]
    if node.grace is not None:  # type: ignore[attr-defined]
        parts.append(f"GRACE PERIOD {_duration(node.grace)}")  # type: ignore[attr-defined]
    return f"{name} ({', '.join(parts)})"


def _query(node: ast.Query) -> str:
    parts = ["SELECT " + ", ".join(_select_item(i) for i in node.items), "FROM " + _relation(node.source)]
    if node.window is not None:
        parts.append("WINDOW " + _window(node.window))
    if node.where is not None:
        parts.append("WHERE " + _expression(node.where))
    if node.group_by is not None:
        parts.append("GROUP BY " + ", ".join(_value(e) for e in node.group_by))
    if node.partition_by is not None:
        parts.append("PARTITION BY " + ", ".join(_value(e) for e in node.partition_by))
    if node.having is not None:
        parts.append("HAVING " + _expression(node.having))
    if node.emit is not None:
        parts.append("EMIT " + node.emit)
    if node.limit is not None:
        parts.append(f"LIMIT {node.limit}")
    return " ".join(parts)


# ------------------------------------------------------------------------------------------ statements


def _properties(properties: tuple[ast.Property, ...]) -> str:
    items = []
    for prop in properties:
        plain = _PLAIN_IDENTIFIER.fullmatch(prop.name) and prop.name not in RESERVED
        name = prop.name if plain else render_string(prop.name)
        items.append(f"{name}={_expression(prop.value)}")
    return f"WITH ({', '.join(items)})"


def _element(node: ast.TableElement) -> str:
    text = f"{quote_identifier(node.name)} {_type(node.type)}"
    if node.constraint == "HEADER":
        return f"{text} HEADER({render_string(node.header_key or '')})"
    return text if node.constraint is None else f"{text} {node.constraint}"


def _words(*parts: str | None) -> str:
    return " ".join(part for part in parts if part)


def _create_source(node: ast.CreateSource) -> str:
    kind = "STREAM" if isinstance(node, ast.CreateStream) else "TABLE"
    elements = f"({', '.join(_element(e) for e in node.elements)})" if node.elements else None
    return _words("CREATE", "OR REPLACE" if node.or_replace else None, "SOURCE" if node.is_source else None,
                  kind, "IF NOT EXISTS" if node.if_not_exists else None, quote_identifier(node.name),
                  elements, _properties(node.properties) if node.properties else None)


def _create_as_select(node: ast.CreateAsSelect) -> str:
    kind = "STREAM" if isinstance(node, ast.CreateStreamAsSelect) else "TABLE"
    return _words("CREATE", "OR REPLACE" if node.or_replace else None, kind,
                  "IF NOT EXISTS" if node.if_not_exists else None, quote_identifier(node.name),
                  _properties(node.properties) if node.properties else None, "AS", _query(node.query))


def _insert_values(node: ast.InsertValues) -> str:
    columns = f"({', '.join(quote_identifier(c) for c in node.columns)})" if node.columns else None
    return _words("INSERT INTO", quote_identifier(node.target), columns,
                  f"VALUES ({', '.join(_value(v) for v in node.values)})")


def _drop_source(node: ast.DropSource) -> str:
    return _words("DROP", "STREAM" if isinstance(node, ast.DropStream) else "TABLE",
                  "IF EXISTS" if node.if_exists else None, quote_identifier(node.name),
                  "DELETE TOPIC" if node.delete_topic else None)


def _print(node: ast.PrintTopic) -> str:
    return _words("PRINT", render_string(node.topic), "FROM BEGINNING" if node.from_beginning else None,
                  None if node.interval is None else f"INTERVAL {node.interval}",
                  None if node.limit is None else f"LIMIT {node.limit}")


def _query_control(word: str, query_id: str | None) -> str:
    return f"{word} {'ALL' if query_id is None else quote_identifier(query_id)}"


def _describe_source(node: ast.DescribeSource) -> str:
    name = quote_identifier(node.name, force=node.name == "TABLES")
    return _words("DESCRIBE", name, "EXTENDED" if node.extended else None)


def _assert_schema(node: ast.AssertSchema) -> str:
    return _words("ASSERT", None if node.exists else "NOT EXISTS", "SCHEMA",
                  None if node.subject is None else f"SUBJECT {render_string(node.subject)}",
                  None if node.schema_id is None else f"ID {node.schema_id}",
                  None if node.timeout is None else f"TIMEOUT {_duration(node.timeout)}")


def _assert_topic(node: ast.AssertTopic) -> str:
    return _words("ASSERT", None if node.exists else "NOT EXISTS", "TOPIC", render_string(node.topic),
                  _properties(node.properties) if node.properties else None,
                  None if node.timeout is None else f"TIMEOUT {_duration(node.timeout)}")


def _extended(word: str, extended: bool) -> str:
    return f"{word} EXTENDED" if extended else word


_STATEMENT_RENDERERS: dict[type, Callable[[Any], str]] = {
    ast.Query: _query,
    ast.CreateStream: _create_source,
    ast.CreateTable: _create_source,
    ast.CreateStreamAsSelect: _create_as_select,
    ast.CreateTableAsSelect: _create_as_select,
    ast.InsertInto: lambda n: _words("INSERT INTO", quote_identifier(n.target),
                                     _properties(n.properties) if n.properties else None, _query(n.query)),
    ast.InsertValues: _insert_values,
    ast.CreateConnector: lambda n: _words("CREATE", n.kind, "CONNECTOR",
                                          "IF NOT EXISTS" if n.if_not_exists else None,
                                          quote_identifier(n.name), _properties(n.properties)),
    ast.DropStream: _drop_source,
    ast.DropTable: _drop_source,
    ast.DropConnector: lambda n: _words("DROP CONNECTOR", "IF EXISTS" if n.if_exists else None,
                                        quote_identifier(n.name)),
    ast.DropType: lambda n: _words("DROP TYPE", "IF EXISTS" if n.if_exists else None,
                                   quote_identifier(n.name)),
    ast.CreateType: lambda n: _words("CREATE TYPE", "IF NOT EXISTS" if n.if_not_exists else None,
                                     quote_identifier(n.name), "AS", _type(n.type)),
    ast.AlterSource: lambda n: f"ALTER {n.kind} {quote_identifier(n.name)} " + ", ".join(
        f"ADD COLUMN {quote_identifier(o.name)} {_type(o.type)}" for o in n.options),
    ast.ListStreams: lambda n: _extended("SHOW STREAMS", n.extended),
    ast.ListTables: lambda n: _extended("SHOW TABLES", n.extended),
    ast.ListTopics: lambda n: _extended("SHOW ALL TOPICS" if n.show_all else "SHOW TOPICS", n.extended),
    ast.ListQueries: lambda n: _extended("SHOW QUERIES", n.extended),
    ast.ListProperties: lambda n: "SHOW PROPERTIES",
    ast.ListFunctions: lambda n: "SHOW FUNCTIONS",
    ast.ListTypes: lambda n: "SHOW TYPES",
    ast.ListVariables: lambda n: "SHOW VARIABLES",
    ast.ListConnectors: lambda n: "SHOW CONNECTORS" if n.scope == "ALL" else f"SHOW {n.scope} CONNECTORS",
    ast.ListConnectorPlugins: lambda n: "SHOW CONNECTOR PLUGINS",
    ast.DescribeSource: _describe_source,
    ast.DescribeStreams: lambda n: _extended("DESCRIBE STREAMS", n.extended),
    ast.DescribeTables: lambda n: _extended("DESCRIBE TABLES", n.extended),
    ast.DescribeFunction: lambda n: f"DESCRIBE FUNCTION {quote_identifier(n.name)}",
    ast.DescribeConnector: lambda n: f"DESCRIBE CONNECTOR {quote_identifier(n.name)}",
    ast.PrintTopic: _print,
    ast.TerminateQuery: lambda n: _query_control("TERMINATE", n.query_id),
    ast.PauseQuery: lambda n: _query_control("PAUSE", n.query_id),
    ast.ResumeQuery: lambda n: _query_control("RESUME", n.query_id),
    ast.SetProperty: lambda n: f"SET {render_string(n.name)}={render_string(n.value)}",
    ast.AlterSystemProperty: lambda n: f"ALTER SYSTEM {render_string(n.name)}={render_string(n.value)}",
    ast.UnsetProperty: lambda n: f"UNSET {render_string(n.name)}",
    ast.DefineVariable: lambda n: f"DEFINE {n.name}={render_string(n.value)}",
    ast.UndefineVariable: lambda n: f"UNDEFINE {n.name}",
    ast.Explain: lambda n: "EXPLAIN " + (_statement(n.statement) if n.statement is not None
                                         else quote_identifier(n.query_id)),
    ast.AssertTopic: _assert_topic,
    ast.AssertSchema: _assert_schema,
}


def _statement(node: ast.Statement) -> str:
    return _STATEMENT_RENDERERS[type(node)](node)


def render(node: ast.Node) -> str:
    """Canonical SQL for any node; statements end with `;`.

    >>> from labkit.sql import parse_statement
    >>> render(parse_statement("select name, count(*) from users group by name emit changes"))
    'SELECT NAME, COUNT(*) FROM USERS GROUP BY NAME EMIT CHANGES;'
    """
    if isinstance(node, ast.Statement):
        return _statement(node) + ";"
    if isinstance(node, ast.Expression):
        return _expression(node)
    if isinstance(node, ast.TypeSpec):
        return _type(node)
    if isinstance(node, ast.SelectItem):
        return _select_item(node)
    if isinstance(node, ast.Relation):
        return _relation(node)
    if isinstance(node, ast.WindowSpec):
        return _window(node)
    if isinstance(node, ast.TableElement):
        return _element(node)
    if isinstance(node, ast.Duration):
        return _duration(node)
    raise TypeError(f"render() does not know {type(node).__name__} nodes")
