"""ARRAY and MAP functions, lambda functions (TRANSFORM, FILTER, REDUCE) and NULL handling.

Lambda arguments are plain Python callables supplied by the expression compiler.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Callable

from labkit.engine.functions.casts import java_string
from labkit.engine.functions.registry import (
    ArrayOf, FunctionError, Generic, LambdaOf, MapOf, p, register, udf,
)
from labkit.engine.types import (
    BIGINT, BOOLEAN, DOUBLE, INTEGER, STRING, SqlArray, SqlStruct, SqlType, infer_type,
)

ARRAY, MAP, LAMBDA, CONDITIONAL = "ARRAY", "MAP", "LAMBDA", "CONDITIONAL"
T, U, K, V, R, S_ = Generic("T"), Generic("U"), Generic("K"), Generic("V"), Generic("R"), Generic("S")


def java_equals(a: Any, b: Any) -> bool:
    """Objects.equals for ksqlDB values: NaN equals NaN, 0.0 differs from -0.0, decimals compare with scale."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b and a.as_tuple().exponent == b.as_tuple().exponent
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(java_equals(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(java_equals(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b if a is not None and b is not None else a is b


def _distinct_values(values: list[Any]) -> list[Any]:
    """LinkedHashSet semantics: first occurrence wins, order kept."""
    result: list[Any] = []
    for v in values:
        if not any(java_equals(v, seen) for seen in result):
            result.append(v)
    return result


def _contains(values: list[Any], value: Any) -> bool:
    return any(java_equals(v, value) for v in values)


def _sort_key(value: Any) -> Any:
    if isinstance(value, float):
        return (1, 0.0, 0.0) if math.isnan(value) else (0, value, math.copysign(1.0, value))
    if isinstance(value, str):
        return value.encode("utf-16-be", "surrogatepass")
    if isinstance(value, (bytes, bytearray)):
        return tuple(b - 256 if b > 127 else b for b in value)
    return value


def _array_length(array: list[Any] | None) -> int | None:
    return None if array is None else len(array)


def _array_contains(array: list[Any] | None, value: Any) -> bool:
    return array is not None and _contains(array, value)


def _array_distinct(array: list[Any] | None) -> list[Any] | None:
    return None if array is None else _distinct_values(array)


def _array_except(left: list[Any] | None, right: list[Any] | None) -> list[Any] | None:
    if left is None or right is None:
        return None
    return [v for v in _distinct_values(left) if not _contains(right, v)]


def _array_intersect(left: list[Any] | None, right: list[Any] | None) -> list[Any] | None:
    if left is None or right is None:
        return None
    return [v for v in _distinct_values(left) if _contains(right, v)]


def _array_union(left: list[Any] | None, right: list[Any] | None) -> list[Any] | None:
    if left is None or right is None:
        return None
    return _distinct_values(left + right)


def _array_concat(left: list[Any] | None, right: list[Any] | None) -> list[Any] | None:
    if left is None and right is None:
        return None
    return list(left or []) + list(right or [])


def _array_remove(array: list[Any] | None, victim: Any) -> list[Any] | None:
    return None if array is None else [v for v in array if not java_equals(v, victim)]


def _array_extreme(pick: Callable[..., Any]) -> Callable[[list[Any] | None], Any]:
    def impl(array: list[Any] | None) -> Any:
        if array is None:
            return None
        values = [v for v in array if v is not None]
        try:
            return pick(values, key=_sort_key) if values else None
        except TypeError as e:
            raise FunctionError(f"Elements are not comparable: {e}") from e
    return impl


def _array_sort(array: list[Any] | None, direction: str | None = "ASC") -> list[Any] | None:
    if array is None or direction is None:
        return None
    order = direction.upper()
    if order not in ("ASC", "ASCENDING", "DESC", "DESCENDING"):
        return None
    try:
        present = sorted((v for v in array if v is not None), key=_sort_key, reverse=order.startswith("DESC"))
    except TypeError as e:
        raise FunctionError(f"Elements are not comparable: {e}") from e
    return present + [None] * (len(array) - len(present))


_JOINABLE = (bool, int, float, Decimal, str)


def _array_join(array: list[Any] | None, delimiter: str | None = ",") -> str | None:
    if array is None:
        return None
    parts = []
    for element in array:
        if element is not None and not isinstance(element, _JOINABLE):
            raise FunctionError(f"error: hit element of type {type(element).__name__} which is currently not "
                                "supported")
        element_type = infer_type(element) if element is not None else STRING
        parts.append(java_string(element, element_type or STRING, nested=True) if not isinstance(
            element, Decimal) else str(element))
    return ("" if delimiter is None else delimiter).join(parts)


def _slice(array: list[Any] | None, start: int | None, end: int | None) -> list[Any] | None:
    if array is None:
        return None
    first = 0 if start is None else start - 1
    last = len(array) if end is None else end
    if first < 0 or last > len(array) or first > last:
        return None
    return array[first:last]


def _generate_series(start: int, end: int, step: int | None = None) -> list[int]:
    if step is None:
        step = 1 if end - start > 0 else -1
    if step == 0:
        raise FunctionError("GENERATE_SERIES step cannot be zero")
    diff = end - start
    if (diff > 0 and step < 0) or (diff < 0 and step > 0):
        raise FunctionError("GENERATE_SERIES step has wrong sign")
    size = 1 + int(diff / step)
    return [start + i * step for i in range(size)]


def _entries(mapping: dict[str, Any] | None, sort: bool) -> list[dict[str, Any]] | None:
    if mapping is None:
        return None
    items = sorted(mapping.items(), key=lambda kv: _sort_key(kv[0])) if sort else list(mapping.items())
    return [{"K": k, "V": v} for k, v in items]


def _map_keys(mapping: dict[Any, Any] | None) -> list[Any] | None:
    return None if mapping is None else list(mapping.keys())


def _map_values(mapping: dict[Any, Any] | None) -> list[Any] | None:
    return None if mapping is None else list(mapping.values())


def _map_union(first: dict[Any, Any] | None, second: dict[Any, Any] | None) -> dict[Any, Any] | None:
    if first is None and second is None:
        return None
    return {**(first or {}), **(second or {})}


def _as_map(keys: list[str] | None, values: list[Any] | None) -> dict[str, Any] | None:
    if keys is None or values is None:
        return None
    return {k: values[i] if i < len(values) else None for i, k in enumerate(keys)}


def _transform_array(array: list[Any] | None, fn: Callable[[Any], Any] | None) -> list[Any] | None:
    return None if array is None or fn is None else [fn(v) for v in array]


def _transform_map(mapping: dict[Any, Any] | None, key_fn: Callable[[Any, Any], Any] | None,
                   value_fn: Callable[[Any, Any], Any] | None) -> dict[Any, Any] | None:
    if mapping is None or key_fn is None or value_fn is None:
        return None
    result: dict[Any, Any] = {}
    for k, v in mapping.items():
        new_key = key_fn(k, v)
        if new_key in result:
            raise FunctionError(f"Duplicate key {new_key} (attempted merging values {result[new_key]} and "
                                f"{value_fn(k, v)})")
        result[new_key] = value_fn(k, v)
    return result


def _filter_array(array: list[Any] | None, fn: Callable[[Any], Any] | None) -> list[Any] | None:
    return None if array is None or fn is None else [v for v in array if fn(v)]


def _filter_map(mapping: dict[Any, Any] | None, fn: Callable[[Any, Any], Any] | None) -> dict[Any, Any] | None:
    return None if mapping is None or fn is None else {k: v for k, v in mapping.items() if fn(k, v)}


def _reduce_array(array: list[Any] | None, state: Any, fn: Callable[[Any, Any], Any] | None) -> Any:
    if state is None or fn is None:
        return None
    for v in array or []:
        state = fn(state, v)
    return state


def _reduce_map(mapping: dict[Any, Any] | None, state: Any, fn: Callable[[Any, Any, Any], Any] | None) -> Any:
    if state is None or fn is None:
        return None
    for k, v in (mapping or {}).items():
        state = fn(state, k, v)
    return state


def _coalesce(first: Any, *others: Any) -> Any:
    if first is not None:
        return first
    return next((v for v in others if v is not None), None)


def _ifnull(expression: Any, alternative: Any) -> Any:
    return alternative if expression is None else expression


def _nullif(first: Any, second: Any) -> Any:
    if first is None or java_equals(first, second):
        return None
    return first


def _as_value(value: Any) -> Any:
    return value


# --- registration -------------------------------------------------------------------------------


def _entries_type(value_type: SqlType) -> SqlType:
    return SqlArray(SqlStruct.of([("K", STRING), ("V", value_type)]))


register("ARRAY_LENGTH", "Returns the length on an array.", ARRAY,
         udf(_array_length, [p("array", ArrayOf(T))], INTEGER))
register("ARRAY_CONTAINS", "Returns true if the array is non-null and contains the supplied value.", ARRAY,
         udf(_array_contains, [p("array", ArrayOf(T)), p("val", T)], BOOLEAN))
register("array_distinct", "Returns an array of all the distinct values, including NULL if present, from the input "
         "array.", ARRAY, udf(_array_distinct, [p("input", ArrayOf(T))], ArrayOf(T)))
register("array_except", "Returns an array of all the distinct elements from an array, except for those also "
         "present in a second array.", ARRAY,
         udf(_array_except, [p("left", ArrayOf(T)), p("right", ArrayOf(T))], ArrayOf(T)))
register("array_intersect", "Returns an array of all the distinct elements from the intersection of both input "
         "arrays.", ARRAY, udf(_array_intersect, [p("left", ArrayOf(T)), p("right", ArrayOf(T))], ArrayOf(T)))
register("array_union", "Returns an array of all the distinct elements from both input arrays.", ARRAY,
         udf(_array_union, [p("left", ArrayOf(T)), p("right", ArrayOf(T))], ArrayOf(T)))
register("array_concat", "Returns an array representing the concatenation of both input arrays.", ARRAY,
         udf(_array_concat, [p("left", ArrayOf(T)), p("right", ArrayOf(T))], ArrayOf(T)))
register("array_remove", "Removes all elements from the input array equal to an element.", ARRAY,
         udf(_array_remove, [p("array", ArrayOf(T)), p("victim", T)], ArrayOf(T)))
register("array_max", "Return the maximum value from within an array of primitive values, according to their "
         "natural sort order.", ARRAY, udf(_array_extreme(max), [p("input", ArrayOf(T))], T))
register("array_min", "Return the minimum value from within an array of primitive values, according to their "
         "natural sort order.", ARRAY, udf(_array_extreme(min), [p("input", ArrayOf(T))], T))
register("array_sort", "Sort an array of primitive values, according to their natural sort order, ascending or "
         "descending (nulls last).", ARRAY,
         udf(_array_sort, [p("input", ArrayOf(T))], ArrayOf(T)),
         udf(_array_sort, [p("input", ArrayOf(T)), p("direction", STRING)], ArrayOf(T)))
register("ARRAY_JOIN", "joins the array elements into a flat string representation", ARRAY,
         udf(_array_join, [p("array", ArrayOf(T))], STRING),
         udf(_array_join, [p("array", ArrayOf(T)), p("delimiter", STRING)], STRING))
register("slice", "Slice of an ARRAY (1-based, both ends inclusive).", ARRAY,
         udf(_slice, [p("in", ArrayOf(T)), p("from", INTEGER), p("to", INTEGER)], ArrayOf(T)))
register("GENERATE_SERIES", "Construct an array of a range of values", ARRAY,
         udf(_generate_series, [p("start", INTEGER, primitive=True), p("end", INTEGER, primitive=True)],
             SqlArray(INTEGER)),
         udf(_generate_series, [p("start", INTEGER, primitive=True), p("end", INTEGER, primitive=True),
                                p("step", INTEGER, primitive=True)], SqlArray(INTEGER)),
         udf(_generate_series, [p("start", BIGINT, primitive=True), p("end", BIGINT, primitive=True)],
             SqlArray(BIGINT)),
         udf(_generate_series, [p("start", BIGINT, primitive=True), p("end", BIGINT, primitive=True),
                                p("step", INTEGER, primitive=True)], SqlArray(BIGINT)))
register("ENTRIES", "Construct an array from the entries in a map", MAP,
         *[udf(_entries, [p("map", MapOf(STRING, t)), p("sorted", BOOLEAN, primitive=True)], _entries_type(t))
           for t in (INTEGER, BIGINT, DOUBLE, BOOLEAN, STRING)])
register("map_keys", "Returns an array of keys from the map.", MAP,
         udf(_map_keys, [p("input", MapOf(STRING, T))], SqlArray(STRING)))
register("map_values", "Returns an array of values from the map.", MAP,
         udf(_map_values, [p("input", MapOf(STRING, T))], ArrayOf(T)))
register("map_union", "Returns a new map containing the union of all entries from both input maps.", MAP,
         udf(_map_union, [p("map1", MapOf(STRING, T)), p("map2", MapOf(STRING, T))], MapOf(STRING, T)))
register("AS_MAP", "Construct a map from a list of keys and a list of values", MAP,
         udf(_as_map, [p("keys", SqlArray(STRING)), p("values", ArrayOf(T))], MapOf(STRING, T)))
register("transform", "Apply a function to each element in an array or each pair of key and value in a map.", LAMBDA,
         udf(_transform_array, [p("array", ArrayOf(T)), p("function", LambdaOf((T,), R))], ArrayOf(R)),
         udf(_transform_map, [p("map", MapOf(K, V)), p("biFunction1", LambdaOf((K, V), R)),
                              p("biFunction2", LambdaOf((K, V), U))], MapOf(R, U)))
register("filter", "Filter an array or map using a lambda that returns a BOOLEAN.", LAMBDA,
         udf(_filter_array, [p("array", ArrayOf(T)), p("function", LambdaOf((T,), BOOLEAN))], ArrayOf(T)),
         udf(_filter_map, [p("map", MapOf(K, V)), p("biFunction", LambdaOf((K, V), BOOLEAN))], MapOf(K, V)))
register("reduce", "Reduce an array or map into a single value using an initial state and a lambda.", LAMBDA,
         udf(_reduce_array, [p("list", ArrayOf(T)), p("initialState", S_), p("biFunction", LambdaOf((S_, T), S_))],
             S_),
         udf(_reduce_map, [p("map", MapOf(K, V)), p("initialState", S_),
                           p("triFunction", LambdaOf((S_, K, V), S_))], S_))
register("COALESCE", "Returns the first parameter that is not NULL.", CONDITIONAL,
         udf(_coalesce, [p("first", T), p("others", T, variadic=True)], T))
register("IFNULL", "Returns expression if not NULL, otherwise the second parameter.", CONDITIONAL,
         udf(_ifnull, [p("expression", T), p("altValue", T)], T))
register("NULLIF", "Returns NULL if the two parameters are equal, otherwise the first parameter.", CONDITIONAL,
         udf(_nullif, [p("expr1", T), p("expr2", T)], T))
register("AS_VALUE", "Used exclusively in the projection of a query to allow a key column to be copied into the "
         "value schema.", "OTHER", udf(_as_value, [p("keyColumn", T)], T))
