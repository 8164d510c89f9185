"""Logical schemas: the key and value columns of a stream, a table or a step's output, and system columns.

A `LogicalSchema` is what ksqlDB calls one: ordered key columns, then ordered value columns (header
columns are value columns marked HEADERS). While a query runs, rows carry a *processing* schema
(`with_pseudo_and_key_cols_in_value`): the value columns, then ROWTIME, ROWPARTITION, ROWOFFSET, then
copies of the key columns (and WINDOWSTART/WINDOWEND for windowed keys), so every expression can read
any column from one flat list. Renderings follow ksqlDB: ``"`ID` INTEGER KEY, `NAME` STRING"``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from labkit.engine.types import BIGINT, INTEGER, SqlArray, SqlDecimal, SqlMap, SqlPrimitive, SqlStruct, SqlType
from labkit.errors import LabkitError
from labkit.sql import ast

__all__ = [
    "ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND", "PSEUDO_COLUMNS", "WINDOW_BOUNDS",
    "SYSTEM_COLUMNS", "Column", "LogicalSchema", "UnknownTypeError", "sql_type", "is_system_column",
]

ROWTIME, ROWPARTITION, ROWOFFSET = "ROWTIME", "ROWPARTITION", "ROWOFFSET"
WINDOWSTART, WINDOWEND = "WINDOWSTART", "WINDOWEND"
PSEUDO_COLUMNS: dict[str, SqlType] = {ROWTIME: BIGINT, ROWPARTITION: INTEGER, ROWOFFSET: BIGINT}
"""Pseudo columns every source row has, in processing-schema order."""
WINDOW_BOUNDS: dict[str, SqlType] = {WINDOWSTART: BIGINT, WINDOWEND: BIGINT}
SYSTEM_COLUMNS = (ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND)
"""Names no user column or alias may take."""


def is_system_column(name: str) -> bool:
    """ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART or WINDOWEND, exactly (a quoted `rowtime` is a user column)."""
    return name in SYSTEM_COLUMNS


class UnknownTypeError(LabkitError):
    """A column uses a custom type that was never registered with CREATE TYPE."""


@dataclass(frozen=True)
class Column:
    """One column: name (case-sensitive as stored), type, namespace KEY, VALUE or HEADERS."""

    name: str
    type: SqlType
    namespace: str = "VALUE"
    header_key: str | None = None  # HEADER('key') columns; None for HEADERS (all headers) columns

    @property
    def is_key(self) -> bool:
        return self.namespace == "KEY"


@dataclass(frozen=True)
class LogicalSchema:
    """Key columns and value columns, in order."""

    key: tuple[Column, ...] = ()
    value: tuple[Column, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        index: dict[str, int] = {}
        for i, column in enumerate(self.value):
            index.setdefault(column.name, i)
        object.__setattr__(self, "_index", index)

    @classmethod
    def of(cls, key: Iterable[tuple[str, SqlType]] = (), value: Iterable[tuple[str, SqlType]] = ()) -> "LogicalSchema":
        """Build from (name, type) pairs."""
        return cls(tuple(Column(n, t, "KEY") for n, t in key), tuple(Column(n, t) for n, t in value))

    @property
    def columns(self) -> tuple[Column, ...]:
        """Key columns then value columns."""
        return self.key + self.value

    def find(self, name: str) -> Column | None:
        """The key or value column called exactly `name` (keys first), or None."""
        for column in self.key:
            if column.name == name:
                return column
        i = self._index.get(name)
        return None if i is None else self.value[i]

    def value_index(self, name: str) -> int | None:
        """Position of the value column `name`, or None."""
        return self._index.get(name)

    def is_key_column(self, name: str) -> bool:
        return any(c.name == name for c in self.key)

    @property
    def headers(self) -> tuple[Column, ...]:
        return tuple(c for c in self.value if c.namespace == "HEADERS")

    def with_pseudo_and_key_cols_in_value(self, windowed: bool = False) -> "LogicalSchema":
        """The processing schema: value columns, ROWTIME, ROWPARTITION, ROWOFFSET, key copies, window bounds."""
        value = [c for c in self.value if c.name not in PSEUDO_COLUMNS and c.namespace != "HEADERS"]
        value += [c for c in self.value if c.namespace == "HEADERS"]
        value += [Column(n, t) for n, t in PSEUDO_COLUMNS.items()]
        value += [Column(c.name, c.type) for c in self.key]
        if windowed:
            value += [Column(n, t) for n, t in WINDOW_BOUNDS.items()]
        return LogicalSchema(self.key, tuple(value))

    def without_pseudo_and_key_cols_in_value(self) -> "LogicalSchema":
        """Drop pseudo columns, window bounds and value copies of key columns."""
        keys = {c.name for c in self.key}
        value = tuple(c for c in self.value
                      if c.name not in PSEUDO_COLUMNS and c.name not in WINDOW_BOUNDS and c.name not in keys)
        return LogicalSchema(self.key, value)

    def render(self, *, table: bool = False) -> str:
        """ksqlDB's LogicalSchema text: "`ID` INTEGER KEY, `NAME` STRING" (PRIMARY KEY only when `table`)."""
        parts = []
        for column in self.key:
            parts.append(f"`{column.name}` {column.type}{' PRIMARY KEY' if table else ' KEY'}")
        for column in self.value:
            if column.namespace == "HEADERS":
                suffix = " HEADERS" if column.header_key is None else f" HEADER('{column.header_key}')"
            else:
                suffix = ""
            parts.append(f"`{column.name}` {column.type}{suffix}")
        return ", ".join(parts)

    def render_pull_select_star(self, *, windowed: bool = False) -> str:
        """The legacy header schema of a `SELECT *` pull query on this table, as ksqlDB builds it.

        Key columns and window bounds marked KEY, then header columns with their HEADER('k') / HEADERS mark,
        then the other value columns (ksqlDB's buildPullQuerySelectStarSchema; its rows still carry the
        columns in the table's own order).
        """
        key = self.key + (tuple(Column(n, t, "KEY") for n, t in WINDOW_BOUNDS.items()) if windowed else ())
        plain = self.without_pseudo_and_key_cols_in_value().value
        value = tuple(sorted(plain, key=lambda c: c.namespace != "HEADERS"))  # stable: headers first
        return LogicalSchema(key, value).render()

    def __str__(self) -> str:
        return self.render()


def sql_type(spec: ast.TypeSpec, custom_types: Mapping[str, SqlType] | None = None) -> SqlType:
    """The engine type of a syntax-tree type; custom types are looked up by name (case-insensitive)."""
    if isinstance(spec, ast.PrimitiveType):
        return SqlPrimitive(spec.name)
    if isinstance(spec, ast.DecimalType):
        return SqlDecimal(spec.precision, spec.scale)
    if isinstance(spec, ast.ArrayType):
        return SqlArray(sql_type(spec.element, custom_types))
    if isinstance(spec, ast.MapType):
        return SqlMap(sql_type(spec.key, custom_types), sql_type(spec.value, custom_types))
    if isinstance(spec, ast.StructType):
        return SqlStruct.of((f.name, sql_type(f.type, custom_types)) for f in spec.fields)
    if isinstance(spec, ast.CustomType):
        types = {k.upper(): v for k, v in (custom_types or {}).items()}
        found = types.get(spec.name.upper())
        if found is None:
            raise UnknownTypeError(f"Cannot resolve unknown type: {spec.name}")
        return found
    raise TypeError(f"not a type: {spec!r}")
