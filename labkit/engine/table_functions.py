"""ksqlDB's table functions (UDTFs) and the flat-map step that applies them.

A SELECT with table functions produces, for each input row, as many rows as the longest function result;
shorter results are padded with NULL (KLIP-9's zip semantics, ksqlDB's KudtfFlatMapper). Each function
call becomes a synthetic column `KSQL_SYNTH_n` of the flat-map output, which the projection then reads.

    >>> from labkit.engine.types import SqlArray, INTEGER
    >>> explode = resolve_table_function("EXPLODE", [SqlArray(INTEGER)])
    >>> explode.call([1, 2]), str(explode.return_type)
    ([1, 2], 'INTEGER')
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from labkit.engine.compile import RUNTIME_ERRORS, Compiled
from labkit.engine.errors import TypeCheckError
from labkit.engine.schema import Column, LogicalSchema
from labkit.engine.steps import BuildContext, ExecutionStep, Processor, Row
from labkit.engine.types import SqlArray, SqlType
from labkit.sql import ast

__all__ = ["TableFunction", "is_table_function", "resolve_table_function", "FlatMapStep", "table_function_names"]

SYNTH_PREFIX = "KSQL_SYNTH_"


@dataclass(frozen=True)
class TableFunction:
    """A resolved table function: the type of each produced value and the call returning the list."""

    name: str
    return_type: SqlType
    call: Callable[..., list[Any]]


def _explode(arg_types: Sequence[SqlType | None]) -> TableFunction:
    if len(arg_types) != 1 or not isinstance(arg_types[0], SqlArray):
        shown = ", ".join("null" if t is None else str(t) for t in arg_types)
        raise TypeCheckError(f"Function 'explode' does not accept parameters ({shown}).\nValid alternatives are:\n"
                             "explode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)")
    return TableFunction("EXPLODE", arg_types[0].item, lambda values: [] if values is None else list(values))


def _cube(values: list[Any] | None) -> list[list[Any]]:
    if values is None:
        return []
    size = len(values)
    null_mask = 0
    for i, value in enumerate(values):
        if value is not None:
            null_mask |= 1 << (size - 1 - i)
    out = []
    for mask in range(1 << size):
        if mask & null_mask != mask:
            continue
        row: list[Any] = []
        for i in range(size):
            row.insert(0, None if mask & (1 << i) == 0 else values[size - 1 - i])
        out.append(row)
    return out


def _cube_explode(arg_types: Sequence[SqlType | None]) -> TableFunction:
    if len(arg_types) != 1 or not isinstance(arg_types[0], SqlArray):
        shown = ", ".join("null" if t is None else str(t) for t in arg_types)
        raise TypeCheckError(f"Function 'cube_explode' does not accept parameters ({shown}).\nValid alternatives "
                             "are:\ncube_explode(ARRAY<T> columns)")
    return TableFunction("CUBE_EXPLODE", arg_types[0], _cube)


_FUNCTIONS: dict[str, Callable[[Sequence[SqlType | None]], TableFunction]] = {
    "EXPLODE": _explode, "CUBE_EXPLODE": _cube_explode,
}


def is_table_function(name: str) -> bool:
    """Whether `name` is a table function."""
    return name.upper() in _FUNCTIONS


def table_function_names() -> list[str]:
    return sorted(_FUNCTIONS)


def resolve_table_function(name: str, arg_types: Sequence[SqlType | None]) -> TableFunction:
    """The table function `name` for `arg_types` (TypeCheckError when it does not accept them)."""
    return _FUNCTIONS[name.upper()](arg_types)


@dataclass
class FlatMapStep(ExecutionStep):
    """Apply table functions: one output row per produced value (zipped, padded with NULL)."""

    parent: ExecutionStep
    calls: tuple[ast.FunctionCall, ...]
    qualifiers: tuple[str, ...] = ()
    schema: LogicalSchema = field(init=False)
    return_types: tuple[SqlType, ...] = ()

    def __post_init__(self) -> None:
        parent = self.parent.schema
        columns = tuple(Column(f"{SYNTH_PREFIX}{i}", t) for i, t in enumerate(self.return_types))
        self.schema = LogicalSchema(parent.key, parent.value + columns)
        self.is_table = self.parent.is_table

    def describe(self) -> str:
        return "FlatMap"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        compiler = ctx.compiler(self.parent.schema, self.qualifiers, "FlatMap")
        appliers: list[tuple[list[Compiled], TableFunction]] = []
        for call in self.calls:
            args = [compiler.compile(a) for a in call.args]
            appliers.append((args, resolve_table_function(call.name, [a.type for a in args])))
        logger = ctx.logger("FlatMap")

        def process(row: Row) -> None:
            if row.value is None:
                return
            results: list[list[Any]] = []
            for args, function in appliers:
                try:
                    results.append(function.call(*[a.evaluate(row.value) for a in args]))
                except RUNTIME_ERRORS as error:
                    logger.error(f"Table function {function.name} threw an exception: {error}", error)
                    results.append([])
            longest = max((len(r) for r in results), default=0)
            for index in range(longest):
                produced = [r[index] if index < len(r) else None for r in results]
                downstream(row.derive(value=row.value + produced))

        self.parent.build(ctx, process)
