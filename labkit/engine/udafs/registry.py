"""The UDAF registry: overloads by column-argument types, literal init arguments, ksqlDB's messages.

An overload declares the types of its column arguments (predicates over SQL types; the last one repeats
when variadic) and the base types of its init arguments (literal constants after the column arguments,
e.g. TOPK(col, 3)), and a factory building the `Udaf` from the resolved types, the init values and the
query config. A `Udaf` with `undo` is ksqlDB's TableUdaf: usable on table sources.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from labkit.engine.types import SqlType
from labkit.errors import LabkitError

__all__ = ["Udaf", "UdafError", "UdafResolutionError", "Overload", "UdafArg", "UdafRegistry", "REGISTRY",
           "resolve_udaf", "is_aggregate", "aggregate_names", "TypeCheck", "ANY"]


class UdafError(LabkitError):
    """An aggregate function failed on a value (ksqlDB's KsqlFunctionException)."""


class UdafResolutionError(LabkitError):
    """No overload accepts the arguments, or an init argument is not a literal."""


TypeCheck = Callable[[SqlType], bool]


def ANY(t: SqlType) -> bool:  # noqa: N802 - reads like a type in the overload tables
    return True


@dataclass
class Udaf:
    """One resolved aggregate function: types and the operations over plain-data states."""

    name: str
    return_type: SqlType
    aggregate_type: SqlType
    initialize: Callable[[], Any]
    aggregate: Callable[[tuple, Any], Any]
    merge: Callable[[Any, Any], Any]
    map: Callable[[Any], Any]
    undo: Callable[[tuple, Any], Any] | None = None
    column_args: int = 1

    @property
    def supports_undo(self) -> bool:
        return self.undo is not None


@dataclass(frozen=True)
class UdafArg:
    """An argument of an aggregate call: its type, and its value when it is a literal constant."""

    type: SqlType | None
    is_literal: bool = False
    value: Any = None
    text: str = ""


Factory = Callable[[list[SqlType], list[Any], Mapping[str, Any]], Udaf]


@dataclass(frozen=True)
class Overload:
    """Column argument checks (the last one repeats when `variadic`), init argument base types, factory."""

    columns: tuple[TypeCheck, ...]
    factory: Factory
    init: tuple[str, ...] = ()
    variadic: bool = False

    def accepts(self, column_types: Sequence[SqlType | None], init_types: Sequence[str | None]) -> bool:
        if tuple(init_types) != self.init:
            return False
        if self.variadic:
            if len(column_types) < len(self.columns) - 1:
                return False
            checks = list(self.columns[:-1]) + [self.columns[-1]] * (len(column_types) - len(self.columns) + 1)
        else:
            if len(column_types) != len(self.columns):
                return False
            checks = list(self.columns)
        return all(t is not None and check(t) for check, t in zip(checks, column_types))


@dataclass
class UdafRegistry:
    """Aggregate functions by upper-case name."""

    functions: dict[str, list[Overload]] = field(default_factory=dict)

    def register(self, name: str, *overloads: Overload) -> None:
        self.functions.setdefault(name.upper(), []).extend(overloads)

    def __contains__(self, name: str) -> bool:
        return name.upper() in self.functions

    def resolve(self, name: str, args: Sequence[UdafArg], config: Mapping[str, Any] | None = None) -> Udaf:
        """The overload accepting `args` (most init arguments first); ksqlDB's errors otherwise."""
        overloads = self.functions.get(name.upper())
        if not overloads:
            raise UdafResolutionError(f"Can't find any functions with the name '{name}'")
        for overload in sorted(overloads, key=lambda o: -len(o.init)):
            count = len(overload.init)
            if count > len(args):
                continue
            columns, inits = args[:len(args) - count], args[len(args) - count:]
            init_types = [None if a.type is None else a.type.base for a in inits]
            if not overload.accepts([a.type for a in columns], init_types):
                continue
            for index, arg in enumerate(inits):
                if not arg.is_literal:
                    raise UdafResolutionError(
                        f"Parameter {len(columns) + index + 1} passed to function {name.upper()} must be a literal "
                        f"constant, but was expression: '{arg.text}'")
            udaf = overload.factory([a.type for a in columns], [a.value for a in inits],  # type: ignore[misc]
                                    config or {})
            udaf.column_args = len(columns)
            return udaf
        shown = ", ".join("null" if a.type is None else str(a.type) for a in args)
        raise UdafResolutionError(f"Function '{name.upper()}' does not accept parameters ({shown}).")


REGISTRY = UdafRegistry()


def resolve_udaf(name: str, args: Sequence[UdafArg | SqlType], config: Mapping[str, Any] | None = None) -> Udaf:
    """Resolve `name` for `args` (UdafArgs, or bare SQL types for column arguments)."""
    normalized = [a if isinstance(a, UdafArg) else UdafArg(a) for a in args]
    return REGISTRY.resolve(name, normalized, config)


def is_aggregate(name: str) -> bool:
    """Whether `name` is an aggregate function."""
    return name in REGISTRY


def aggregate_names() -> list[str]:
    """Upper-case names of the aggregate functions (SHOW FUNCTIONS)."""
    return sorted(REGISTRY.functions)
