"""The scalar function registry: overloads, argument type resolution and ksqlDB's error messages.

Each function has a display name (as ksqlDB spells it in errors, e.g. 'timeadd', 'LPad') and overloads.
An overload declares its parameters with type patterns (concrete SQL types, DECIMAL of any precision,
generics T/U, arrays/maps of patterns, lambdas, interval units) and a return type (a pattern, or a
callable computing it from the argument types, like ksqlDB's schema providers).

Resolution follows ksqlDB's UdfIndex: try without implicit casts, then with them (numbers widen
INT -> BIGINT -> DECIMAL -> DOUBLE; STRING -> DATE/TIME/TIMESTAMP/BYTES); generics never cast; NULL
arguments match anything; among several matches the best one wins (non-variadic, more parameters, fewer
generics), and a tie is an ambiguity error.

    >>> from labkit.engine.functions import resolve
    >>> from labkit.engine.types import INTEGER, STRING
    >>> resolved = resolve("SUBSTRING", [STRING, INTEGER])
    >>> resolved.call("ksqldb", 2), resolved.return_type
    ('sqldb', SqlPrimitive(name='STRING'))
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Callable, Sequence, Union

from labkit.engine.functions.casts import implicit_cast
from labkit.engine.types import (
    INTEGER, CastError, SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType, can_implicitly_cast,
)
from labkit.errors import LabkitError

_DECIMALS = Context(prec=5000, Emax=10**9, Emin=-(10**9))

__all__ = [
    "FunctionError", "FunctionResolutionError", "Generic", "ArrayOf", "MapOf", "LambdaOf", "ANY",
    "ANY_DECIMAL", "INTERVAL_UNIT", "Param", "Overload", "ScalarFunction", "LambdaArg", "IntervalUnitArg", "ArgType",
    "Resolved", "FunctionRegistry", "REGISTRY", "register", "udf", "p",
]


class FunctionError(LabkitError):
    """A function failed on its input at run time (KsqlFunctionException): the row's value is NULL."""


class FunctionResolutionError(LabkitError):
    """No function of that name, or no overload accepts the argument types (a statement error)."""


@dataclass(frozen=True)
class Generic:
    """A type variable such as T: bound by the first argument that matches it, exactly."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ArrayOf:
    """ARRAY<pattern>."""

    item: "Pattern"

    def __str__(self) -> str:
        return f"ARRAY<{_pattern_str(self.item)}>"


@dataclass(frozen=True)
class MapOf:
    """MAP<pattern, pattern>."""

    key: "Pattern"
    value: "Pattern"

    def __str__(self) -> str:
        return f"MAP<{_pattern_str(self.key)}, {_pattern_str(self.value)}>"


@dataclass(frozen=True)
class LambdaOf:
    """A lambda argument taking `inputs` and returning `output`, e.g. (T) => R."""

    inputs: tuple["Pattern", ...]
    output: "Pattern"

    def __str__(self) -> str:
        return "LAMBDA (" + ", ".join(_pattern_str(i) for i in self.inputs) + f") => {_pattern_str(self.output)}"


@dataclass(frozen=True)
class _Marker:
    name: str

    def __str__(self) -> str:
        return self.name


ANY = _Marker("ANY")
ANY_DECIMAL = _Marker("DECIMAL")
INTERVAL_UNIT = _Marker("INTERVAL UNIT")

Pattern = Union[SqlType, Generic, ArrayOf, MapOf, LambdaOf, _Marker]
ReturnSpec = Union[Pattern, Callable[[Sequence[Any]], SqlType]]


def _pattern_str(pattern: Pattern) -> str:
    """ksqlDB's ParamType spelling: INT, BIGINT, VARCHAR, DECIMAL, ARRAY<T>, ..."""
    if isinstance(pattern, SqlType):
        return {"INTEGER": "INT", "STRING": "VARCHAR"}.get(pattern.base, pattern.base) if not isinstance(
            pattern, (SqlArray, SqlMap, SqlStruct)) else str(pattern)
    return str(pattern)


@dataclass(frozen=True)
class Param:
    """One declared parameter; `primitive` means a Java primitive (NULL is an invocation error)."""

    name: str
    type: Pattern
    variadic: bool = False
    primitive: bool = False


def p(name: str, type_: Pattern, *, variadic: bool = False, primitive: bool = False) -> Param:
    """Shorthand for Param(...) in the function modules."""
    return Param(name, type_, variadic, primitive)


@dataclass(frozen=True)
class Overload:
    """One signature of a function and the Python callable implementing it."""

    params: tuple[Param, ...]
    returns: ReturnSpec
    impl: Callable[..., Any]
    description: str = ""

    @property
    def variadic_index(self) -> int:
        return next((i for i, prm in enumerate(self.params) if prm.variadic), -1)

    def signature(self, name: str) -> str:
        """'NAME(INT val, VARCHAR... vals)' as listed in ksqlDB's error messages."""
        parts = [f"{_pattern_str(prm.type)}{'...' if prm.variadic else ''} {prm.name}" for prm in self.params]
        return f"{name}({', '.join(parts)})"

    def rank(self) -> tuple[int, int, int, int, int]:
        generics = sum(1 for prm in self.params if _has_generics(prm.type) or prm.type is ANY)
        any_vararg = any(prm.variadic and prm.type is ANY for prm in self.params)
        return (0 if self.variadic_index >= 0 else 1, len(self.params), -generics, 0 if any_vararg else 1,
                self.variadic_index)


@dataclass
class ScalarFunction:
    """A named scalar function with its overloads (what DESCRIBE FUNCTION shows)."""

    name: str
    description: str
    category: str
    overloads: list[Overload] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """Name, description and one entry per overload with argument names/types and return type."""
        return {
            "name": self.name.upper(), "description": self.description, "category": self.category,
            "type": "SCALAR", "author": "Confluent", "version": "",
            "functions": [{
                "arguments": [{"name": prm.name, "type": _pattern_str(prm.type) + ("[]" if prm.variadic else ""),
                               "description": "", "isVariadic": prm.variadic} for prm in o.params],
                "returnType": "SCHEMA_PROVIDER" if callable(o.returns) else _pattern_str(o.returns),  # type: ignore
                "description": o.description or self.description,
                "argumentTypes": [_pattern_str(prm.type) for prm in o.params],
            } for o in self.overloads],
        }


@dataclass(frozen=True)
class LambdaArg:
    """A lambda argument: its arity, and once type-checked its input and return types."""

    arity: int
    input_types: tuple[SqlType, ...] | None = None
    return_type: SqlType | None = None

    def __str__(self) -> str:
        if self.input_types is None:
            return f"LAMBDA<{self.arity}>"
        return "LAMBDA (" + ", ".join(str(t) for t in self.input_types) + f") => {self.return_type}"


@dataclass(frozen=True)
class IntervalUnitArg:
    """A time unit keyword argument such as DAYS (DATEADD, TIMESTAMPADD, ...)."""

    unit: str

    def __str__(self) -> str:
        return self.unit


ArgType = Union[SqlType, LambdaArg, IntervalUnitArg, None]


@dataclass(frozen=True)
class Resolved:
    """The chosen overload: `call(*values)` evaluates it (with implicit casts), `return_type` types it."""

    function: ScalarFunction
    overload: Overload
    return_type: SqlType | None
    param_types: tuple[Any, ...]
    call: Callable[..., Any]

    def __iter__(self):  # allows `fn, return_type = resolve(...)`
        return iter((self.call, self.return_type))


# --- matching --------------------------------------------------------------------------------------


def _has_generics(pattern: Pattern) -> bool:
    if isinstance(pattern, Generic):
        return True
    if isinstance(pattern, ArrayOf):
        return _has_generics(pattern.item)
    if isinstance(pattern, MapOf):
        return _has_generics(pattern.key) or _has_generics(pattern.value)
    if isinstance(pattern, LambdaOf):
        return any(_has_generics(i) for i in pattern.inputs) or _has_generics(pattern.output)
    return False


def _bind(pattern: Pattern, actual: SqlType, bindings: dict[str, SqlType]) -> bool:
    """Match a pattern containing generics against a concrete type exactly, binding type variables."""
    if isinstance(pattern, Generic):
        bound = bindings.setdefault(pattern.name, actual)
        return bound == actual
    if isinstance(pattern, ArrayOf):
        return isinstance(actual, SqlArray) and _bind(pattern.item, actual.item, bindings)
    if isinstance(pattern, MapOf):
        return (isinstance(actual, SqlMap) and _bind(pattern.key, actual.key, bindings)
                and _bind(pattern.value, actual.value, bindings))
    return _accepts_type(pattern, actual, bindings, allow_casts=False)


def _accepts_type(pattern: Pattern, actual: SqlType, bindings: dict[str, SqlType], allow_casts: bool) -> bool:
    if pattern is ANY:
        return True
    if _has_generics(pattern):
        return _bind(pattern, actual, bindings)
    if isinstance(pattern, ArrayOf):
        return isinstance(actual, SqlArray) and _accepts_type(pattern.item, actual.item, bindings, allow_casts)
    if isinstance(pattern, MapOf):
        return (isinstance(actual, SqlMap) and _accepts_type(pattern.key, actual.key, bindings, allow_casts)
                and _accepts_type(pattern.value, actual.value, bindings, allow_casts))
    if pattern is ANY_DECIMAL:
        return actual.base == "DECIMAL" or (allow_casts and can_implicitly_cast(actual, SqlDecimal(1, 0)))
    if isinstance(pattern, (SqlStruct, SqlArray, SqlMap)):
        return pattern == actual
    if isinstance(pattern, SqlType):
        return actual.base == pattern.base or (allow_casts and can_implicitly_cast(actual, pattern))
    return False


def _accepts(pattern: Pattern, arg: ArgType, bindings: dict[str, SqlType], allow_casts: bool) -> bool:
    if arg is None or pattern is ANY:
        return True
    if isinstance(arg, IntervalUnitArg) or pattern is INTERVAL_UNIT:
        return isinstance(arg, IntervalUnitArg) and pattern is INTERVAL_UNIT
    if isinstance(arg, LambdaArg) or isinstance(pattern, LambdaOf):
        if not (isinstance(arg, LambdaArg) and isinstance(pattern, LambdaOf)):
            return False
        if arg.arity != len(pattern.inputs):
            return False
        if arg.input_types is None:
            return True
        for pat, actual in zip(pattern.inputs, arg.input_types):
            if not _accepts_type(pat, actual, bindings, allow_casts):
                return False
        return arg.return_type is None or _accepts_type(pattern.output, arg.return_type, bindings, allow_casts)
    return _accepts_type(pattern, arg, bindings, allow_casts)


def _layout(overload: Overload, count: int) -> list[Param] | None:
    """The parameter each of `count` arguments binds to, expanding the variadic parameter."""
    params = overload.params
    v = overload.variadic_index
    if v < 0:
        return list(params) if count == len(params) else None
    if count < len(params) - 1:
        return None
    after = len(params) - 1 - v
    return list(params[:v]) + [params[v]] * (count - v - after) + list(params[v + 1:])


def _substitute(pattern: Pattern, bindings: dict[str, SqlType]) -> SqlType | None:
    if isinstance(pattern, Generic):
        return bindings.get(pattern.name)
    if isinstance(pattern, ArrayOf):
        item = _substitute(pattern.item, bindings)
        return SqlArray(item) if item is not None else None
    if isinstance(pattern, MapOf):
        key, value = _substitute(pattern.key, bindings), _substitute(pattern.value, bindings)
        return SqlMap(key, value) if key is not None and value is not None else None
    if isinstance(pattern, SqlType):
        return pattern
    return None


class FunctionRegistry:
    """All scalar functions by upper-case name."""

    def __init__(self) -> None:
        self._functions: dict[str, ScalarFunction] = {}

    def register(self, function: ScalarFunction) -> ScalarFunction:
        """Add a function (or more overloads to an existing one)."""
        existing = self._functions.get(function.name.upper())
        if existing is None:
            self._functions[function.name.upper()] = function
            return function
        existing.overloads.extend(function.overloads)
        return existing

    def get(self, name: str) -> ScalarFunction:
        """The function called `name` (any case); FunctionResolutionError if there is none."""
        function = self._functions.get(name.upper())
        if function is None:
            raise FunctionResolutionError(f"Can't find any functions with the name '{name}'")
        return function

    def __contains__(self, name: str) -> bool:
        return name.upper() in self._functions

    def names(self) -> list[str]:
        """All function names, upper-case, sorted (SHOW FUNCTIONS)."""
        return sorted(self._functions)

    def functions(self) -> list[ScalarFunction]:
        """All functions sorted by name."""
        return [self._functions[n] for n in self.names()]

    def resolve(self, name: str, arg_types: Sequence[ArgType]) -> Resolved:
        """Pick the overload for these argument types; raises FunctionResolutionError like ksqlDB."""
        function = self.get(name)
        args = list(arg_types)
        for allow_casts in (False, True):
            candidates: list[tuple[Overload, dict[str, SqlType], list[Param]]] = []
            for overload in function.overloads:
                layout = _layout(overload, len(args))
                if layout is None:
                    continue
                bindings: dict[str, SqlType] = {}
                if all(_accepts(prm.type, arg, bindings, allow_casts) for prm, arg in zip(layout, args)):
                    candidates.append((overload, bindings, layout))
            if candidates:
                candidates.sort(key=lambda c: c[0].rank())
                if len(candidates) > 1 and candidates[-1][0].rank() == candidates[-2][0].rank():
                    raise FunctionResolutionError(self._ambiguous_message(function, args))
                overload, bindings, layout = candidates[-1]
                return self._bind_call(function, overload, bindings, layout, args)
        raise FunctionResolutionError(self._no_match_message(function, args))

    def lambda_input_types(self, name: str, arg_types: Sequence[ArgType], index: int) -> tuple[SqlType, ...]:
        """Input types of the lambda at `index`, from the generics bound by the other arguments.

        Call it before type-checking a lambda body: TRANSFORM(ARRAY<INT>, x => ...) gives (INTEGER,).
        """
        function = self.get(name)
        arity = arg_types[index].arity if isinstance(arg_types[index], LambdaArg) else 0
        for overload in function.overloads:
            layout = _layout(overload, len(arg_types))
            if layout is None or not isinstance(layout[index].type, LambdaOf):
                continue
            pattern = layout[index].type
            if len(pattern.inputs) != arity:  # type: ignore[union-attr]
                continue
            bindings: dict[str, SqlType] = {}
            others = [(prm, arg) for i, (prm, arg) in enumerate(zip(layout, arg_types)) if i != index
                      and not isinstance(arg, LambdaArg)]
            if all(_accepts(prm.type, arg, bindings, False) for prm, arg in others):
                types = tuple(_substitute(i, bindings) for i in pattern.inputs)  # type: ignore[union-attr]
                if all(t is not None for t in types):
                    return types  # type: ignore[return-value]
        raise FunctionResolutionError(self._no_match_message(function, list(arg_types)))

    def _bind_call(self, function: ScalarFunction, overload: Overload, bindings: dict[str, SqlType],
                   layout: list[Param], args: list[ArgType]) -> Resolved:
        param_types: list[Any] = []
        conversions: list[tuple[int, SqlType, SqlType]] = []
        primitives: list[int] = [i for i, prm in enumerate(layout) if prm.primitive]
        for i, (prm, arg) in enumerate(zip(layout, args)):
            concrete = _substitute(prm.type, bindings) if not isinstance(prm.type, _Marker) else None
            if prm.type is ANY_DECIMAL and isinstance(arg, SqlType):
                concrete = arg if arg.base == "DECIMAL" else SqlDecimal(10, 0) if arg == INTEGER else SqlDecimal(19, 0)
            param_types.append(concrete)
            if isinstance(arg, SqlType) and concrete is not None and arg.base != concrete.base:
                conversions.append((i, arg, concrete))
        if callable(overload.returns):
            return_type = overload.returns([a if not isinstance(a, (LambdaArg, IntervalUnitArg)) else None
                                            for a in args])
        else:
            if isinstance(overload.returns, Generic) or _has_generics(overload.returns):  # type: ignore[arg-type]
                for prm, arg in zip(layout, args):
                    if isinstance(arg, LambdaArg) and arg.return_type is not None and isinstance(prm.type, LambdaOf):
                        _bind(prm.type.output, arg.return_type, bindings)
            return_type = _substitute(overload.returns, bindings)  # type: ignore[arg-type]
        call = _make_call(function.name, overload, conversions, primitives, layout, return_type)
        return Resolved(function, overload, return_type, tuple(param_types), call)

    @staticmethod
    def _args_text(args: list[ArgType]) -> str:
        def one(a: ArgType) -> str:
            if a is None:
                return "null"
            if isinstance(a, SqlType):
                return a.render(lambda _name: False)
            return str(a)
        return "(" + ", ".join(one(a) for a in args) + ")"

    def _alternatives(self, function: ScalarFunction) -> str:
        return "\n".join(o.signature(function.name.upper()) for o in function.overloads)

    def _no_match_message(self, function: ScalarFunction, args: list[ArgType]) -> str:
        return (f"Function '{function.name}' does not accept parameters {self._args_text(args)}.\n"
                f"Valid alternatives are:\n{self._alternatives(function)}\n"
                "For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;")

    def _ambiguous_message(self, function: ScalarFunction, args: list[ArgType]) -> str:
        return (f"Function '{function.name}' cannot be resolved due to ambiguous method parameters "
                f"{self._args_text(args)}.\nUse CAST() to explicitly cast your parameters to one of the "
                f"supported function calls.\nValid function calls are:\n{self._alternatives(function)}\n"
                "For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;")


def _make_call(name: str, overload: Overload, conversions: list[tuple[int, SqlType, SqlType]],
               primitives: list[int], layout: list[Param], return_type: SqlType | None) -> Callable[..., Any]:
    impl = overload.impl
    quantum = Decimal(1).scaleb(-return_type.scale) if isinstance(return_type, SqlDecimal) else None
    quantum_exponent = quantum.as_tuple().exponent if quantum is not None else None

    @functools.wraps(impl)
    def call(*values: Any) -> Any:
        if conversions or primitives:
            values_list = list(values)
            for i in primitives:
                if values_list[i] is None:
                    raise FunctionError(f"Failed to invoke function {name.upper()}: NULL passed to the "
                                        f"{_pattern_str(layout[i].type)} parameter '{layout[i].name}'")
            try:
                for i, from_type, to_type in conversions:
                    values_list[i] = implicit_cast(values_list[i], from_type, to_type)
            except CastError as e:
                raise FunctionError(str(e)) from e
            values = tuple(values_list)
        try:
            result = impl(*values)
            if quantum is not None and isinstance(result, Decimal) and result.as_tuple().exponent != quantum_exponent:
                result = result.quantize(quantum, rounding=ROUND_HALF_UP, context=_DECIMALS)
            return result
        except (FunctionError, TypeError):
            raise
        except (CastError, ValueError, ArithmeticError, OverflowError, IndexError, KeyError) as e:
            raise FunctionError(f"Failed to invoke function {name.upper()}: {e}") from e

    return call


REGISTRY = FunctionRegistry()


def register(name: str, description: str, category: str, *overloads: Overload) -> ScalarFunction:
    """Register a function with its overloads in the global REGISTRY."""
    return REGISTRY.register(ScalarFunction(name, description, category, list(overloads)))


def udf(impl: Callable[..., Any], params: Sequence[Param], returns: ReturnSpec, description: str = "") -> Overload:
    """An overload: implementation, parameters and return type (pattern or schema provider)."""
    return Overload(tuple(params), returns, impl, description)

