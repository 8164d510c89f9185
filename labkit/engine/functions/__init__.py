"""ksqlDB's built-in scalar functions, as Python callables, with overload resolution.

    >>> from labkit.engine.functions import resolve
    >>> from labkit.engine.types import STRING
    >>> fn, return_type = resolve("UCASE", [STRING])
    >>> fn("ksql"), str(return_type)
    ('KSQL', 'STRING')

Argument types are SqlType, None for a NULL literal, `LambdaArg` for lambdas and `IntervalUnitArg`
for time units. The returned callable applies implicit casts, returns None for NULL as ksqlDB does,
and raises `FunctionError` where ksqlDB's function fails (the engine then logs and yields NULL).
"""
from __future__ import annotations

from labkit.engine.functions import collections, datetime, json, math, strings, url  # noqa: F401  (register)
from typing import Sequence

from labkit.engine.functions.registry import (
    REGISTRY, ArgType, FunctionError, FunctionResolutionError, IntervalUnitArg, LambdaArg, Resolved, ScalarFunction,
)
from labkit.engine.types import SqlType

__all__ = ["resolve", "lambda_input_types", "get_function", "function_names", "is_function",
           "FunctionError", "FunctionResolutionError", "LambdaArg", "IntervalUnitArg", "ArgType", "Resolved",
           "ScalarFunction", "REGISTRY"]


def resolve(name: str, arg_types: Sequence[ArgType]) -> Resolved:
    """The overload of `name` for `arg_types`; unpacks as `(callable, return_type)`."""
    return REGISTRY.resolve(name, arg_types)


def lambda_input_types(name: str, arg_types: Sequence[ArgType], index: int) -> tuple[SqlType, ...]:
    """Input types for the lambda argument at `index` (bound from the other arguments)."""
    return REGISTRY.lambda_input_types(name, arg_types, index)


def get_function(name: str) -> ScalarFunction:
    """The function called `name` (any case), e.g. for DESCRIBE FUNCTION."""
    return REGISTRY.get(name)


def function_names() -> list[str]:
    """Upper-case names of all scalar functions (SHOW FUNCTIONS)."""
    return REGISTRY.names()


def is_function(name: str) -> bool:
    """Whether a scalar function called `name` exists."""
    return name in REGISTRY
