"""Run-time semantics of SQL operators as ksqlDB's generated Java code has them.

Arithmetic follows Java: INTEGER and BIGINT wrap on overflow, integer division truncates towards zero and
raises on a zero divisor, `%` keeps the dividend's sign, DOUBLE division by zero gives Infinity or NaN,
DECIMAL arithmetic is exact (a result that would need rounding is an error). A NULL operand of arithmetic
or of NOT/AND/OR is an error (Java unboxes a null), which ksqlDB logs and turns into a NULL column.
Comparisons are false when either side is NULL. Builders return closures over already-compiled operands.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation
from typing import Any, Callable

from labkit.engine.errors import ProcessingError, TypeCheckError
from labkit.engine.types import (
    STRING, SqlDecimal, SqlType, decimal_arithmetic_type, parse_date_text, parse_time_text,
    parse_timestamp_text, wrap_int32, wrap_int64,
)

__all__ = ["arithmetic_type", "arithmetic", "negate", "comparison_allowed", "comparator", "NullOperandError"]

Evaluator = Callable[[Any], Any]
_NUMERIC_ORDER = {"INTEGER": 0, "BIGINT": 1, "DECIMAL": 2, "DOUBLE": 3}
_EQUALITY = ("=", "<>", "IS DISTINCT FROM", "IS NOT DISTINCT FROM")


class NullOperandError(ProcessingError):
    """An operator got NULL where Java needed a value (a NullPointerException in ksqlDB)."""

    def __init__(self) -> None:
        super().__init__("java.lang.NullPointerException")


# --------------------------------------------------------------------------------------------- types


def arithmetic_type(op: str, left: SqlType | None, right: SqlType | None) -> SqlType:
    """Result type of `left op right` (ksqlDB's Operator.resultType); TypeCheckError when unsupported."""
    if left is None or right is None:
        raise TypeCheckError(f"Arithmetic on types {left if left is not None else 'null'} and "
                             f"{right if right is not None else 'null'} are not supported.")
    if op == "+" and left.base == "STRING" and right.base == "STRING":
        return STRING
    lo, ro = _NUMERIC_ORDER.get(left.base), _NUMERIC_ORDER.get(right.base)
    if lo is not None and ro is not None:
        if lo <= ro:
            return right if right.base != "DECIMAL" else decimal_arithmetic_type(op, left, right)
        return left if left.base != "DECIMAL" else decimal_arithmetic_type(op, left, right)
    raise TypeCheckError(f"Unsupported arithmetic types. {left.base} {right.base}")


def comparison_allowed(left: SqlType, op: str, right: SqlType) -> bool:
    """ksqlDB's ComparisonUtil.isValidComparison (both types known)."""
    lb, rb = left.base, right.base
    if lb in _NUMERIC_ORDER:
        return rb in _NUMERIC_ORDER
    if lb == "STRING":
        return rb in ("STRING", "TIME", "DATE", "TIMESTAMP")
    if lb in ("BOOLEAN", "ARRAY", "MAP", "STRUCT"):
        return rb == lb and op in _EQUALITY
    if lb == "TIME":
        return rb in ("TIME", "STRING")
    if lb in ("DATE", "TIMESTAMP"):
        return rb in ("DATE", "TIMESTAMP", "STRING")
    if lb == "BYTES":
        return rb == "BYTES"
    return False


# ---------------------------------------------------------------------------------------- arithmetic


def _java_int_div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _java_int_mod(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    return a - _java_int_div(a, b) * b


def _double_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _double_mod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a) or a != a or b != b:
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


_INTEGRAL_OPS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": _java_int_div, "%": _java_int_mod,
}
_DOUBLE_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": _double_div, "%": _double_mod,
}


def _to_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _decimal_op(op: str, result: SqlDecimal) -> Callable[[Any, Any], Decimal]:
    context = Context(prec=result.precision, traps=[Inexact, DivisionByZero, InvalidOperation])
    scale_context = Context(prec=10_000, traps=[Inexact, InvalidOperation])
    quantum = Decimal(1).scaleb(-result.scale)
    compute: Callable[[Decimal, Decimal], Decimal] = {
        "+": context.add, "-": context.subtract, "*": context.multiply, "/": context.divide,
        "%": context.remainder,
    }[op]

    def apply(a: Any, b: Any) -> Decimal:
        try:
            exact = compute(_to_decimal(a), _to_decimal(b))
            return exact.quantize(quantum, context=scale_context)
        except (Inexact, DivisionByZero, InvalidOperation) as e:
            raise ArithmeticError(f"Rounding necessary or division by zero: {type(e).__name__}") from None

    return apply


def arithmetic(op: str, left: Evaluator, right: Evaluator, left_type: SqlType, right_type: SqlType,
               result: SqlType) -> Evaluator:
    """A closure evaluating `left op right` with Java semantics for the result type."""
    if result.base == "STRING":
        def concat(row: Any) -> Any:
            a, b = left(row), right(row)
            return ("null" if a is None else a) + ("null" if b is None else b)
        return concat
    if isinstance(result, SqlDecimal):
        fn_dec = _decimal_op(op, result)

        def decimal_eval(row: Any) -> Any:
            a, b = left(row), right(row)
            if a is None or b is None:
                raise NullOperandError()
            return fn_dec(a, b)
        return decimal_eval
    if result.base == "DOUBLE":
        fn_d = _DOUBLE_OPS[op]

        def double_eval(row: Any) -> Any:
            a, b = left(row), right(row)
            if a is None or b is None:
                raise NullOperandError()
            return fn_d(float(a), float(b))
        return double_eval
    fn_i = _INTEGRAL_OPS[op]
    wrap = wrap_int64 if result.base == "BIGINT" else wrap_int32

    def integral_eval(row: Any) -> Any:
        a, b = left(row), right(row)
        if a is None or b is None:
            raise NullOperandError()
        return wrap(fn_i(a, b))
    return integral_eval


def negate(operand: Evaluator, t: SqlType, op: str) -> Evaluator:
    """Unary minus or plus."""
    if op == "+":
        def plus(row: Any) -> Any:
            value = operand(row)
            if value is None:
                raise NullOperandError()
            return value
        return plus
    wrap: Callable[[Any], Any] = {"INTEGER": wrap_int32, "BIGINT": wrap_int64}.get(t.base, lambda v: v)

    def minus(row: Any) -> Any:
        value = operand(row)
        if value is None:
            raise NullOperandError()
        return wrap(-value)
    return minus


# ---------------------------------------------------------------------------------------- comparison


def _signed_bytes(data: bytes) -> list[int]:
    return [b - 256 if b > 127 else b for b in data]


def _as_timestamp(value: Any, t: SqlType) -> dt.datetime:
    if t.base == "STRING":
        return parse_timestamp_text(value)
    if t.base == "DATE":
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    return value


def _converter(left: SqlType, right: SqlType) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Functions making both sides comparable with Python's operators, as ksqlDB compares them."""
    lb, rb = left.base, right.base
    if "DECIMAL" in (lb, rb):
        def dec(t: SqlType) -> Callable[[Any], Any]:
            if t.base == "DOUBLE":
                return lambda v: Decimal(repr(v)) if math.isfinite(v) else Decimal(str(v))
            return _to_decimal
        return dec(left), dec(right)
    if "TIME" in (lb, rb):
        def time(t: SqlType) -> Callable[[Any], Any]:
            return parse_time_text if t.base == "STRING" else (lambda v: v)
        return time(left), time(right)
    if "TIMESTAMP" in (lb, rb):
        return (lambda v: _as_timestamp(v, left)), (lambda v: _as_timestamp(v, right))
    if "DATE" in (lb, rb):
        def date(t: SqlType) -> Callable[[Any], Any]:
            return parse_date_text if t.base == "STRING" else (lambda v: v)
        return date(left), date(right)
    if lb == "BYTES":
        return _signed_bytes, _signed_bytes
    identity = (lambda v: v)
    return identity, identity


_ORDER_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "IS DISTINCT FROM": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def comparator(op: str, left: Evaluator, right: Evaluator, left_type: SqlType, right_type: SqlType) -> Evaluator:
    """A closure evaluating `left op right`: NULL on either side gives False (or the DISTINCT rule)."""
    if op == "IS NOT DISTINCT FROM":
        distinct = comparator("IS DISTINCT FROM", left, right, left_type, right_type)
        return lambda row: not distinct(row)
    to_left, to_right = _converter(left_type, right_type)
    test = _ORDER_TESTS[op]
    distinct_from = op == "IS DISTINCT FROM"

    def compare(row: Any) -> bool:
        a, b = left(row), right(row)
        if a is None or b is None:
            return (a is None) != (b is None) if distinct_from else False
        return test(to_left(a), to_right(b))
    return compare
