"""CAST semantics, coercion (INSERT VALUES) and implicit casts, per ksqlDB's CastEvaluator and coercer."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from labkit.engine.functions.casts import (
    can_coerce, cast_value, check_cast, coerce_value, implicit_cast, java_string,
)
from labkit.engine.types import (
    BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, CastError, SqlArray, SqlDecimal, SqlMap,
    SqlStruct, SqlTypeError, parse_type, timestamp_from_millis,
)

UTC = dt.timezone.utc
F0_F1 = parse_type("STRUCT<F0 INT, `f1` INT>")


@pytest.mark.parametrize("value,source,target,expected", [
    ([1, 3], SqlArray(INTEGER), STRING, "[1, 3]"),
    ([1, 3, 2147483648], SqlArray(BIGINT), SqlArray(INTEGER), [1, 3, -2147483648]),
    ([1, 3, 2147483648], SqlArray(BIGINT), SqlArray(STRING), ["1", "3", "2147483648"]),
    ({"this": 2147483648}, SqlMap(STRING, BIGINT), SqlMap(STRING, INTEGER), {"this": -2147483648}),
    ({"k1": {"k2": "10"}}, parse_type("MAP<STRING, MAP<STRING, STRING>>"), parse_type("MAP<STRING, MAP<STRING, INT>>"),
     {"k1": {"k2": 10}}),
    ({"F0": 1, "f1": 3}, F0_F1, STRING, "Struct{F0=1,f1=3}"),
    ({"F0": None, "f1": 3}, F0_F1, STRING, "Struct{f1=3}"),
    ({"F0": 1, "f1": 3}, F0_F1, parse_type("STRUCT<F0 BIGINT, X INT>"), {"F0": 1, "X": None}),
    (Decimal("0.01"), SqlDecimal(4, 2), INTEGER, 0),
    (Decimal("10.01"), SqlDecimal(4, 2), BIGINT, 10),
    (Decimal("10.01"), SqlDecimal(4, 2), DOUBLE, 10.01),
    (Decimal("0.00"), SqlDecimal(4, 2), STRING, "0.00"),
    (Decimal("1E-7"), SqlDecimal(8, 7), STRING, "0.0000001"),
    (1.2000000000000002, DOUBLE, INTEGER, 1),
    (-3.9, DOUBLE, BIGINT, -3),
    (1e20, DOUBLE, INTEGER, 2147483647),
    (float("nan"), DOUBLE, BIGINT, 0),
    (1e10, DOUBLE, STRING, "1.0E10"),
    (-1, INTEGER, STRING, "-1"),
    (True, BOOLEAN, STRING, "true"),
    (" 42 ", STRING, INTEGER, 42),
    ("yes", STRING, BOOLEAN, True),
    ("nope", STRING, BOOLEAN, False),
    ("1.5e3", STRING, DOUBLE, 1500.0),
    ("2022-04-28T21:44:47.943Z", STRING, TIMESTAMP, timestamp_from_millis(1651182287943)),
    ("2022-06-14", STRING, DATE, dt.date(2022, 6, 14)),
    ("09:16", STRING, TIME, dt.time(9, 16)),
    ("aGVsbG8=", STRING, BYTES, b"hello"),
    (timestamp_from_millis(1651182287943), TIMESTAMP, STRING, "2022-04-28T21:44:47.943"),
    (timestamp_from_millis(1651182287943), TIMESTAMP, DATE, dt.date(2022, 4, 28)),
    (timestamp_from_millis(1651182287943), TIMESTAMP, TIME, dt.time(21, 44, 47, 943000)),
    (dt.date(2022, 4, 28), DATE, TIMESTAMP, dt.datetime(2022, 4, 28, tzinfo=UTC)),
    (dt.time(10, 30, 0, 5000), TIME, STRING, "10:30"),
    (dt.date(2022, 4, 28), DATE, STRING, "2022-04-28"),
    (None, STRING, INTEGER, None),
    (5, None, INTEGER, 5),
])
def test_cast_values_like_ksqldb(value, source, target, expected) -> None:
    check_cast(source, target)
    assert cast_value(value, source, target) == expected


@pytest.mark.parametrize("value,source,target", [
    ("abc", STRING, INTEGER),
    ("2147483648", STRING, INTEGER),
    ("NaN", STRING, DOUBLE),
    ("1.0", STRING, BIGINT),
    ("not a date", STRING, DATE),
    ("a b", STRING, BYTES),
    (10, INTEGER, SqlDecimal(2, 1)),
    (float("inf"), DOUBLE, SqlDecimal(5, 1)),
])
def test_cast_failures_raise_cast_error_for_null_and_processing_log(value, source, target) -> None:
    with pytest.raises(CastError):
        cast_value(value, source, target)


@pytest.mark.parametrize("source,target,message", [
    (STRING, SqlArray(INTEGER), "Cast of STRING to ARRAY<INTEGER> is not supported"),
    (STRING, SqlMap(STRING, INTEGER), "Cast of STRING to MAP<STRING, INTEGER> is not supported"),
    (BOOLEAN, INTEGER, "Cast of BOOLEAN to INTEGER is not supported"),
    (BYTES, STRING, "Cast of BYTES to STRING is not supported"),
    (TIME, TIMESTAMP, "Cast of TIME to TIMESTAMP is not supported"),
    (SqlArray(BOOLEAN), SqlArray(INTEGER), "Cast of ARRAY<BOOLEAN> to ARRAY<INTEGER> is not supported"),
])
def test_unsupported_casts_are_rejected_at_compile_time(source, target, message) -> None:
    with pytest.raises(SqlTypeError, match=message.replace("(", r"\(")):
        check_cast(source, target)


@pytest.mark.parametrize("value,target,lax,expected", [
    (1, BIGINT, False, 1),
    (1, SqlDecimal(4, 2), False, Decimal("1.00")),
    (1, DOUBLE, False, 1.0),
    (Decimal("1.5"), DOUBLE, False, 1.5),
    ("2022-06-14", DATE, False, dt.date(2022, 6, 14)),
    ("aGk=", BYTES, False, b"hi"),
    ([1, 2], SqlArray(BIGINT), False, [1, 2]),
    ({"a": 1}, SqlMap(STRING, DOUBLE), False, {"a": 1.0}),
    ({"A": 1}, SqlStruct.of([("A", BIGINT), ("B", STRING)]), False, {"A": 1, "B": None}),
    (" 10 ", INTEGER, True, 10),
    ("t", BOOLEAN, True, True),
    ("1.50", SqlDecimal(4, 2), True, Decimal("1.50")),
    (10, STRING, True, "10"),
    (1.0, STRING, True, "1.0"),
    (True, STRING, True, "true"),
])
def test_coercion_rules(value, target, lax, expected) -> None:
    assert coerce_value(value, target, lax=lax) == expected


@pytest.mark.parametrize("value,target,lax", [
    ("10", INTEGER, False),
    (1.5, SqlDecimal(4, 2), False),
    (2**40, INTEGER, False),
    (Decimal("1.234"), SqlDecimal(4, 2), False),
    ("maybe", BOOLEAN, True),
    ("NaN", DOUBLE, True),
    (10, STRING, False),
])
def test_coercion_failures(value, target, lax) -> None:
    with pytest.raises(CastError):
        coerce_value(value, target, lax=lax)


def test_can_coerce_between_types() -> None:
    assert can_coerce(INTEGER, SqlDecimal(2, 1)) and can_coerce(STRING, TIMESTAMP)
    assert not can_coerce(DOUBLE, SqlDecimal(4, 2)) and not can_coerce(BIGINT, INTEGER)
    assert not can_coerce(STRING, INTEGER) and can_coerce(STRING, INTEGER, lax=True)
    assert can_coerce(SqlArray(INTEGER), SqlArray(DOUBLE)) and not can_coerce(SqlArray(STRING), SqlArray(INTEGER))


def test_implicit_casts_of_function_arguments() -> None:
    assert implicit_cast(5, INTEGER, BIGINT) == 5
    assert implicit_cast(5, INTEGER, SqlDecimal(10, 0)) == Decimal(5)
    assert implicit_cast(Decimal("1.5"), SqlDecimal(2, 1), DOUBLE) == 1.5
    assert implicit_cast("2022-06-14", STRING, TIMESTAMP) == dt.datetime(2022, 6, 14, tzinfo=UTC)
    assert implicit_cast(None, STRING, DATE) is None


def test_java_string_of_nested_values() -> None:
    assert java_string([1.0, None, 2.5], SqlArray(DOUBLE)) == "[1.0, null, 2.5]"
    assert java_string({"a": [1]}, SqlMap(STRING, SqlArray(INTEGER))) == "{a=[1]}"
    assert java_string([timestamp_from_millis(1651182287943)], SqlArray(TIMESTAMP)) == "[2022-04-28 21:44:47.943]"
    assert java_string([timestamp_from_millis(0)], SqlArray(TIMESTAMP)) == "[1970-01-01 00:00:00.0]"
    assert java_string([Decimal("1E-7")], SqlArray(SqlDecimal(8, 7))) == "[1E-7]"
    assert java_string(b"abc", BYTES) == "java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]"
