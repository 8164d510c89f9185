"""Value conversions between SQL types: ksqlDB's coercion rules, implicit casts and CAST.

`check_cast` is the compile-time check ("Cast of X to Y is not supported"); `cast_value` evaluates a
CAST at run time and raises `CastError` when the value cannot be converted, where ksqlDB logs to the
processing log and yields NULL. `coerce_value` mirrors DefaultSqlValueCoercer (INSERT VALUES, the
inserts stream); `implicit_cast` converts function arguments to the overload's parameter types.
"""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from labkit.engine.types import (
    DATE, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, STRING, TIME, TIMESTAMP,
    CastError, SqlArray, SqlMap, SqlStruct, SqlType, SqlTypeError,
    decimal_cast, decode_base64, ensure_decimal_fit, format_date_text, format_time_text,
    format_timestamp_text, java_decimal_str, java_double_str, java_trim, parse_date_text,
    parse_java_decimal, parse_java_double, parse_java_int, parse_java_long, parse_sql_boolean,
    parse_time_text, parse_timestamp_text, plain_decimal_str, wrap_int32, wrap_int64,
)

__all__ = ["java_string", "can_coerce", "coerce_value", "implicit_cast", "check_cast", "cast_value"]

_NUMERIC_ORDER = {"INTEGER": 0, "BIGINT": 1, "DECIMAL": 2, "DOUBLE": 3}
_TEMPORAL = {"TIMESTAMP": TIMESTAMP, "DATE": DATE, "TIME": TIME}


def java_string(value: Any, t: SqlType, nested: bool = False) -> str:
    """String.valueOf(value) as the JVM would print ksqlDB's Java value of type `t`."""
    if value is None:
        return "null"
    base = t.base
    if base == "BOOLEAN":
        return "true" if value else "false"
    if base == "DOUBLE":
        return java_double_str(float(value))
    if base == "DECIMAL":
        return java_decimal_str(value) if nested else plain_decimal_str(value)
    if base == "BYTES":
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if base == "TIMESTAMP":
        u = value.astimezone(dt.timezone.utc)
        frac = f"{u.microsecond * 1000:09d}".rstrip("0") or "0"
        return f"{format_date_text(u)} {u.hour:02d}:{u.minute:02d}:{u.second:02d}.{frac}"
    if base == "DATE":
        return format_date_text(value)
    if base == "TIME":
        return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if isinstance(t, SqlArray):
        return "[" + ", ".join(java_string(v, t.item, True) for v in value) + "]"
    if isinstance(t, SqlMap):
        return "{" + ", ".join(f"{java_string(k, t.key, True)}={java_string(v, t.value, True)}"
                               for k, v in value.items()) + "}"
    if isinstance(t, SqlStruct):
        parts = [f"{f.name}={java_string(value.get(f.name), f.type, True)}"
                 for f in t.fields if value.get(f.name) is not None]
        return "Struct{" + ",".join(parts) + "}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Coercion (DefaultSqlValueCoercer), implicit casts and CAST
# ---------------------------------------------------------------------------------------------


def can_coerce(from_type: SqlType, to_type: SqlType, lax: bool = False) -> bool:
    """Whether values of `from_type` may be coerced to `to_type` (STRICT, or LAX for literals)."""
    f, t = from_type.base, to_type.base
    if f in _NUMERIC_ORDER and t in _NUMERIC_ORDER and f != "DOUBLE":
        return _NUMERIC_ORDER[f] <= _NUMERIC_ORDER[t]
    if f == t and f in ("ARRAY",):
        return can_coerce(from_type.item, to_type.item, lax)  # type: ignore[attr-defined]
    if f == t and f == "MAP":
        return (can_coerce(from_type.key, to_type.key, lax)  # type: ignore[attr-defined]
                and can_coerce(from_type.value, to_type.value, lax))  # type: ignore[attr-defined]
    if f == t and f == "STRUCT":
        for field in to_type.fields:  # type: ignore[attr-defined]
            other = from_type.field(field.name)  # type: ignore[attr-defined]
            if other is not None and not can_coerce(other.type, field.type, lax):
                return False
        return True
    if f == t or (f == "STRING" and t in ("DATE", "TIME", "TIMESTAMP", "BYTES")):
        return True
    if lax and t == "STRING":
        return f in ("BOOLEAN", "INTEGER", "BIGINT", "DECIMAL", "DOUBLE", "DATE", "TIME", "TIMESTAMP")
    if lax and f == "STRING":
        return t in ("BOOLEAN", "INTEGER", "BIGINT", "DECIMAL", "DOUBLE")
    return False


def coerce_value(value: Any, to_type: SqlType, lax: bool = False) -> Any:
    """Coerce a Python value to `to_type` as ksqlDB coerces INSERT VALUES and inserts-stream data.

    STRICT allows number widening, STRING -> DATE/TIME/TIMESTAMP/BYTES and element-wise containers;
    LAX (literals) also converts between STRING and BOOLEAN/numbers. Raises CastError on failure.
    """
    if value is None:
        return None
    t = to_type.base
    fail = CastError(f"Can not coerce {value!r} to {to_type}")
    if isinstance(value, bool):
        if t == "BOOLEAN":
            return value
        if lax and t == "STRING":
            return "true" if value else "false"
        raise fail
    if isinstance(value, int):
        if t in ("INTEGER", "BIGINT"):
            hi = INT32_MAX if t == "INTEGER" else INT64_MAX
            if -hi - 1 <= value <= hi:
                return value
            raise fail
        if t == "DECIMAL":
            return ensure_decimal_fit(Decimal(value), to_type)  # type: ignore[arg-type]
        if t == "DOUBLE":
            return float(value)
        if lax and t == "STRING":
            return str(value)
        raise fail
    if isinstance(value, float):
        if t == "DOUBLE":
            return value
        if lax and t == "STRING":
            return java_double_str(value)
        raise fail
    if isinstance(value, Decimal):
        if t == "DECIMAL":
            return ensure_decimal_fit(value, to_type)  # type: ignore[arg-type]
        if t == "DOUBLE":
            return float(value)
        if lax and t == "STRING":
            return plain_decimal_str(value)
        raise fail
    if isinstance(value, str):
        text = java_trim(value)
        if t == "STRING":
            return value
        if t in ("DATE", "TIME", "TIMESTAMP", "BYTES"):
            return cast_value(text, STRING, to_type)
        if lax:
            if t == "BOOLEAN":
                result = parse_sql_boolean(text, exact=True)
                if result is None:
                    raise fail
                return result
            if t == "INTEGER":
                return parse_java_int(text)
            if t == "BIGINT":
                return parse_java_long(text)
            if t == "DECIMAL":
                return ensure_decimal_fit(parse_java_decimal(text), to_type)  # type: ignore[arg-type]
            if t == "DOUBLE":
                result_f = parse_java_double(text)
                if math.isnan(result_f) or math.isinf(result_f):
                    raise CastError(f"Invalid double value: {text}")
                return result_f
        raise fail
    if isinstance(value, (bytes, bytearray)):
        if t == "BYTES":
            return bytes(value)
        raise fail
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        kind = "TIMESTAMP" if isinstance(value, dt.datetime) else "DATE" if isinstance(value, dt.date) else "TIME"
        if t == kind:
            return value
        if lax and t == "STRING":
            return cast_value(value, _TEMPORAL[kind], STRING)
        raise fail
    if isinstance(value, (list, tuple)) and isinstance(to_type, SqlArray):
        return [coerce_value(v, to_type.item, lax) for v in value]
    if isinstance(value, Mapping) and isinstance(to_type, SqlMap):
        return {coerce_value(k, to_type.key, lax): coerce_value(v, to_type.value, lax) for k, v in value.items()}
    if isinstance(value, Mapping) and isinstance(to_type, SqlStruct):
        return {f.name: coerce_value(value.get(f.name), f.type, lax) for f in to_type.fields}
    raise fail


def implicit_cast(value: Any, from_type: SqlType | None, to_type: SqlType) -> Any:
    """Convert a function argument of `from_type` to a parameter type it implicitly casts to."""
    if value is None or from_type is None or from_type.base == to_type.base:
        return value
    t = to_type.base
    if t == "BIGINT":
        return value
    if t == "DECIMAL":
        return value if isinstance(value, Decimal) else Decimal(value)
    if t == "DOUBLE":
        return float(value)
    if from_type.base == "STRING":
        return cast_value(java_trim(value), STRING, to_type)
    raise CastError(f"Cannot implicitly cast {from_type} to {to_type}")


_CASTS: dict[str, set[str]] = {
    "BOOLEAN": {"STRING"},
    "INTEGER": {"BIGINT", "DECIMAL", "DOUBLE", "STRING"},
    "BIGINT": {"INTEGER", "DECIMAL", "DOUBLE", "STRING"},
    "DECIMAL": {"INTEGER", "BIGINT", "DECIMAL", "DOUBLE", "STRING"},
    "DOUBLE": {"INTEGER", "BIGINT", "DECIMAL", "STRING"},
    "STRING": {"BOOLEAN", "INTEGER", "BIGINT", "DECIMAL", "DOUBLE", "TIMESTAMP", "TIME", "DATE", "BYTES"},
    "ARRAY": {"ARRAY", "STRING"},
    "MAP": {"MAP", "STRING"},
    "STRUCT": {"STRUCT", "STRING"},
    "TIMESTAMP": {"STRING", "TIME", "DATE"},
    "DATE": {"TIMESTAMP", "STRING"},
    "TIME": {"STRING"},
}


def check_cast(from_type: SqlType | None, to_type: SqlType) -> None:
    """Raise SqlTypeError('Cast of X to Y is not supported') unless CAST(from AS to) compiles."""
    if from_type is None or from_type == to_type:
        return
    ok = to_type.base in _CASTS.get(from_type.base, set())
    try:
        if ok and isinstance(from_type, SqlArray) and isinstance(to_type, SqlArray):
            check_cast(from_type.item, to_type.item)
        elif ok and isinstance(from_type, SqlMap) and isinstance(to_type, SqlMap):
            check_cast(from_type.key, to_type.key)
            check_cast(from_type.value, to_type.value)
        elif ok and isinstance(from_type, SqlStruct) and isinstance(to_type, SqlStruct):
            for f in from_type.fields:
                target = to_type.field(f.name)
                if target is not None:
                    check_cast(f.type, target.type)
    except SqlTypeError:
        ok = False
    if not ok:
        raise SqlTypeError(f"Cast of {from_type} to {to_type} is not supported")


def _double_to_integral(v: float, lo: int, hi: int) -> int:
    if math.isnan(v):
        return 0
    if math.isinf(v):
        return hi if v > 0 else lo
    return max(lo, min(hi, int(v)))


def cast_value(value: Any, from_type: SqlType | None, to_type: SqlType) -> Any:
    """Evaluate CAST(value AS to_type) for a value of `from_type` (check_cast first).

    Follows ksqlDB: BIGINT->INTEGER wraps, DOUBLE->INTEGER truncates and saturates, DECIMAL casts
    round HALF_UP, strings are trimmed before parsing. A run-time failure raises CastError
    (ksqlDB then logs to the processing log and yields NULL).
    """
    if value is None or from_type is None or from_type == to_type:
        return value
    f, t = from_type.base, to_type.base
    try:
        if t == "STRING":
            if f == "DECIMAL":
                return plain_decimal_str(value)
            if f == "TIMESTAMP":
                return format_timestamp_text(value)
            if f == "TIME":
                return format_time_text(value)
            if f == "DATE":
                return format_date_text(value)
            return java_string(value, from_type)
        if f == "STRING":
            text = java_trim(value)
            if t == "BOOLEAN":
                return bool(parse_sql_boolean(text))
            if t == "INTEGER":
                return parse_java_int(text)
            if t == "BIGINT":
                return parse_java_long(text)
            if t == "DOUBLE":
                result = parse_java_double(text)
                if math.isnan(result) or math.isinf(result):
                    raise CastError(f"Invalid double value: {text}")
                return result
            if t == "DECIMAL":
                return decimal_cast(text, to_type)  # type: ignore[arg-type]
            if t == "TIMESTAMP":
                return parse_timestamp_text(text)
            if t == "TIME":
                return parse_time_text(text)
            if t == "DATE":
                return parse_date_text(text)
            if t == "BYTES":
                return decode_base64(text)
        if t == "INTEGER":
            return _double_to_integral(value, INT32_MIN, INT32_MAX) if f == "DOUBLE" else wrap_int32(int(value))
        if t == "BIGINT":
            return _double_to_integral(value, INT64_MIN, INT64_MAX) if f == "DOUBLE" else wrap_int64(int(value))
        if t == "DOUBLE":
            return float(value)
        if t == "DECIMAL":
            return decimal_cast(value, to_type)  # type: ignore[arg-type]
        if f == "TIMESTAMP" and t == "DATE":
            return value.astimezone(dt.timezone.utc).date()
        if f == "TIMESTAMP" and t == "TIME":
            u = value.astimezone(dt.timezone.utc)
            return dt.time(u.hour, u.minute, u.second, u.microsecond // 1000 * 1000)
        if f == "DATE" and t == "TIMESTAMP":
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        if isinstance(from_type, SqlArray) and isinstance(to_type, SqlArray):
            return [cast_value(v, from_type.item, to_type.item) for v in value]
        if isinstance(from_type, SqlMap) and isinstance(to_type, SqlMap):
            return {cast_value(k, from_type.key, to_type.key): cast_value(v, from_type.value, to_type.value)
                    for k, v in value.items()}
        if isinstance(from_type, SqlStruct) and isinstance(to_type, SqlStruct):
            out = {fld.name: None for fld in to_type.fields}
            for fld in from_type.fields:
                target = to_type.field(fld.name)
                if target is not None:
                    out[fld.name] = cast_value(value.get(fld.name), fld.type, target.type)
            return out
    except CastError:
        raise
    except (ValueError, ArithmeticError, InvalidOperation, OverflowError) as e:
        raise CastError(str(e)) from e
    raise SqlTypeError(f"Cast of {from_type} to {to_type} is not supported")


