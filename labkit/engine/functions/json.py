"""JSON functions over JSON text held in STRING columns (EXTRACTJSONFIELD, JSON_KEYS, TO_JSON_STRING, ...)."""
from __future__ import annotations

import base64
import functools
from decimal import Decimal
from typing import Any

from labkit.engine.functions.jsontext import MISSING, JsonTextError, json_dumps, json_loads
from labkit.engine.functions.registry import Generic, FunctionError, p, register, udf
from labkit.engine.types import (
    BOOLEAN, INTEGER, STRING, SqlArray, SqlMap, format_date_text, format_time_text, format_timestamp_text,
)
import datetime as dt

JSON = "JSON"


def _parse(text: str) -> Any:
    try:
        return json_loads(text)
    except JsonTextError as e:
        raise FunctionError(f"Invalid JSON format:{text}") from e


@functools.lru_cache(maxsize=256)
def json_path_tokens(path: str) -> tuple[str, ...]:
    """Tokens of a JSONPath like '$.a.b[0]["c d"]' as ksqlDB's JsonPathTokenizer reads it."""
    invalid = FunctionError(f"Invalid JSON path: '{path}'")
    if not path or path[0] != "$":
        raise invalid
    tokens: list[str] = []
    i = 1

    def run(start: int, allowed: str) -> int:
        end = start
        while end < len(path) and (path[end].isalnum() or path[end] in allowed):
            end += 1
        return end

    while i < len(path):
        if path[i] == ".":
            end = run(i + 1, "_:@")
            if end == i + 1:
                raise invalid
            tokens.append(path[i + 1:end])
            i = end
        elif path[i] == "[":
            if path[i + 1:i + 2] == '"':
                j, token = i + 2, []
                while j < len(path) and path[j] != '"':
                    if path[j] == "\\":
                        if path[j + 1:j + 2] not in ('"', "\\"):
                            raise invalid
                        j += 1
                    token.append(path[j])
                    j += 1
                if j >= len(path):
                    raise invalid
                tokens.append("".join(token))
                i = j + 1
            else:
                end = run(i + 1, "_")
                if end == i + 1:
                    raise invalid
                tokens.append(path[i + 1:end])
                i = end
            if path[i:i + 1] != "]":
                raise invalid
            i += 1
        else:
            raise invalid
    return tuple(tokens)


def _node_text(node: Any) -> str:
    """JsonNode.toString(), or the raw text for string nodes (asText)."""
    return node if isinstance(node, str) else json_dumps(node, plain_decimals=False)


def _extract(text: str | None, path: str | None) -> str | None:
    if text is None or path is None:
        return None
    tokens = json_path_tokens(path)
    node = _parse(text)
    for token in tokens:
        if isinstance(node, list):
            try:
                index = int(token)
            except ValueError:
                return None
            node = node[index] if 0 <= index < len(node) else MISSING
        elif isinstance(node, dict):
            node = node.get(token, MISSING)
        else:
            node = MISSING
        if node is MISSING:
            return None
    if node is MISSING:
        return None
    return _node_text(node)


def _is_json_string(text: str | None) -> bool:
    if text is None:
        return False
    try:
        return json_loads(text) is not MISSING
    except JsonTextError:
        return False


def _array_length(text: str | None) -> int | None:
    if text is None:
        return None
    node = _parse(text)
    return len(node) if isinstance(node, list) else None


def _array_contains(text: str | None, value: Any) -> bool:
    if text is None:
        return False
    try:
        node = json_loads(text)
    except JsonTextError:
        return False
    if not isinstance(node, list):
        return False
    for item in node:
        if item is None and value is None:
            return True
        if value is None or item is None:
            continue
        if isinstance(value, bool) or isinstance(item, bool):
            if isinstance(value, bool) and isinstance(item, bool) and value == item:
                return True
        elif isinstance(value, int) and isinstance(item, int) and value == item:
            return True
        elif isinstance(value, float) and isinstance(item, Decimal) and float(item) == value:
            return True
        elif isinstance(value, str) and isinstance(item, str) and value == item:
            return True
    return False


def _concat(*texts: str | None) -> str | None:
    nodes = []
    for text in texts:
        if text is None:
            return None
        node = _parse(text)
        if node is MISSING:
            return None
        nodes.append(node)
    if not nodes:
        return None
    if all(isinstance(n, dict) for n in nodes):
        result: dict[str, Any] = {}
        for n in nodes:
            result.update(n)
        return json_dumps(result)
    merged: list[Any] = []
    for n in nodes:
        merged.extend(n if isinstance(n, list) else [n])
    return json_dumps(merged)


def _keys(text: str | None) -> list[str] | None:
    if text is None:
        return None
    node = _parse(text)
    return list(node) if isinstance(node, dict) else None


def _records(text: str | None) -> dict[str, str] | None:
    if text is None:
        return None
    node = _parse(text)
    if not isinstance(node, dict):
        return None
    return {k: _node_text(v) for k, v in node.items()}


def _items(text: str | None) -> list[str] | None:
    if text is None:
        return None
    node = _parse(text)
    if not isinstance(node, list):
        raise FunctionError(f"Invalid JSON format:{text}")
    return [json_dumps(item, plain_decimals=False) for item in node]


def _prepare(value: Any) -> Any:
    """The Java objects TO_JSON_STRING hands to Jackson: dates as text, maps/structs sorted by key."""
    if isinstance(value, dt.datetime):
        return format_timestamp_text(value)
    if isinstance(value, dt.date):
        return format_date_text(value)
    if isinstance(value, dt.time):
        return format_time_text(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _prepare(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_prepare(v) for v in value]
    return value


def _to_json_string(value: Any) -> str:
    return json_dumps(_prepare(value))


T = Generic("T")
S = STRING
register("extractjsonfield", "Given a STRING that contains JSON data, extract the value at the specified JSONPath "
         "or NULL if the specified path does not exist.", JSON,
         udf(_extract, [p("input", S), p("path", S)], S))
register("IS_JSON_STRING", "Given a STRING, returns true if it can be parsed as a valid JSON value, false "
         "otherwise.", JSON, udf(_is_json_string, [p("input", S)], BOOLEAN))
register("JSON_ARRAY_LENGTH", "Given a STRING that contains a JSON array, returns the length of the array.", JSON,
         udf(_array_length, [p("jsonArray", S)], INTEGER))
register("JSON_ARRAY_CONTAINS", "Parses a JSON array and determines whether or not the supplied value is contained "
         "within the array.", JSON, udf(_array_contains, [p("jsonArray", S), p("val", T)], BOOLEAN))
register("JSON_CONCAT", "Given N strings, parse them as JSON values and return a string representing the "
         "concatenation of these values.", JSON, udf(_concat, [p("jsonStrings", S, variadic=True)], S))
register("JSON_KEYS", "Given a STRING that contains JSON data, returns an array of the keys of the top-level "
         "object.", JSON, udf(_keys, [p("jsonObj", S)], SqlArray(S)))
register("JSON_RECORDS", "Given a STRING that contains JSON data, returns a map of the top-level object's keys to "
         "their values as JSON strings.", JSON, udf(_records, [p("jsonObj", S)], SqlMap(S, S)))
register("JSON_ITEMS", "Given a STRING that contains a JSON array, returns an array of the array's elements as "
         "JSON strings.", JSON, udf(_items, [p("jsonItems", S)], SqlArray(S)))
register("TO_JSON_STRING", "Given any ksqlDB type returns the equivalent JSON string.", JSON,
         udf(_to_json_string, [p("input", T)], S))
