"""ksqlDB 0.29's built-in aggregate functions, with Java's arithmetic (32/64-bit wrap-around) and nulls.

States are plain data so they can live in state stores and changelog topics: AVG keeps `[sum, count]`,
LATEST_BY_OFFSET `[sequence, value]`, TOPK a sorted list, HISTOGRAM a dict, and so on. Functions
registered with an `undo` are ksqlDB's TableUdafs (allowed on table sources).
"""
from __future__ import annotations

import itertools
import math
from decimal import Context, Decimal, ROUND_HALF_UP
from typing import Any, Callable, Mapping

from labkit.engine.types import (
    BIGINT, DOUBLE, INTEGER, STRING, SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType, wrap_int32, wrap_int64,
)
from labkit.engine.udafs.registry import ANY, REGISTRY, Overload, Udaf, UdafError

__all__: list[str] = []

_SEQUENCE = itertools.count()
"""The offset order of LATEST/EARLIEST_BY_OFFSET (ksqlDB's static sequence)."""


def _base(*names: str) -> Callable[[SqlType], bool]:
    return lambda t: t.base in names


_INT, _LONG, _DOUBLE, _DEC = _base("INTEGER"), _base("BIGINT"), _base("DOUBLE"), _base("DECIMAL")
_COMPARABLE = _base("INTEGER", "BIGINT", "DOUBLE", "DECIMAL", "DATE", "TIME", "TIMESTAMP", "STRING", "BYTES")
_NUMBER_ADD: dict[str, Callable[[Any, Any], Any]] = {
    "INTEGER": lambda a, b: wrap_int32(a + b), "BIGINT": lambda a, b: wrap_int64(a + b),
    "DOUBLE": lambda a, b: a + b,
}
_NUMBER_SUB: dict[str, Callable[[Any, Any], Any]] = {
    "INTEGER": lambda a, b: wrap_int32(a - b), "BIGINT": lambda a, b: wrap_int64(a - b),
    "DOUBLE": lambda a, b: a - b,
}
_ZERO = {"INTEGER": 0, "BIGINT": 0, "DOUBLE": 0.0}


def _config_limit(config: Mapping[str, Any], name: str) -> int:
    value = config.get(name)
    if value is None:
        return 2 ** 31 - 1
    try:
        limit = int(value)
    except (TypeError, ValueError):
        return 2 ** 31 - 1
    return 2 ** 31 - 1 if limit < 0 else limit


# ------------------------------------------------------------------------------------------------ COUNT


def _count(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    return Udaf("COUNT", BIGINT, BIGINT, lambda: 0,
                lambda v, agg: agg if v[0] is None else agg + 1,
                lambda a, b: a + b, lambda agg: agg,
                undo=lambda v, agg: agg if v[0] is None else agg - 1)


REGISTRY.register("COUNT", Overload((ANY,), _count))


# -------------------------------------------------------------------------------------------------- SUM


def _sum(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    t = types[0]
    if isinstance(t, SqlDecimal):
        context = Context(prec=t.precision, rounding=ROUND_HALF_UP)
        digits = t.precision - t.scale
        limit = Decimal(10) ** digits

        def add(v: tuple, agg: Decimal) -> Decimal:
            if v[0] is None:
                return agg
            total = context.add(agg, v[0])
            if abs(total) >= limit:
                raise UdafError(f"Numeric field overflow: A field with precision {t.precision} and scale {t.scale} "
                                f"must round to an absolute value less than 10^{digits}. Got {total:f}")
            return total
        return Udaf("SUM", t, t, lambda: Decimal(0), add, lambda a, b: context.add(a, b), lambda agg: agg,
                    undo=lambda v, agg: agg if v[0] is None else context.subtract(agg, v[0]))
    if isinstance(t, SqlArray):
        item = t.item.base
        plus, minus = _NUMBER_ADD[item], _NUMBER_SUB[item]

        def total(values: list[Any]) -> Any:
            result = _ZERO[item]
            for value in values:
                if value is not None:
                    result = plus(result, value)
            return result
        return Udaf("SUM_LIST", t.item, t.item, lambda: _ZERO[item],
                    lambda v, agg: agg if v[0] is None else plus(agg, total(v[0])), plus, lambda agg: agg,
                    undo=lambda v, agg: agg if v[0] is None else minus(agg, total(v[0])))
    plus, minus = _NUMBER_ADD[t.base], _NUMBER_SUB[t.base]
    return Udaf("SUM", t, t, lambda: _ZERO[t.base], lambda v, agg: agg if v[0] is None else plus(agg, v[0]),
                plus, lambda agg: agg, undo=lambda v, agg: agg if v[0] is None else minus(agg, v[0]))


def _number_list(t: SqlType) -> bool:
    return isinstance(t, SqlArray) and t.item.base in ("INTEGER", "BIGINT", "DOUBLE")


REGISTRY.register("SUM", *(Overload((check,), _sum) for check in (_INT, _LONG, _DOUBLE, _DEC)))
REGISTRY.register("SUM_LIST", Overload((_number_list,), _sum))


# -------------------------------------------------------------------------------------------------- AVG


def _avg(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    base = types[0].base
    plus, minus = _NUMBER_ADD[base], _NUMBER_SUB[base]
    state = SqlStruct.of([("SUM", types[0]), ("COUNT", BIGINT)])

    def mean(agg: list[Any]) -> float:
        return 0.0 if agg[1] == 0 else agg[0] / float(agg[1])
    return Udaf("AVG", DOUBLE, state, lambda: [_ZERO[base], 0],
                lambda v, agg: agg if v[0] is None else [plus(agg[0], v[0]), agg[1] + 1],
                lambda a, b: [plus(a[0], b[0]), a[1] + b[1]], mean,
                undo=lambda v, agg: agg if v[0] is None else [minus(agg[0], v[0]), agg[1] - 1])


REGISTRY.register("AVG", *(Overload((check,), _avg) for check in (_INT, _LONG, _DOUBLE)))


# ---------------------------------------------------------------------------------------------- MIN/MAX


def _comparable(choose: Callable[[Any, Any], bool], name: str) -> Callable[..., Udaf]:
    def factory(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
        def aggregate(v: tuple, agg: Any) -> Any:
            if v[0] is None:
                return agg
            if agg is None:
                return v[0]
            return v[0] if choose(v[0], agg) else agg
        return Udaf(name, types[0], types[0], lambda: None, aggregate, lambda a, b: aggregate((a,), b),
                    lambda agg: agg)
    return factory


REGISTRY.register("MAX", Overload((_COMPARABLE,), _comparable(lambda a, b: a > b, "MAX")))
REGISTRY.register("MIN", Overload((_COMPARABLE,), _comparable(lambda a, b: a < b, "MIN")))


# ------------------------------------------------------------------------------------ LATEST / EARLIEST


def _offset_struct(t: SqlType) -> SqlStruct:
    return SqlStruct.of([("SEQ", BIGINT), ("VAL", t)])


def _latest(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    t = types[0]
    ignore_nulls = init[-1] if init and isinstance(init[-1], bool) else True
    count = next((v for v in init if isinstance(v, int) and not isinstance(v, bool)), None)
    if count is None:
        def merge(a: list[Any], b: list[Any]) -> list[Any]:
            """KudafByOffsetUtils' comparators: by sequence, a NULL value losing when nulls are ignored."""
            if ignore_nulls and (a[1] is None or b[1] is None):
                if a[1] is None and b[1] is None:
                    return a
                return b if a[1] is None else a
            return a if a[0] >= b[0] else b
        return Udaf("LATEST_BY_OFFSET", t, _offset_struct(t), lambda: [next(_SEQUENCE), None],
                    lambda v, agg: agg if v[0] is None and ignore_nulls else [next(_SEQUENCE), v[0]],
                    merge, lambda agg: agg[1])
    if count <= 0:
        raise UdafError("latestN must be 1 or greater")

    def aggregate(v: tuple, agg: list[Any]) -> list[Any]:
        if v[0] is None and ignore_nulls:
            return agg
        return (agg + [[next(_SEQUENCE), v[0]]])[-count:]
    return Udaf("LATEST_BY_OFFSET", SqlArray(t), SqlArray(_offset_struct(t)), lambda: [], aggregate,
                lambda a, b: sorted(a + b)[:count], lambda agg: [e[1] for e in agg])


def _earliest(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    t = types[0]
    ignore_nulls = init[-1] if init and isinstance(init[-1], bool) else True
    count = next((v for v in init if isinstance(v, int) and not isinstance(v, bool)), None)
    if count is None:
        def aggregate(v: tuple, agg: Any) -> Any:
            if agg is not None:
                return agg
            if v[0] is None and ignore_nulls:
                return None
            return [next(_SEQUENCE), v[0]]

        def merge(a: Any, b: Any) -> Any:
            if a is None or b is None:
                return b if a is None else a
            return a if a[0] <= b[0] else b
        return Udaf("EARLIEST_BY_OFFSET", t, _offset_struct(t), lambda: None, aggregate, merge,
                    lambda agg: None if agg is None else agg[1])
    if count <= 0:
        raise UdafError("earliestN must be 1 or greater")

    def aggregate_n(v: tuple, agg: list[Any]) -> list[Any]:
        if v[0] is None and ignore_nulls:
            return agg
        return agg + [[next(_SEQUENCE), v[0]]] if len(agg) < count else agg
    return Udaf("EARLIEST_BY_OFFSET", SqlArray(t), SqlArray(_offset_struct(t)), lambda: [], aggregate_n,
                lambda a, b: sorted(a + b)[:count], lambda agg: [e[1] for e in agg])


for _name, _factory in (("LATEST_BY_OFFSET", _latest), ("EARLIEST_BY_OFFSET", _earliest)):
    REGISTRY.register(_name, Overload((ANY,), _factory), Overload((ANY,), _factory, ("BOOLEAN",)),
                      Overload((ANY,), _factory, ("INTEGER",)), Overload((ANY,), _factory, ("INTEGER", "BOOLEAN")))


# -------------------------------------------------------------------------------------- COLLECT_LIST/SET


def _collect_list(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    limit = _config_limit(config, "ksql.functions.collect_list.limit")

    def undo(v: tuple, agg: list[Any]) -> list[Any]:
        for index in range(len(agg) - 1, -1, -1):
            if agg[index] == v[0] and type(agg[index]) is type(v[0]):
                return agg[:index] + agg[index + 1:]
        return agg
    return Udaf("COLLECT_LIST", SqlArray(types[0]), SqlArray(types[0]), lambda: [],
                lambda v, agg: agg + [v[0]] if len(agg) < limit else agg,
                lambda a, b: a + b[:max(0, limit - len(a))], lambda agg: agg, undo=undo)


def _collect_set(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    limit = _config_limit(config, "ksql.functions.collect_set.limit")

    def aggregate(v: tuple, agg: list[Any]) -> list[Any]:
        if len(agg) < limit and v[0] not in agg:
            return agg + [v[0]]
        return agg

    def merge(a: list[Any], b: list[Any]) -> list[Any]:
        for entry in b:
            a = aggregate((entry,), a)
        return a
    return Udaf("COLLECT_SET", SqlArray(types[0]), SqlArray(types[0]), lambda: [], aggregate, merge,
                lambda agg: agg)


REGISTRY.register("COLLECT_LIST", Overload((ANY,), _collect_list))
REGISTRY.register("COLLECT_SET", Overload((ANY,), _collect_set))


# ------------------------------------------------------------------------------------------ COUNT_DISTINCT


def _count_distinct(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    def aggregate(v: tuple, agg: list[Any]) -> list[Any]:
        if v[0] is None or v[0] in agg:
            return agg
        return agg + [v[0]]
    return Udaf("COUNT_DISTINCT", BIGINT, SqlArray(INTEGER), lambda: [], aggregate,
                lambda a, b: a + [x for x in b if x not in a], len)


REGISTRY.register("COUNT_DISTINCT", Overload((ANY,), _count_distinct))


# ------------------------------------------------------------------------------------------- TOPK & co


def _topk(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    k = init[0]
    if len(types) > 1:
        fields = [("sort_col", types[0])] + [(f"col{i}", t) for i, t in enumerate(types[1:])]
        element: SqlType = SqlStruct.of(fields)
        names = [n for n, _ in fields]

        def entry(v: tuple) -> Any:
            return dict(zip(names, v))

        def sort_value(e: Any) -> Any:
            return e["sort_col"]
    else:
        element = types[0]

        def entry(v: tuple) -> Any:
            return v[0]

        def sort_value(e: Any) -> Any:
            return e

    def aggregate(v: tuple, agg: list[Any]) -> list[Any]:
        if v[0] is None:
            return agg
        if agg and len(agg) == k and v[0] <= sort_value(agg[-1]):
            return agg
        out = list(agg)
        if len(out) == k:
            out[-1] = entry(v)
        else:
            out.append(entry(v))
        return sorted(out, key=sort_value, reverse=True)

    def merge(a: list[Any], b: list[Any]) -> list[Any]:
        return sorted(a + b, key=sort_value, reverse=True)[:k]
    return Udaf("TOPK", SqlArray(element), SqlArray(element), lambda: [], aggregate, merge, lambda agg: agg)


def _topk_distinct(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    k = init[0]

    def aggregate(v: tuple, agg: list[Any]) -> list[Any]:
        if v[0] is None:
            return agg
        if len(agg) == k and v[0] <= agg[-1]:
            return agg
        if v[0] in agg:
            return agg
        out = list(agg)
        if len(out) == k:
            out[-1] = v[0]
        else:
            out.append(v[0])
        return sorted(out, reverse=True)

    def merge(a: list[Any], b: list[Any]) -> list[Any]:
        return sorted(set(a) | set(b), reverse=True)[:k]
    return Udaf("TOPKDISTINCT", SqlArray(types[0]), SqlArray(types[0]), lambda: [], aggregate, merge,
                lambda agg: agg)


REGISTRY.register("TOPK", Overload((_base("INTEGER", "BIGINT", "DOUBLE", "STRING"), ANY), _topk, ("INTEGER",),
                                   variadic=True),
                  Overload((_base("INTEGER", "BIGINT", "DOUBLE", "STRING"),), _topk, ("INTEGER",)))
REGISTRY.register("TOPKDISTINCT", Overload((_COMPARABLE,), _topk_distinct, ("INTEGER",)))


# ------------------------------------------------------------------------------------------- HISTOGRAM


def _histogram(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    def aggregate(v: tuple, agg: dict[Any, int]) -> dict[Any, int]:
        if len(agg) < 1000 or v[0] in agg:
            out = dict(agg)
            out[v[0]] = out.get(v[0], 0) + 1
            return out
        return agg

    def undo(v: tuple, agg: dict[Any, int]) -> dict[Any, int]:
        out = dict(agg)
        if v[0] in out:
            out[v[0]] -= 1
            if out[v[0]] < 1:
                del out[v[0]]
        return out

    def merge(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
        out = dict(a)
        for key, count in b.items():
            if len(out) < 1000 or key in out:
                out[key] = out.get(key, 0) + count
        return out
    result = SqlMap(STRING, BIGINT)
    return Udaf("HISTOGRAM", result, result, dict, aggregate, merge, lambda agg: agg, undo=undo)


REGISTRY.register("HISTOGRAM", Overload((_base("STRING"),), _histogram))


# ------------------------------------------------------------------------------------------------ STDDEV


def _stddev(name: str, sqrt: bool) -> Callable[..., Udaf]:
    def factory(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
        base = types[0].base
        plus, minus = _NUMBER_ADD[base], _NUMBER_SUB[base]
        integral = base in ("INTEGER", "BIGINT")

        def delta(agg: list[Any], value: Any) -> float:
            if integral:
                return float(wrap_int64(value * (agg[1] + 1) - (agg[0] + value)))
            return value * (agg[1] + 1) - (agg[0] + value)

        def aggregate(v: tuple, agg: list[Any]) -> list[Any]:
            if v[0] is None:
                return agg
            count = agg[1] + 1
            m2 = 0.0
            if count - 1 > 0:
                d = delta(agg, v[0])
                m2 = d * d / (count * (count - 1))
            return [plus(agg[0], v[0]), count, m2 + agg[2]]

        def undo(v: tuple, agg: list[Any]) -> list[Any]:
            if v[0] is None:
                return agg
            count = agg[1] - 1
            m2 = 0.0
            if count > 0:
                d = delta(agg, v[0])
                m2 = d * d / (count * (count + 1))
            return [minus(agg[0], v[0]), count, agg[2] - m2]

        def mean_difference(a: list[Any], b: list[Any]) -> float:
            if integral and not sqrt:
                return float(_java_div(a[0], a[1]) - _java_div(b[0], b[1]))
            return a[0] / a[1] - b[0] / b[1]

        def merge(a: list[Any], b: list[Any]) -> list[Any]:
            count = a[1] + b[1]
            if a[1] == 0 or b[1] == 0:
                m2 = a[2] + b[2]
            else:
                inner = mean_difference(a, b)
                m2 = a[2] + b[2] + a[1] * b[1] * inner * inner / count
            return [plus(a[0], b[0]), count, m2]

        def result(agg: list[Any]) -> float:
            if agg[1] < 2:
                return 0.0
            variance = agg[2] / (agg[1] - 1)
            return math.sqrt(variance) if sqrt else variance
        state = SqlStruct.of([("SUM", types[0]), ("COUNT", BIGINT), ("M2", DOUBLE)])
        return Udaf(name, DOUBLE, state, lambda: [_ZERO[base], 0, 0.0], aggregate, merge, result, undo=undo)
    return factory


def _java_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


for _name, _sqrt in (("STDDEV_SAMP", False), ("STDDEV_SAMPLE", True)):
    REGISTRY.register(_name, *(Overload((check,), _stddev(_name, _sqrt)) for check in (_INT, _LONG, _DOUBLE)))


# ------------------------------------------------------------------------------------------- CORRELATION


def _correlation(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    def aggregate(v: tuple, agg: list[Any]) -> list[Any]:
        if v[0] is None or v[1] is None:
            return agg
        x, y = float(v[0]), float(v[1])
        return [agg[0] + x, agg[1] + y, agg[2] + x * x, agg[3] + y * y, agg[4] + x * y, agg[5] + 1]

    def undo(v: tuple, agg: list[Any]) -> list[Any]:
        if v[0] is None or v[1] is None:
            return agg
        x, y = float(v[0]), float(v[1])
        return [agg[0] - x, agg[1] - y, agg[2] - x * x, agg[3] - y * y, agg[4] - x * y, agg[5] - 1]

    def result(agg: list[Any]) -> float:
        sum_x, sum_y, sq_x, sq_y, sum_xy, count = agg
        numerator = count * sum_xy - sum_x * sum_y
        denominator = math.sqrt((count * sq_x - sum_x * sum_x) * (count * sq_y - sum_y * sum_y))
        if denominator == 0:
            return math.nan if numerator == 0 else math.copysign(math.inf, numerator)
        return numerator / denominator
    state = SqlStruct.of([(n, DOUBLE) for n in ("X_SUM", "Y_SUM", "X_SQUARED_SUM", "Y_SQUARED_SUM", "XY_SUM")]
                         + [("COUNT", BIGINT)])
    return Udaf("CORRELATION", DOUBLE, state, lambda: [0.0, 0.0, 0.0, 0.0, 0.0, 0], aggregate,
                lambda a, b: [x + y for x, y in zip(a, b)], result, undo=undo)


REGISTRY.register("CORRELATION", *(Overload((check, check), _correlation) for check in (_INT, _LONG, _DOUBLE)))


# ------------------------------------------------------------------------------------------------- ATTR


def _attr(types: list[SqlType], init: list[Any], config: Mapping[str, Any]) -> Udaf:
    def update(agg: list[Any], value: Any, count: int) -> list[Any]:
        out = [list(e) for e in agg]
        for entry in out:
            if entry[0] == value:
                entry[1] += count
                return out
        out.append([value, count])
        return out

    def result(agg: list[Any]) -> Any:
        live = [e for e in agg if e[1] > 0]
        return live[0][0] if len(live) == 1 else None

    def merge(a: list[Any], b: list[Any]) -> list[Any]:
        for value, count in b:
            a = update(a, value, count)
        return a
    state = SqlArray(SqlStruct.of([("VALUE", types[0]), ("COUNT", INTEGER)]))
    return Udaf("ATTR", types[0], state, lambda: [], lambda v, agg: update(agg, v[0], 1), merge, result,
                undo=lambda v, agg: update(agg, v[0], -1))


REGISTRY.register("ATTR", Overload((ANY,), _attr))
