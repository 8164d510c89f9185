"""ARRAY, MAP, lambda, NULL-handling and URL functions."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from labkit.engine.functions import FunctionError, LambdaArg, resolve
from labkit.engine.types import (
    BIGINT, BOOLEAN, DOUBLE, INTEGER, STRING, SqlArray, SqlDecimal, SqlMap, SqlStruct,
)

S, I = STRING, INTEGER
AI, AS, AD = SqlArray(INTEGER), SqlArray(STRING), SqlArray(DOUBLE)
NAN = float("nan")


@pytest.mark.parametrize("name,types,args,expected", [
    ("ARRAY_LENGTH", [AI], ([1, None, 3],), 3),
    ("ARRAY_LENGTH", [AI], (None,), None),
    ("ARRAY_CONTAINS", [AS, S], (["Pink", None], "Pink"), True),
    ("ARRAY_CONTAINS", [AS, S], (["Pink", None], None), True),
    ("ARRAY_CONTAINS", [AS, S], (None, "Pink"), False),
    ("ARRAY_CONTAINS", [AD, DOUBLE], ([NAN], NAN), True),
    ("ARRAY_DISTINCT", [AS], (["foo", "bar", "foo", None, None],), ["foo", "bar", None]),
    ("ARRAY_DISTINCT", [SqlArray(SqlMap(S, I))], ([{"a": 1}, {"a": 1}, None],), [{"a": 1}, None]),
    ("ARRAY_DISTINCT", [AD], ([0.0, -0.0],), [0.0, -0.0]),
    ("ARRAY_EXCEPT", [AS, AS], (["foo", "bar", "foo"], ["bar", "baz"]), ["foo"]),
    ("ARRAY_EXCEPT", [AS, AS], (["foo"], None), None),
    ("ARRAY_INTERSECT", [AI, AI], ([0, 0, 1, 0, -1], [1, -2, 0]), [0, 1]),
    ("ARRAY_UNION", [AI, AI], ([0, 0, 1, 0, -1], [1, -2, 0]), [0, 1, -1, -2]),
    ("ARRAY_UNION", [AI, AI], (None, [1]), None),
    ("ARRAY_CONCAT", [AI, AI], (None, [1, -2]), [1, -2]),
    ("ARRAY_CONCAT", [AI, AI], (None, None), None),
    ("ARRAY_REMOVE", [AS, S], (["foo", "bar", "foo"], "foo"), ["bar"]),
    ("ARRAY_REMOVE", [AI, I], ([0, None, 1], None), [0, 1]),
    ("ARRAY_MAX", [AS], (["foo", "fo", "Food", None, "F", "food"],), "food"),
    ("ARRAY_MAX", [SqlArray(BOOLEAN)], ([None, False, True],), True),
    ("ARRAY_MIN", [SqlArray(SqlDecimal(2, 1))], ([Decimal("1.0"), Decimal("-9.9")],), Decimal("-9.9")),
    ("ARRAY_MIN", [AI], ([],), None),
    ("ARRAY_SORT", [AI], ([3, None, 1, 2],), [1, 2, 3, None]),
    ("ARRAY_SORT", [AS, S], (["b", None, "a"], "desc"), ["b", "a", None]),
    ("ARRAY_SORT", [AS, S], (["b", "a"], "sideways"), None),
    ("ARRAY_JOIN", [SqlArray(BOOLEAN)], ([True, None, False],), "true,null,false"),
    ("ARRAY_JOIN", [AD, S], ([1.23, -23.42, 0.0], " "), "1.23 -23.42 0.0"),
    ("ARRAY_JOIN", [SqlArray(SqlDecimal(5, 2)), S], ([Decimal("123.45"), Decimal("987.65")], "#"), "123.45#987.65"),
    ("ARRAY_JOIN", [AS, S], (["Hello", "From", "", "Ksqldb"], None), "HelloFromKsqldb"),
    ("SLICE", [AS, I, I], (["a", "b", "c", "d"], 2, 3), ["b", "c"]),
    ("SLICE", [AS, I, I], (["a", "b"], None, None), ["a", "b"]),
    ("SLICE", [AS, I, I], (["a", "b"], 0, 1), None),
    ("SLICE", [AS, I, I], (["a", "b"], 1, 5), None),
    ("GENERATE_SERIES", [I, I], (1, 4), [1, 2, 3, 4]),
    ("GENERATE_SERIES", [I, I], (4, 1), [4, 3, 2, 1]),
    ("GENERATE_SERIES", [BIGINT, BIGINT, I], (0, 9, 4), [0, 4, 8]),
    ("MAP_KEYS", [SqlMap(S, I)], ({"foo": 10, "bar": None},), ["foo", "bar"]),
    ("MAP_VALUES", [SqlMap(S, I)], ({"foo": 10, "bar": None},), [10, None]),
    ("MAP_UNION", [SqlMap(S, I), SqlMap(S, I)], ({"a": 1, "b": 2}, {"b": 3}), {"a": 1, "b": 3}),
    ("MAP_UNION", [SqlMap(S, I), SqlMap(S, I)], (None, {"b": 3}), {"b": 3}),
    ("MAP_UNION", [SqlMap(S, I), SqlMap(S, I)], (None, None), None),
    ("AS_MAP", [AS, AI], (["a", "b", "c"], [1, 2]), {"a": 1, "b": 2, "c": None}),
    ("ENTRIES", [SqlMap(S, I), BOOLEAN], ({"b": 2, "a": 1}, True), [{"K": "a", "V": 1}, {"K": "b", "V": 2}]),
    ("ENTRIES", [SqlMap(S, S), BOOLEAN], ({"b": "x"}, False), [{"K": "b", "V": "x"}]),
    ("COALESCE", [I, I, I], (None, None, 3), 3),
    ("COALESCE", [S], (None,), None),
    ("IFNULL", [AI, AI], (None, [10, 20]), [10, 20]),
    ("IFNULL", [I, I], (1, 10), 1),
    ("NULLIF", [S, S], ("a", "a"), None),
    ("NULLIF", [S, S], ("a", "b"), "a"),
    ("NULLIF", [S, S], ("a", None), "a"),
    ("AS_VALUE", [I], (5,), 5),
])
def test_collection_and_null_functions(name: str, types: list, args: tuple, expected: Any) -> None:
    assert resolve(name, types).call(*args) == expected


def test_generate_series_step_errors() -> None:
    with pytest.raises(FunctionError, match="GENERATE_SERIES step cannot be zero"):
        resolve("GENERATE_SERIES", [I, I, I]).call(1, 5, 0)
    with pytest.raises(FunctionError, match="GENERATE_SERIES step has wrong sign"):
        resolve("GENERATE_SERIES", [I, I, I]).call(1, 5, -1)


def test_entries_return_type_is_an_array_of_key_value_structs() -> None:
    resolved = resolve("ENTRIES", [SqlMap(S, DOUBLE), BOOLEAN])
    assert resolved.return_type == SqlArray(SqlStruct.of([("K", STRING), ("V", DOUBLE)]))


def test_lambda_functions_apply_python_callables() -> None:
    transform = resolve("TRANSFORM", [AI, LambdaArg(1, (INTEGER,), INTEGER)])
    assert transform.call([1, 2, None], lambda x: None if x is None else x * 10) == [10, 20, None]
    assert transform.call(None, lambda x: x) is None
    transform_map = resolve("TRANSFORM", [SqlMap(S, I), LambdaArg(2, (S, I), S), LambdaArg(2, (S, I), I)])
    assert transform_map.return_type == SqlMap(STRING, INTEGER)
    assert transform_map.call({"a": 1, "b": 2}, lambda k, v: k.upper(), lambda k, v: v + 1) == {"A": 2, "B": 3}
    with pytest.raises(FunctionError, match="Duplicate key x"):
        transform_map.call({"a": 1, "b": 2}, lambda k, v: "x", lambda k, v: v)
    keep = resolve("FILTER", [AI, LambdaArg(1, (INTEGER,), BOOLEAN)])
    assert keep.call([1, 2, 3, 4], lambda x: x % 2 == 0) == [2, 4]
    keep_map = resolve("FILTER", [SqlMap(S, I), LambdaArg(2, (S, I), BOOLEAN)])
    assert keep_map.call({"a": 1, "b": 2}, lambda k, v: v > 1) == {"b": 2}
    total = resolve("REDUCE", [AI, BIGINT, LambdaArg(2, (BIGINT, INTEGER), BIGINT)])
    assert total.return_type == BIGINT and total.call([1, 2, 3], 10, lambda s, x: s + x) == 16
    assert total.call(None, 10, lambda s, x: s + x) == 10 and total.call([1], None, lambda s, x: s + x) is None
    fold = resolve("REDUCE", [SqlMap(S, I), S, LambdaArg(3, (S, S, I), S)])
    assert fold.call({"a": 1, "b": 2}, "", lambda s, k, v: s + k * v) == "abb"


@pytest.mark.parametrize("name,args,expected", [
    ("URL_ENCODE_PARAM", ("?foo $bar",), "%3Ffoo+%24bar"),
    ("URL_ENCODE_PARAM", ("hello&world~é",), "hello%26world%7E%C3%A9"),
    ("URL_DECODE_PARAM", ("%3Ffoo+%24bar",), "?foo $bar"),
    ("URL_EXTRACT_FRAGMENT", ("http://www.test.com/?query#fragment",), "fragment"),
    ("URL_EXTRACT_FRAGMENT", ("http://www.nofragment.com",), None),
    ("URL_EXTRACT_HOST", ("http://test@confluent.io:8080",), "confluent.io"),
    ("URL_EXTRACT_PATH", ("http://www.test.com?query#fragment",), ""),
    ("URL_EXTRACT_PATH", ("http://test@confluent.io:8080/nested/path?query&jobs",), "/nested/path"),
    ("URL_EXTRACT_PATH", ("http://x.io/a%20b",), "/a b"),
    ("URL_EXTRACT_PORT", ("http://test@confluent.io",), None),
    ("URL_EXTRACT_PORT", ("http://test@confluent.io:8080/nested/path?query&jobs",), 8080),
    ("URL_EXTRACT_PROTOCOL", ("https://test@confluent.io:8080/nested/path?query&jobs",), "https"),
    ("URL_EXTRACT_PROTOCOL", ("www.confluent.io",), None),
    ("URL_EXTRACT_QUERY", ("http://www.test.com/path?q1&q2",), "q1&q2"),
    ("URL_EXTRACT_QUERY", ("http://test@confluent.io:8080/path",), None),
    ("URL_EXTRACT_PARAMETER", ("http://www.test.com/?one=a&two=b&three", "two"), "b"),
    ("URL_EXTRACT_PARAMETER", ("http://www.test.com/?one=a&two=b&three", "three"), ""),
    ("URL_EXTRACT_PARAMETER", ("http://www.test.com/?one=a", "four"), None),
])
def test_url_functions(name: str, args: tuple, expected: Any) -> None:
    assert resolve(name, [STRING] * len(args)).call(*args) == expected


def test_url_syntax_errors() -> None:
    with pytest.raises(FunctionError, match="URL input has invalid syntax: http://a b"):
        resolve("URL_EXTRACT_HOST", [STRING]).call("http://a b")
    with pytest.raises(FunctionError, match="Illegal hex characters"):
        resolve("URL_DECODE_PARAM", [STRING]).call("%zz")


def test_sorting_incomparable_elements_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="not comparable"):
        resolve("ARRAY_SORT", [SqlArray(SqlMap(S, I))]).call([{"a": 1}, {"b": 2}])
