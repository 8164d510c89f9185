"""Expressions as ksqlDB prints them inside its error messages (ExpressionFormatter).

This is not `labkit.sql.render` (which gives re-parsable, canonical SQL): ksqlDB's own rendering wraps
binary operations in parentheses, writes `MAP('a':=1)`, `(X IS NULL)`, DOUBLE literals in scientific
notation and booleans in lower case, and messages quote those texts verbatim, e.g.
"Cannot compare ID (INTEGER) to 'x' (STRING) with EQUAL." or "partitioning expression ABS(INPUT.ID)".
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from labkit.engine.types import SqlType
from labkit.sql import ast

__all__ = ["expression_text", "COMPARISON_NAMES"]

COMPARISON_NAMES = {"=": "EQUAL", "<>": "NOT_EQUAL", "<": "LESS_THAN", "<=": "LESS_THAN_OR_EQUAL",
                    ">": "GREATER_THAN", ">=": "GREATER_THAN_OR_EQUAL", "IS DISTINCT FROM": "IS_DISTINCT_FROM",
                    "IS NOT DISTINCT FROM": "IS_NOT_DISTINCT_FROM"}
"""ksqlDB's ComparisonExpression.Type names, used in "Cannot compare ... with EQUAL."."""


def _double(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0E0"
    d = Decimal(repr(value)).normalize()
    sign, digits, exponent = d.as_tuple()
    text = "".join(map(str, digits))
    exp = len(text) + int(exponent) - 1
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return ("-" if sign else "") + f"{mantissa}E{exp}"


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _binary(op: str, left: ast.Expression, right: ast.Expression) -> str:
    return f"({expression_text(left)} {op} {expression_text(right)})"


def _type(spec: ast.TypeSpec) -> str:
    from labkit.engine.schema import sql_type  # local: schema imports nothing from here

    try:
        return str(sql_type(spec))
    except Exception:  # noqa: BLE001 - an unknown custom type is printed by name
        return getattr(spec, "name", "?")


def _function(node: ast.FunctionCall) -> str:
    args = "*" if node.star or (not node.args and node.name == "COUNT") else ", ".join(
        expression_text(a) for a in node.args)
    return f"{node.name}({args})"


def _case(node: ast.SearchedCase | ast.SimpleCase) -> str:
    parts = ["CASE"]
    if isinstance(node, ast.SimpleCase):
        parts.append(expression_text(node.operand))
    for when in node.whens:
        parts.append(f"WHEN {expression_text(when.condition)} THEN {expression_text(when.result)}")
    if node.default is not None:
        parts += ["ELSE", expression_text(node.default)]
    parts.append("END")
    return "(" + " ".join(parts) + ")"


def _unary(node: ast.ArithmeticUnary) -> str:
    value = expression_text(node.operand)
    if node.op == "-":
        return "-" + (" " if value.startswith("-") else "") + value
    return "+" + value


def _comparison(node: ast.Comparison) -> str:
    op = {"IS NOT DISTINCT FROM": "IS NOT DISTINCT FROM"}.get(node.op, node.op)
    return _binary(op, node.left, node.right)


_FORMATTERS: dict[type, Callable[[Any], str]] = {
    ast.NullLiteral: lambda n: "null",
    ast.BooleanLiteral: lambda n: "true" if n.value else "false",
    ast.IntegerLiteral: lambda n: str(n.value),
    ast.DecimalLiteral: lambda n: str(n.value),
    ast.DoubleLiteral: lambda n: _double(n.value),
    ast.StringLiteral: lambda n: _string(n.value),
    ast.VariableRef: lambda n: "${" + n.name + "}",
    ast.ColumnRef: lambda n: n.name if n.source is None else f"{n.source}.{n.name}",
    ast.LambdaVariable: lambda n: n.name,
    ast.IntervalUnit: lambda n: n.unit,
    ast.FunctionCall: _function,
    ast.Lambda: lambda n: "(" + ", ".join(n.params) + ") => " + expression_text(n.body),
    ast.ArithmeticUnary: _unary,
    ast.ArithmeticBinary: lambda n: _binary(n.op, n.left, n.right),
    ast.LogicalBinary: lambda n: _binary(n.op, n.left, n.right),
    ast.Not: lambda n: f"(NOT {expression_text(n.operand)})",
    ast.Comparison: _comparison,
    ast.Between: lambda n: (f"({expression_text(n.value)} {'NOT ' if n.negated else ''}BETWEEN "
                            f"{expression_text(n.lower)} AND {expression_text(n.upper)})"),
    ast.InList: lambda n: (f"({expression_text(n.value)} {'NOT ' if n.negated else ''}IN ("
                           + ", ".join(expression_text(i) for i in n.items) + "))"),
    ast.Like: lambda n: (f"({expression_text(n.value)} {'NOT ' if n.negated else ''}LIKE "
                         f"{expression_text(n.pattern)}" + (f" ESCAPE '{n.escape}'" if n.escape else "") + ")"),
    ast.IsNull: lambda n: f"({expression_text(n.value)} IS {'NOT ' if n.negated else ''}NULL)",
    ast.SearchedCase: _case,
    ast.SimpleCase: _case,
    ast.Cast: lambda n: f"CAST({expression_text(n.expression)} AS {_type(n.type)})",
    ast.Subscript: lambda n: f"{expression_text(n.base)}[{expression_text(n.index)}]",
    ast.Dereference: lambda n: f"{expression_text(n.base)}->{n.field}",
    ast.ArrayConstructor: lambda n: "ARRAY[" + ", ".join(expression_text(i) for i in n.items) + "]",
    ast.MapConstructor: lambda n: "MAP(" + ", ".join(f"{expression_text(k)}:={expression_text(v)}"
                                                     for k, v in n.entries) + ")",
    ast.StructConstructor: lambda n: "STRUCT(" + ", ".join(f"{k}:={expression_text(v)}" for k, v in n.fields) + ")",
}


def expression_text(node: ast.Expression) -> str:
    """`node` as ksqlDB's ExpressionFormatter prints it."""
    return _FORMATTERS[type(node)](node)


def type_text(t: SqlType | None) -> str:
    """A type as messages print it ('null' for the NULL literal's missing type)."""
    return "null" if t is None else str(t)
