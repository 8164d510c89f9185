"""Syntax tree nodes below statement level: the base classes, types and expressions.

Every node is a frozen dataclass that declares its fields once. Two nodes compare equal when their
fields do; where a node was found (`pos`) takes no part in equality, so a node compares equal to the
parse of its rendering. Identifiers are stored as ksqlDB resolves them: unquoted names upper-cased,
quoted names as written. Import nodes through `labkit.sql.ast`.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "Position", "Node", "iter_nodes", "iter_nodes_with_depth", "tree_depth", "TypeSpec", "PRIMITIVE_TYPE_NAMES", "PrimitiveType", "DecimalType",
    "ArrayType", "MapType", "StructField", "StructType", "CustomType", "Expression", "Literal", "NullLiteral",
    "BooleanLiteral", "IntegerLiteral", "DecimalLiteral", "DoubleLiteral", "StringLiteral", "VariableRef",
    "ColumnRef", "LambdaVariable", "IntervalUnit", "FunctionCall", "Lambda", "ArithmeticUnary",
    "ArithmeticBinary", "Comparison", "LogicalBinary", "Not", "Between", "InList", "Like", "IsNull",
    "WhenClause", "SearchedCase", "SimpleCase", "Cast", "Subscript", "Dereference", "ArrayConstructor",
    "MapConstructor", "StructConstructor",
]


class Position(NamedTuple):
    """Where a node starts in the SQL text: 1-based line and column."""

    line: int
    column: int


@dataclass(frozen=True)
class Node:
    """Base of every syntax tree node."""

    pos: Position | None = field(default=None, compare=False, repr=False, kw_only=True)


def iter_nodes(node: Node) -> Iterator[Node]:
    """Yield `node` and every node below it, depth first, in field order.

    Iterative rather than recursive, so a very deep tree (a long chain of `+`) cannot exhaust the stack.
    """
    for child, _ in iter_nodes_with_depth(node):
        yield child


def iter_nodes_with_depth(node: Node) -> Iterator[tuple[Node, int]]:
    """Yield (node, depth) for `node` (depth 1) and every node below it, depth first, in field order."""
    stack: list[tuple[object, int]] = [(node, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Node):
            yield value, depth
            children = [getattr(value, f.name) for f in fields(value) if f.name != "pos"]
            stack.extend((child, depth + 1) for child in reversed(children))
        elif isinstance(value, tuple):
            stack.extend((item, depth) for item in reversed(value))


def tree_depth(node: Node) -> int:
    """How many nodes deep the tree under `node` goes (1 for a leaf)."""
    return max(depth for _, depth in iter_nodes_with_depth(node))


# --------------------------------------------------------------------------------------------- types


@dataclass(frozen=True)
class TypeSpec(Node):
    """A SQL type as written; the engine turns it into its own type objects."""


PRIMITIVE_TYPE_NAMES: dict[str, str] = {
    "BOOLEAN": "BOOLEAN", "INT": "INTEGER", "INTEGER": "INTEGER", "BIGINT": "BIGINT", "DOUBLE": "DOUBLE",
    "STRING": "STRING", "VARCHAR": "STRING", "BYTES": "BYTES", "DATE": "DATE", "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP",
}
"""Primitive type names ksqlDB accepts, mapped to their canonical name (INT → INTEGER, VARCHAR → STRING)."""


@dataclass(frozen=True)
class PrimitiveType(TypeSpec):
    """BOOLEAN, INTEGER, BIGINT, DOUBLE, STRING, BYTES, DATE, TIME or TIMESTAMP (canonical names)."""

    name: str


@dataclass(frozen=True)
class DecimalType(TypeSpec):
    """DECIMAL(precision, scale)."""

    precision: int
    scale: int


@dataclass(frozen=True)
class ArrayType(TypeSpec):
    """ARRAY<element>."""

    element: TypeSpec


@dataclass(frozen=True)
class MapType(TypeSpec):
    """MAP<key, value>."""

    key: TypeSpec
    value: TypeSpec


@dataclass(frozen=True)
class StructField(Node):
    """One `name type` field of a STRUCT type."""

    name: str
    type: TypeSpec


@dataclass(frozen=True)
class StructType(TypeSpec):
    """STRUCT<name type, ...>."""

    fields: tuple[StructField, ...] = ()


@dataclass(frozen=True)
class CustomType(TypeSpec):
    """A type registered with CREATE TYPE, referred to by name."""

    name: str


# ------------------------------------------------------------------------------------------ expressions


@dataclass(frozen=True)
class Expression(Node):
    """Base of expressions."""


@dataclass(frozen=True)
class Literal(Expression):
    """Base of literal values."""


@dataclass(frozen=True)
class NullLiteral(Literal):
    """NULL."""


@dataclass(frozen=True)
class BooleanLiteral(Literal):
    """TRUE or FALSE."""

    value: bool


@dataclass(frozen=True)
class IntegerLiteral(Literal):
    """A whole number: INTEGER when it fits 32 bits, else BIGINT (see `sql_type`)."""

    value: int

    @property
    def sql_type(self) -> str:
        """INTEGER or BIGINT, as ksqlDB types the literal."""
        return "INTEGER" if -(2**31) <= self.value < 2**31 else "BIGINT"


@dataclass(frozen=True)
class DecimalLiteral(Literal):
    """A number with a point and no exponent, e.g. 1.50: a DECIMAL with the written scale."""

    value: Decimal


@dataclass(frozen=True)
class DoubleLiteral(Literal):
    """A number with an exponent, e.g. 1.5E0: a DOUBLE."""

    value: float


@dataclass(frozen=True)
class StringLiteral(Literal):
    """A single-quoted string, stored unescaped."""

    value: str


@dataclass(frozen=True)
class VariableRef(Literal):
    """`${name}` where a literal is expected; replaced by the variable's value before execution."""

    name: str


@dataclass(frozen=True)
class ColumnRef(Expression):
    """A column, optionally qualified by a source name or alias: `name` or `source.name`."""

    name: str
    source: str | None = None


@dataclass(frozen=True)
class LambdaVariable(Expression):
    """A lambda parameter used inside the lambda's body."""

    name: str


@dataclass(frozen=True)
class IntervalUnit(Expression):
    """A time unit passed as a function argument, e.g. TIMESTAMPADD(SECONDS, 5, ts); unit is plural."""

    unit: str


@dataclass(frozen=True)
class FunctionCall(Expression):
    """name(args); `star` marks COUNT(*) (whose args are empty). `a || b` parses as CONCAT(a, b)."""

    name: str
    args: tuple[Expression, ...] = ()
    star: bool = False


@dataclass(frozen=True)
class Lambda(Expression):
    """`x => body` or `(x, y) => body`, only valid as a trailing function argument."""

    params: tuple[str, ...]
    body: Expression


@dataclass(frozen=True)
class ArithmeticUnary(Expression):
    """`-operand` or `+operand` (a minus before a number literal folds into the literal)."""

    op: str
    operand: Expression


@dataclass(frozen=True)
class ArithmeticBinary(Expression):
    """left op right, op one of + - * / %."""

    op: str
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Comparison(Expression):
    """left op right, op one of = <> < <= > >= `IS DISTINCT FROM` `IS NOT DISTINCT FROM` (!= reads as <>)."""

    op: str
    left: Expression
    right: Expression


@dataclass(frozen=True)
class LogicalBinary(Expression):
    """left AND right, left OR right."""

    op: str
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Not(Expression):
    """NOT operand."""

    operand: Expression


@dataclass(frozen=True)
class Between(Expression):
    """value [NOT] BETWEEN lower AND upper."""

    value: Expression
    lower: Expression
    upper: Expression
    negated: bool = False


@dataclass(frozen=True)
class InList(Expression):
    """value [NOT] IN (items...)."""

    value: Expression
    items: tuple[Expression, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like(Expression):
    """value [NOT] LIKE pattern [ESCAPE 'c']."""

    value: Expression
    pattern: Expression
    escape: str | None = None
    negated: bool = False


@dataclass(frozen=True)
class IsNull(Expression):
    """value IS [NOT] NULL."""

    value: Expression
    negated: bool = False


@dataclass(frozen=True)
class WhenClause(Node):
    """WHEN condition THEN result, inside CASE."""

    condition: Expression
    result: Expression


@dataclass(frozen=True)
class SearchedCase(Expression):
    """CASE WHEN cond THEN result ... [ELSE default] END."""

    whens: tuple[WhenClause, ...]
    default: Expression | None = None


@dataclass(frozen=True)
class SimpleCase(Expression):
    """CASE operand WHEN value THEN result ... [ELSE default] END."""

    operand: Expression
    whens: tuple[WhenClause, ...]
    default: Expression | None = None


@dataclass(frozen=True)
class Cast(Expression):
    """CAST(expression AS type)."""

    expression: Expression
    type: TypeSpec


@dataclass(frozen=True)
class Subscript(Expression):
    """base[index]: array element (1-based, negative from the end) or map value."""

    base: Expression
    index: Expression


@dataclass(frozen=True)
class Dereference(Expression):
    """base->field: a field of a STRUCT."""

    base: Expression
    field: str


@dataclass(frozen=True)
class ArrayConstructor(Expression):
    """ARRAY[items...]."""

    items: tuple[Expression, ...] = ()


@dataclass(frozen=True)
class MapConstructor(Expression):
    """MAP(key := value, ...); entries are (key, value) pairs."""

    entries: tuple[tuple[Expression, Expression], ...] = ()


@dataclass(frozen=True)
class StructConstructor(Expression):
    """STRUCT(name := value, ...); fields are (name, value) pairs."""

    fields: tuple[tuple[str, Expression], ...] = ()
