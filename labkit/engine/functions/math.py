"""Mathematical functions with Java's floating-point behaviour (NaN and Infinity instead of errors)."""
from __future__ import annotations

import math
import random
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Context, Decimal
from typing import Any, Callable, Sequence

from labkit.engine.functions.registry import ANY_DECIMAL, FunctionError, p, register, udf
from labkit.engine.types import (
    BIGINT, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, SqlDecimal, SqlType, java_double_str,
    to_decimal_type, widen_decimal, wrap_int32, wrap_int64,
)

MATH = "MATHEMATICAL"
_DEC = Context(prec=5000, Emax=10**9, Emin=-(10**9))
_INF = float("inf")


def _safe(fn: Callable[..., float]) -> Callable[..., float | None]:
    """Wrap a math function so NULL gives NULL and domain/overflow errors give Java's NaN/Infinity."""
    def impl(*args: Any) -> float | None:
        if any(a is None for a in args):
            return None
        values = [float(a) for a in args]
        try:
            return fn(*values)
        except ValueError:
            return math.nan
        except OverflowError:
            return _INF
        except ZeroDivisionError:
            return _INF if values[-1] >= 0 else -_INF
    return impl


def java_pow(base: float, exponent: float) -> float:
    """Math.pow: never raises; NaN for complex results, +/-Infinity on overflow or 0**-n."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        odd = exponent.is_integer() and int(exponent) % 2 == 1
        return -_INF if base < 0 and odd else _INF
    except ValueError:
        if base == 0 and exponent < 0:
            odd = exponent.is_integer() and int(exponent) % 2 == 1
            return -_INF if math.copysign(1.0, base) < 0 and odd else _INF
        return math.nan


def _log(value: float) -> float:
    if math.isnan(value) or value < 0:
        return math.nan
    return -_INF if value == 0 else math.log(value)


def _log_base(base: float, value: float) -> float:
    if base <= 0 or base == 1:
        return math.nan
    return _log(value) / _log(base)


def _exp(value: float) -> float:
    try:
        return math.exp(value)
    except OverflowError:
        return _INF


def _sqrt(value: float) -> float:
    return math.nan if value < 0 or math.isnan(value) else math.sqrt(value)


def _cot(value: float) -> float:
    t = math.tan(value)
    return math.copysign(_INF, t) if t == 0 else 1.0 / t


def _hyper(fn: Callable[[float], float]) -> Callable[[float], float]:
    def impl(value: float) -> float:
        try:
            return fn(value)
        except OverflowError:
            return math.copysign(_INF, value) if fn is math.sinh else _INF
    return impl


def _abs(value: Any) -> Any:
    return None if value is None else abs(value)


def _abs_int(value: int | None) -> int | None:
    return None if value is None else wrap_int32(abs(value))  # Math.abs(Integer.MIN_VALUE) stays negative


def _abs_long(value: int | None) -> int | None:
    return None if value is None else wrap_int64(abs(value))


def _java_long(value: float) -> int:
    """Java (long) of a double: truncate, NaN -> 0, saturate at the long range."""
    if math.isnan(value):
        return 0
    if math.isinf(value):
        return 2**63 - 1 if value > 0 else -(2**63)
    return max(-(2**63), min(2**63 - 1, int(value)))


def _cbrt(value: float) -> float:
    cbrt = getattr(math, "cbrt", None)
    return cbrt(value) if cbrt else math.copysign(abs(value) ** (1 / 3), value)


def _ceil_floor(mode: str) -> Callable[[Any], Any]:
    def impl(value: Any) -> Any:
        if value is None or isinstance(value, int):
            return value
        if isinstance(value, Decimal):
            scale = value.as_tuple().exponent
            whole = value.quantize(Decimal(1), rounding=ROUND_CEILING if mode == "ceil" else ROUND_FLOOR, context=_DEC)
            return whole.quantize(Decimal(1).scaleb(scale), context=_DEC)
        if math.isnan(value) or math.isinf(value):
            return value
        result = float(math.ceil(value) if mode == "ceil" else math.floor(value))
        return math.copysign(0.0, value) if result == 0 else result
    return impl


def java_round(value: float) -> int:
    """Math.round(double): nearest long, halves up (towards +Infinity), NaN -> 0, saturating."""
    if math.isnan(value):
        return 0
    if math.isinf(value):
        return 2**63 - 1 if value > 0 else -(2**63)
    result = int((Decimal(value) + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR))
    return max(-(2**63), min(2**63 - 1, result))


def _round_decimal(value: Decimal, places: int, truncate: bool) -> Decimal:
    mode = ROUND_DOWN if truncate else ROUND_HALF_UP if value > 0 else ROUND_HALF_DOWN
    return value.quantize(Decimal(1).scaleb(-places), rounding=mode, context=_DEC)


def _round_or_trunc(truncate: bool) -> Callable[..., Any]:
    def impl(value: Any, places: int | None = 0, *, with_places: bool = False) -> Any:
        if value is None or places is None:
            return None
        if isinstance(value, bool):
            raise FunctionError("Cannot round a BOOLEAN")
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if not with_places:
                return _java_long(value) if truncate else java_round(value)
            if math.isnan(value) or math.isinf(value):
                raise FunctionError(f'Character {java_double_str(value)[0]} is neither a decimal digit number')
            return float(_round_decimal(Decimal(java_double_str(value)), places, truncate))
        rounded = _round_decimal(value, places, truncate)
        if not with_places:
            return rounded
        return rounded.quantize(Decimal(1).scaleb(value.as_tuple().exponent), context=_DEC)
    return impl


_round = _round_or_trunc(False)
_trunc = _round_or_trunc(True)


def _with_places(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda value, places: fn(value, places, with_places=True)


def _decimal_whole(args: Sequence[SqlType | None]) -> SqlType:
    t = args[0]
    if not isinstance(t, SqlDecimal):
        raise FunctionError("The schema provider method for round expects a BigDecimal parameter type as a parameter.")
    return SqlDecimal(t.precision - t.scale, 0)


def _same_decimal(args: Sequence[SqlType | None]) -> SqlType:
    t = args[0]
    if not isinstance(t, SqlDecimal):
        raise FunctionError("The schema provider method expects a BigDecimal parameter type.")
    return t


def _widened_decimal(args: Sequence[SqlType | None]) -> SqlType | None:
    types = [t for t in args if t is not None]
    if not types:
        return None
    result = to_decimal_type(types[0])
    for t in types[1:]:
        result = widen_decimal(result, t)
    return result


def _sign(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return 0
    return (value > 0) - (value < 0)


def _compare_key(value: Any) -> Any:
    """Java compareTo order: NaN above +Infinity, -0.0 below 0.0, strings by UTF-16, bytes signed."""
    if isinstance(value, float):
        return (1, 0.0, 0.0) if math.isnan(value) else (0, value, math.copysign(1.0, value))
    if isinstance(value, str):
        return value.encode("utf-16-be", "surrogatepass")
    if isinstance(value, (bytes, bytearray)):
        return tuple(b - 256 if b > 127 else b for b in value)
    return value


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def impl(first: Any, *others: Any) -> Any:
        values = [v for v in (first, *others) if v is not None]
        return pick(values, key=_compare_key) if values else None
    return impl


_greatest, _least = _extreme(max), _extreme(min)

_EARTH_RADIUS = {"KM": 6371.0, "KILOMETER": 6371.0, "KILOMETERS": 6371.0, "KILOMETRE": 6371.0,
                 "KILOMETRES": 6371.0, "MI": 3959.0, "MILE": 3959.0, "MILES": 3959.0}


def _geo_distance(lat1: float, lon1: float, lat2: float, lon2: float, units: str | None = "KM") -> float:
    for lat, lon in ((lat1, lon1), (lat2, lon2)):
        if not -90 <= lat <= 90:
            raise FunctionError(f"valid latitude values are in the range of -90 to 90, but was {lat}")
        if not -180 <= lon <= 180:
            raise FunctionError(f"valid longitude values are in the range of -180 to 180, but was {lon}")
    radius = _EARTH_RADIUS.get((units or "").upper())
    if radius is None:
        raise FunctionError("GeoDistance function units parameter must be one of MI, MILES, MILE, KM, KILOMETER, "
                            "KILOMETERS, KILOMETRE, KILOMETRES. Values are case-insensitive.")
    d_lat, d_lon = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    cosines = math.cos(math.radians(lat1)) * math.cos(math.radians(lat2))
    a = math.sin(d_lat / 2) ** 2 + math.sin(d_lon / 2) ** 2 * cosines
    return 2 * math.asin(math.sqrt(a)) * radius


# --- registration -------------------------------------------------------------------------------

I, L, D = INTEGER, BIGINT, DOUBLE


def _numeric_to_double(name: str, description: str, fn: Callable[..., float], arity: int = 1,
                       names: tuple[str, ...] = ("value",)) -> None:
    impl = _safe(fn)
    register(name, description, MATH, *[udf(impl, [p(names[i], t) for i in range(arity)], D) for t in (I, L, D)])


register("Abs", "Returns the absolute value of its argument.", MATH,
         udf(_abs_int, [p("val", I)], I), udf(_abs_long, [p("val", L)], L), udf(_abs, [p("val", D)], D),
         udf(_abs, [p("val", ANY_DECIMAL)], _same_decimal))
register("Ceil", "Returns the smallest integer greater than or equal to the specified numeric expression.", MATH,
         udf(_ceil_floor("ceil"), [p("val", I)], I), udf(_ceil_floor("ceil"), [p("val", L)], L),
         udf(_ceil_floor("ceil"), [p("val", D)], D), udf(_ceil_floor("ceil"), [p("val", ANY_DECIMAL)], _same_decimal))
register("Floor", "Returns the largest integer less than or equal to the specified numeric expression.", MATH,
         udf(_ceil_floor("floor"), [p("val", I)], I), udf(_ceil_floor("floor"), [p("val", L)], L),
         udf(_ceil_floor("floor"), [p("val", D)], D),
         udf(_ceil_floor("floor"), [p("val", ANY_DECIMAL)], _same_decimal))
register("Round", "Round a value to the number of decimal places as specified by scale to the right of the decimal "
         "point. If scale is negative then value is rounded to the right of the decimal point.", MATH,
         udf(_round, [p("val", L, primitive=True)], L), udf(_round, [p("val", I, primitive=True)], L),
         udf(_round, [p("val", D)], L), udf(_with_places(_round), [p("val", D), p("decimalPlaces", I)], D),
         udf(_round, [p("val", ANY_DECIMAL)], _decimal_whole),
         udf(_with_places(_round), [p("val", ANY_DECIMAL), p("decimalPlaces", I)], _same_decimal))
register("trunc", "Truncates a value to the number of decimal places as specified by scale to the right of the "
         "decimal point.", MATH,
         udf(_trunc, [p("val", L)], L), udf(_trunc, [p("val", I)], L), udf(_trunc, [p("val", D)], L),
         udf(_with_places(_trunc), [p("val", D), p("decimalPlaces", I)], D),
         udf(_trunc, [p("val", ANY_DECIMAL)], _decimal_whole),
         udf(_with_places(_trunc), [p("val", ANY_DECIMAL), p("decimalPlaces", I)], _same_decimal))
register("sign", "The sign of a numeric value as an INTEGER: -1, 0 or 1.", MATH,
         *[udf(_sign, [p("value", t)], I) for t in (I, L, D)])
_numeric_to_double("sqrt", "Returns the correctly rounded positive square root of a value.", _sqrt)
_numeric_to_double("exp", "Returns Euler's number e raised to the power of a value.", _exp, names=("exponent",))
_numeric_to_double("ln", "Returns the natural logarithm (base e) of a value.", _log)
register("log", "Returns the logarithm of a value (natural, or with the given base).", MATH,
         *[udf(_safe(_log), [p("value", t)], D) for t in (I, L, D)],
         *[udf(_safe(_log_base), [p("base", t), p("value", t)], D) for t in (I, L, D)])
_numeric_to_double("power", "Returns the base raised to the exponent.", java_pow, 2, ("base", "exponent"))
_numeric_to_double("acos", "Returns the inverse (arc) cosine of a value.", math.acos)
_numeric_to_double("asin", "Returns the inverse (arc) sine of a value.", math.asin)
_numeric_to_double("atan", "Returns the inverse (arc) tangent of a value.", math.atan)
_numeric_to_double("atan2", "Returns the inverse (arc) tangent of y / x.", math.atan2, 2, ("y", "x"))
_numeric_to_double("cbrt", "Returns the cube root of a value.", _cbrt)
_numeric_to_double("cos", "Returns the cosine of a value.", math.cos)
_numeric_to_double("cosh", "Returns the hyperbolic cosine of a value.", _hyper(math.cosh))
_numeric_to_double("cot", "Returns the cotangent of a value.", _cot)
_numeric_to_double("degrees", "Converts a value in radians to degrees.", math.degrees)
_numeric_to_double("radians", "Converts a value in degrees to radians.", math.radians)
_numeric_to_double("sin", "Returns the sine of a value.", math.sin)
_numeric_to_double("sinh", "Returns the hyperbolic sine of a value.", _hyper(math.sinh))
_numeric_to_double("tan", "Returns the tangent of a value.", math.tan)
_numeric_to_double("tanh", "Returns the hyperbolic tangent of a value.", math.tanh)
register("pi", "Returns an approximate value of PI.", MATH, udf(lambda: math.pi, [], D))
register("random", "Return a random DOUBLE value between 0.0 and 1.0.", MATH, udf(random.random, [], D))
_EXTREME_TYPES = (I, L, D, STRING, BYTES, DATE, TIME, TIMESTAMP)
register("greatest", "Returns the highest non-null value among a variable number of comparable columns.", MATH,
         *[udf(_greatest, [p("val", t), p("vals", t, variadic=True)], t) for t in _EXTREME_TYPES],
         udf(_greatest, [p("val", ANY_DECIMAL), p("vals", ANY_DECIMAL, variadic=True)], _widened_decimal))
register("least", "Returns the lowest non-null value among a variable number of comparable columns.", MATH,
         *[udf(_least, [p("val", t), p("vals", t, variadic=True)], t) for t in _EXTREME_TYPES],
         udf(_least, [p("val", ANY_DECIMAL), p("vals", ANY_DECIMAL, variadic=True)], _widened_decimal))
_POINTS = [p(n, D, primitive=True) for n in ("lat1", "lon1", "lat2", "lon2")]
register("geo_distance", "Compute the distance between two points on the surface of the earth, according to the "
         "Haversine formula for \"great circle distance\".", MATH,
         udf(_geo_distance, _POINTS + [p("units", STRING)], D), udf(_geo_distance, _POINTS, D))
