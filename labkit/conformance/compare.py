"""Compare expected and actual records and post-conditions the way ksqlDB's harness does."""
from __future__ import annotations

import decimal
import re
from typing import Any

from labkit.conformance.driver import TestRecord

_TYPE_ALIASES = {"INT": "INTEGER", "VARCHAR": "STRING", "LONG": "BIGINT"}


def values_equal(expected: Any, actual: Any) -> bool:
    """JSON-ish equality: doubles within 1e-6, ints exact, objects by field (exact name, then upper-cased)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or expected == actual and type(expected) is type(actual)
    if isinstance(expected, (int, float, decimal.Decimal)) and isinstance(actual, (int, float, decimal.Decimal)):
        if isinstance(expected, int) and isinstance(actual, int):
            return expected == actual
        return abs(decimal.Decimal(str(expected)) - decimal.Decimal(str(actual))) <= decimal.Decimal("0.000001")
    if isinstance(expected, dict) and isinstance(actual, dict):
        # As ksqlDB's comparator: a field absent on one side equals an explicit null on the other.
        names = {name.upper(): name for name in actual}
        for name, value in expected.items():
            if name in actual:
                other = actual[name]
            elif name.upper() in names:
                other = actual[names[name.upper()]]
            else:
                other = None
            if not values_equal(value, other):
                return False
        matched = {n if n in actual else names.get(n.upper()) for n in expected}
        return all(actual[name] is None for name in actual if name not in matched)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(values_equal(e, a) for e, a in zip(expected, actual))
    if isinstance(expected, str) and isinstance(actual, decimal.Decimal):
        # ksqlDB's ExpectedRecordComparator.compareText: new BigDecimal(text).equals(actual), scale included
        try:
            wanted = decimal.Decimal(expected)
        except decimal.InvalidOperation:
            return False
        return wanted == actual and wanted.as_tuple().exponent == actual.as_tuple().exponent
    return expected == actual


def record_mismatch(expected: dict, actual: TestRecord) -> str | None:
    """Why `actual` does not match the expected record dict, or None if it does."""
    exp_window = expected.get("window")
    if exp_window is not None:
        if actual.window is None:
            return f"expected window {exp_window}, got an unwindowed key"
        for key in ("start", "end"):
            if key in exp_window and exp_window[key] != actual.window.get(key):
                return f"window {key}: expected {exp_window[key]}, got {actual.window.get(key)}"
    if not values_equal(expected.get("key"), actual.key):
        return f"key: expected {expected.get('key')!r}, got {actual.key!r}"
    if not values_equal(expected.get("value"), actual.value):
        return f"value: expected {expected.get('value')!r}, got {actual.value!r}"
    if "timestamp" in expected and expected["timestamp"] is not None and actual.timestamp is not None:
        if expected["timestamp"] != actual.timestamp:
            return f"timestamp: expected {expected['timestamp']}, got {actual.timestamp}"
    return None


def outputs_mismatch(expected: list[dict], produced: dict[str, list[TestRecord]]) -> str | None:
    """Compare expected outputs per topic, in order; None when all match."""
    by_topic: dict[str, list[dict]] = {}
    for record in expected:
        by_topic.setdefault(record["topic"], []).append(record)
    for topic, records in by_topic.items():
        actual = produced.get(topic, [])
        for index, (exp, act) in enumerate(zip(records, actual)):
            problem = record_mismatch(exp, act)
            if problem:
                return f"topic {topic} record {index}: {problem}"
        if len(actual) != len(records):
            return f"topic {topic}: expected {len(records)} records, got {len(actual)}"
    return None


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def normalize_schema(schema: str) -> list[str]:
    """A column-list schema ("`ID` BIGINT KEY, NAME STRING") in one canonical spelling per column."""
    columns = []
    for part in _split_top_level(schema):
        text = " ".join(part.replace("`", "").split()).upper()
        text = re.sub(r"\bPRIMARY KEY$", "KEY", text)  # both mark a key column; ksqlDB compares parsed schemas
        for alias, canonical in _TYPE_ALIASES.items():
            text = re.sub(rf"\b{alias}\b", canonical, text)
        text = re.sub(r"\s*([<>(),])\s*", r"\1", text)
        columns.append(text)
    return columns


def _format_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value.get("format", "")).upper()
    return str(value).upper()


def post_mismatch(post: dict | None, driver: Any) -> str | None:
    """Check a QTT case's `post` block (sources and topics) against the driver; None when it holds."""
    if not post:
        return None
    for expected in post.get("sources", []):
        actual = driver.source(expected["name"])
        if actual is None:
            return f"post: source {expected['name']} does not exist"
        if "type" in expected and expected["type"].lower() != str(actual.get("type", "")).lower():
            return f"post: source {expected['name']} is a {actual.get('type')}, expected {expected['type']}"
        if "schema" in expected and normalize_schema(expected["schema"]) != normalize_schema(actual.get("schema", "")):
            return f"post: source {expected['name']} schema {actual.get('schema')!r}, expected {expected['schema']!r}"
        for key in ("keyFormat", "valueFormat"):
            if key in expected:
                exp, act = expected[key], actual.get(key)
                if _format_name(exp) != _format_name(act):
                    return f"post: source {expected['name']} {key} {act!r}, expected {exp!r}"
                if isinstance(exp, dict):
                    act_dict = act if isinstance(act, dict) else {}
                    for field in ("windowType", "windowSize"):
                        if field in exp and exp[field] != act_dict.get(field):
                            return f"post: source {expected['name']} {key}.{field} {act_dict.get(field)!r}, expected {exp[field]!r}"
        if "isSource" in expected and bool(expected["isSource"]) != bool(actual.get("isSource")):
            return f"post: source {expected['name']} isSource {actual.get('isSource')}, expected {expected['isSource']}"
    topics = post.get("topics") or {}
    blacklist = topics.get("blacklist")
    if blacklist:
        for name in driver.topic_names():
            if re.fullmatch(blacklist, name):
                return f"post: topic {name} matches the blacklist {blacklist!r}"
    for expected in topics.get("topics", []):
        info = driver.topic_info(expected["name"])
        if info is None:
            return f"post: topic {expected['name']} does not exist"
        for key in ("keyFormat", "valueFormat"):
            if key in expected and _format_name(expected[key]) != _format_name(info.get(key)):
                return f"post: topic {expected['name']} {key} {info.get(key)!r}, expected {expected[key]!r}"
        if "partitions" in expected and expected["partitions"] != info.get("partitions"):
            return f"post: topic {expected['name']} has {info.get('partitions')} partitions, expected {expected['partitions']}"
    return None
