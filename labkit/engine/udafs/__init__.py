"""ksqlDB's aggregate functions (UDAFs): resolution by argument types and the implementations.

An aggregate function call `F(col, ..., literal...)` has column arguments (evaluated per row) and, at the
end, literal *init* arguments fixed when the query starts (TOPK's k, LATEST_BY_OFFSET's n). `resolve_udaf`
picks the overload for the arguments and returns a `Udaf`: its return and intermediate types and
`initialize / aggregate / undo / merge / map` over plain-data states (numbers, strings, lists, dicts), so
aggregate states can be written to changelog topics as they are.

    >>> from labkit.engine.types import INTEGER
    >>> udaf = resolve_udaf("SUM", [INTEGER])
    >>> udaf.map(udaf.aggregate((2,), udaf.aggregate((3,), udaf.initialize())))
    5
"""
from __future__ import annotations

from labkit.engine.udafs.registry import (
    REGISTRY, Udaf, UdafArg, UdafError, UdafResolutionError, aggregate_names, is_aggregate, resolve_udaf,
)
from labkit.engine.udafs import builtins as _builtins  # noqa: F401,E402  (registers the functions)

__all__ = ["Udaf", "UdafArg", "UdafError", "UdafResolutionError", "resolve_udaf", "is_aggregate",
           "aggregate_names", "REGISTRY"]
