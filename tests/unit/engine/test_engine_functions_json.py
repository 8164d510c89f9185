"""JSON functions over JSON text: JSONPath extraction, arrays, keys, records, concatenation, TO_JSON_STRING."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from labkit.engine.functions import FunctionError, resolve
from labkit.engine.types import (
    BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, SqlArray, SqlDecimal, SqlMap, SqlStruct,
    timestamp_from_millis,
)

S = STRING
DOC = '{"name": "ada", "tags": ["a", "b"], "n": 1.50, "nested": {"x y": [true, null]}, "big": 1E3}'


@pytest.mark.parametrize("path,expected", [
    ("$.name", "ada"),
    ("$.tags", '["a","b"]'),
    ("$.tags[1]", "b"),
    ("$.tags[2]", None),
    ("$.tags.x", None),
    ("$.n", "1.50"),
    ("$.big", "1E+3"),
    ('$.nested["x y"][0]', "true"),
    ('$["nested"]["x y"][1]', "null"),
    ("$.missing.deeper", None),
    ("$", '{"name":"ada","tags":["a","b"],"n":1.50,"nested":{"x y":[true,null]},"big":1E+3}'),
])
def test_extractjsonfield_follows_ksqldb_jsonpath(path: str, expected: Any) -> None:
    assert resolve("EXTRACTJSONFIELD", [S, S]).call(DOC, path) == expected


@pytest.mark.parametrize("path", ["", "name", "$..name", "$.", "$[abc", '$["a\\b"]', "$.tags[-1]"])
def test_extractjsonfield_rejects_invalid_paths(path: str) -> None:
    """ksqlDB fails the call (the engine yields NULL), e.g. QTT extract-json-field 'array bounds'."""
    with pytest.raises(FunctionError, match="Invalid JSON path"):
        resolve("EXTRACTJSONFIELD", [S, S]).call(DOC, path)


def test_extractjsonfield_on_invalid_json_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="Invalid JSON format:abc"):
        resolve("EXTRACTJSONFIELD", [S, S]).call("abc", "$.a")
    assert resolve("EXTRACTJSONFIELD", [S, S]).call(None, "$.a") is None
    assert resolve("EXTRACTJSONFIELD", [S, S]).call("", "$.a") is None


@pytest.mark.parametrize("name,args,expected", [
    ("IS_JSON_STRING", ("1",), True),
    ("IS_JSON_STRING", ("abc",), False),
    ("IS_JSON_STRING", ("[1, 2, 3]",), True),
    ("IS_JSON_STRING", ('"abc"',), True),
    ("IS_JSON_STRING", ("",), False),
    ("IS_JSON_STRING", (None,), False),
    ("JSON_ARRAY_LENGTH", ('["Red", "Green"]',), 2),
    ("JSON_ARRAY_LENGTH", ("[]",), 0),
    ("JSON_ARRAY_LENGTH", ("",), None),
    ("JSON_ARRAY_LENGTH", ('{"a": 1}',), None),
    ("JSON_KEYS", ('{"Red": 3, "Green": 5}',), ["Red", "Green"]),
    ("JSON_KEYS", ("{}",), []),
    ("JSON_KEYS", ("[1]",), None),
    ("JSON_KEYS", ("",), None),
    ("JSON_RECORDS", ('{"Red": 3, "White": "Seven", "x": [1, 2.5]}',), {"Red": "3", "White": "Seven", "x": "[1,2.5]"}),
    ("JSON_RECORDS", ("",), None),
    ("JSON_ITEMS", ('[{"a": 1}, 2, "x"]',), ['{"a":1}', "2", '"x"']),
    ("JSON_CONCAT", ('{"a": 1}', '{"b": 2}'), '{"a":1,"b":2}'),
    ("JSON_CONCAT", ('{"a": {"5": 6}}', '{"a": {"3": 4}}'), '{"a":{"3":4}}'),
    ("JSON_CONCAT", ("[1, 2]", '{"a": 1}', "4"), '[1,2,{"a":1},4]'),
    ("JSON_CONCAT", ("null", "null"), "[null,null]"),
    ("JSON_CONCAT", ("1", ""), None),
    ("JSON_CONCAT", (None, "1"), None),
])
def test_json_functions(name: str, args: tuple, expected: Any) -> None:
    assert resolve(name, [S] * len(args)).call(*args) == expected


@pytest.mark.parametrize("value_type,value,expected", [
    (S, "Pink", True),
    (S, "Blue", False),
    (INTEGER, 1, True),
    (DOUBLE, 2.5, True),
    (DOUBLE, 1.0, False),
    (BOOLEAN, True, True),
])
def test_json_array_contains(value_type, value, expected: bool) -> None:
    contains = resolve("JSON_ARRAY_CONTAINS", [S, value_type]).call
    assert contains('["Pink", 1, 2.5, true, [3], {"a": "Blue"}]', value) is expected
    assert contains('["Pink", null]', None) is True and contains(None, value) is False


@pytest.mark.parametrize("value_type,value,expected", [
    (INTEGER, 1, "1"),
    (INTEGER, None, "null"),
    (S, 'a"b', '"a\\"b"'),
    (BOOLEAN, True, "true"),
    (SqlDecimal(6, 3), Decimal("123.456"), "123.456"),
    (DOUBLE, 1e10, "1.0E10"),
    (BYTES, b"!", '"IQ=="'),
    (DATE, dt.date(1972, 9, 27), '"1972-09-27"'),
    (TIME, dt.time(10, 30), '"10:30"'),
    (TIMESTAMP, timestamp_from_millis(60220000000), '"1971-11-28T23:46:40.000"'),
    (SqlArray(INTEGER), [1, 2, 3], "[1,2,3]"),
    (SqlStruct.of([("NAME", S), ("ID", INTEGER)]), {"NAME": "Alice", "ID": 1}, '{"ID":1,"NAME":"Alice"}'),
    (SqlMap(S, SqlArray(INTEGER)), {"id": [1, 2, 3], "a": []}, '{"a":[],"id":[1,2,3]}'),
])
def test_to_json_string(value_type, value, expected: str) -> None:
    assert resolve("TO_JSON_STRING", [value_type]).call(value) == expected
