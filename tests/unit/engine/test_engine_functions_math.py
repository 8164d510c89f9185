"""Math functions: Java rounding, NaN/Infinity instead of errors, DECIMAL scales."""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from labkit.engine.functions import FunctionError, resolve
from labkit.engine.types import BIGINT, BYTES, DOUBLE, INTEGER, STRING, SqlDecimal

I, L, D = INTEGER, BIGINT, DOUBLE
D21, D33 = SqlDecimal(2, 1), SqlDecimal(33, 16)
NAN, INF = float("nan"), float("inf")


def same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float):
        return isinstance(actual, float) and (actual == expected or (math.isnan(actual) and math.isnan(expected))) \
            and math.copysign(1, actual) == math.copysign(1, expected)
    if isinstance(expected, Decimal):
        return isinstance(actual, Decimal) and str(actual) == str(expected)
    return actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize("name,types,args,expected", [
    ("ABS", [I], (-1,), 1),
    ("ABS", [I], (-2147483648,), -2147483648),
    ("ABS", [L], (-5,), 5),
    ("ABS", [D], (-3.1,), 3.1),
    ("ABS", [D21], (Decimal("-3.2"),), Decimal("3.2")),
    ("ABS", [I], (None,), None),
    ("CEIL", [D], (1.1,), 2.0),
    ("CEIL", [D], (-1.5,), -1.0),
    ("CEIL", [D], (-0.5,), -0.0),
    ("CEIL", [I], (7,), 7),
    ("CEIL", [D21], (Decimal("1.1"),), Decimal("2.0")),
    ("CEIL", [D21], (Decimal("-1.7"),), Decimal("-1.0")),
    ("FLOOR", [D], (1.7,), 1.0),
    ("FLOOR", [D], (-1.1,), -2.0),
    ("FLOOR", [D21], (Decimal("-1.1"),), Decimal("-2.0")),
    ("ROUND", [D], (1.5,), 2),
    ("ROUND", [D], (2.5,), 3),
    ("ROUND", [D], (-2.5,), -2),
    ("ROUND", [D], (0.49999999999999994,), 0),
    ("ROUND", [D], (NAN,), 0),
    ("ROUND", [I], (5,), 5),
    ("ROUND", [D, I], (1.2345, 2), 1.23),
    ("ROUND", [D, I], (1.235, 2), 1.24),
    ("ROUND", [D, I], (-1.235, 2), -1.23),
    ("ROUND", [D, I], (123.45, -1), 120.0),
    ("ROUND", [SqlDecimal(5, 3), I], (Decimal("12.345"), 1), Decimal("12.300")),
    ("ROUND", [SqlDecimal(3, 1)], (Decimal("12.5"),), Decimal("13")),
    ("ROUND", [SqlDecimal(3, 1)], (Decimal("-12.5"),), Decimal("-12")),
    ("ROUND", [D33], (Decimal("12345678987654321.2345678987654321"),), Decimal("12345678987654321")),
    ("ROUND", [D33, I], (Decimal("12345678987654321.2345678987654321"), 10),
     Decimal("12345678987654321.2345678988000000")),
    ("ROUND", [D33, I], (Decimal("12345678987654321.2345678987654321"), -2),
     Decimal("12345678987654300.0000000000000000")),
    ("ROUND", [D, I], (1.5, None), None),
    ("TRUNC", [D], (-1.7,), -1),
    ("TRUNC", [D, I], (12345.678, 2), 12345.67),
    ("TRUNC", [D, I], (-12345.678, -1), -12340.0),
    ("TRUNC", [SqlDecimal(12, 7), I], (Decimal("1.2345670"), 2), Decimal("1.2300000")),
    ("TRUNC", [SqlDecimal(12, 7)], (Decimal("-1.7000000"),), Decimal("-1")),
    ("TRUNC", [L], (2147483648,), 2147483648),
    ("SIGN", [D], (-3.0,), -1),
    ("SIGN", [D], (NAN,), 0),
    ("SIGN", [L], (0,), 0),
    ("SQRT", [I], (4,), 2.0),
    ("SQRT", [D], (-3.0,), NAN),
    ("LN", [I], (0,), -INF),
    ("LN", [L], (-2,), NAN),
    ("LN", [L], (2,), 0.6931471805599453),
    ("LOG", [I], (100,), 4.605170185988092),
    ("LOG", [I, I], (10, 100), 2.0),
    ("LOG", [D, D], (1.0, 5.0), NAN),
    ("EXP", [I], (0,), 1.0),
    ("EXP", [D], (1000.0,), INF),
    ("POWER", [I, I], (15, -1), 0.06666666666666667),
    ("POWER", [I, I], (15, 13), 1946195068359375.0),
    ("POWER", [D, D], (0.0, -1.0), INF),
    ("POWER", [D, D], (-8.0, 1 / 3), NAN),
    ("POWER", [D, D], (10.0, 400.0), INF),
    ("POWER", [I, I], (None, 13), None),
    ("ACOS", [D], (-0.43,), 2.0152891037307),
    ("ACOS", [I], (2,), NAN),
    ("ATAN2", [I, I], (-2, -3), -2.5535900500422),
    ("COT", [D], (0.0,), INF),
    ("COSH", [I], (-7,), 548.317035155212),
    ("DEGREES", [D], (-1.2345,), -70.7316398089),
    ("RADIANS", [I], (114,), 1.9896753472735),
    ("PI", [], (), 3.141592653589793),
])
def test_math_functions(name: str, types: list, args: tuple, expected: Any) -> None:
    result = resolve(name, types).call(*args)
    if name in ("ACOS", "ATAN2", "COSH", "DEGREES", "RADIANS") and isinstance(result, float) and not math.isnan(result):
        result = resolve("ROUND", [D, I]).call(result, 13 if name != "DEGREES" else 10)
    assert same(result, expected), f"{name}{args} -> {result!r}"


@pytest.mark.parametrize("name,types,args,expected", [
    ("GREATEST", [I, I, I, None, I], (2147483647, -2147483648, None, None, 5), 2147483647),
    ("GREATEST", [D, D], (1.0, NAN), NAN),
    ("LEAST", [D, D], (0.0, -0.0), -0.0),
    ("GREATEST", [STRING] * 4, ("apple", "banana", "aardvark", "hello"), "hello"),
    ("LEAST", [STRING] * 4, ("!", "Zebra", "aardvark", None), "!"),
    ("GREATEST", [STRING, STRING], ("\uffff", "\U0001F600"), "\uffff"),
    ("LEAST", [L, L, L, None], (2**63 - 1, -(2**63), None, None), -(2**63)),
    ("GREATEST", [SqlDecimal(9, 3)] * 3, (Decimal("123456.789"), Decimal("-987654.321"), None), Decimal("123456.789")),
])
def test_greatest_and_least(name: str, types: list, args: tuple, expected: Any) -> None:
    assert same(resolve(name, types).call(*args), expected)


def test_greatest_of_bytes_compares_signed_bytes_like_java() -> None:
    assert resolve("GREATEST", [BYTES, BYTES]).call(b"\x7f", b"\x80") == b"\x7f"


def test_random_and_geo_distance() -> None:
    values = {resolve("RANDOM", []).call() for _ in range(20)}
    assert all(0.0 <= v < 1.0 for v in values) and len(values) > 1
    assert resolve("GEO_DISTANCE", [D, D, D, D]).call(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.19492664455873)
    assert resolve("GEO_DISTANCE", [D, D, D, D, STRING]).call(0.0, 0.0, 0.0, 1.0, "mi") == pytest.approx(69.0940, 1e-4)
    with pytest.raises(FunctionError, match="valid latitude values are in the range of -90 to 90"):
        resolve("GEO_DISTANCE", [D, D, D, D]).call(91.0, 0.0, 0.0, 1.0)
