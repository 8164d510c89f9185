"""Checks function results against expected values in ksqlDB's own query-validation tests (QTT).

Reads ../shared/ksqldb/qtt/*.json (or $LABKIT_KSQLDB_TESTS/qtt) when present; nothing is copied into the repo. Each case names a QTT
file and test, the output column, and the function call as Python over the deserialized input row;
inputs are decoded with the engine's own serde from the CREATE STREAM schema of the test.
"""
from __future__ import annotations

import json
import math
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest

from labkit.engine.functions import IntervalUnitArg, resolve
from labkit.engine.serde import json_dumps, make_serde
from labkit.engine.types import (
    BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, SqlArray, SqlDecimal, SqlMap, SqlType,
    parse_columns,
)

_REPO = Path(__file__).resolve().parents[3]
QTT_DIR = Path(os.environ.get("LABKIT_KSQLDB_TESTS", _REPO.parent / "shared" / "ksqldb")) / "qtt"

pytestmark = pytest.mark.skipif(not QTT_DIR.is_dir(), reason="ksqlDB QTT files not present")


def fn(name: str, *types: Any) -> Callable[..., Any]:
    """The engine callable for `name` resolved for `types`."""
    return resolve(name, list(types)).call


S, I, L, D = STRING, INTEGER, BIGINT, DOUBLE
DAYS = IntervalUnitArg("DAYS")
MILLIS = IntervalUnitArg("MILLISECONDS")

# (file, test name, output column, output type, expression over the input row)
CASES: list[tuple[str, str, str, SqlType, Callable[[dict[str, Any]], Any]]] = [
    ("substring.json", "do substring with strings with pos and length", "SUBSTRING", S,
     lambda r: fn("SUBSTRING", S, I, I)(r["SOURCE"], 6, 3)),
    ("substring.json", "do substring with bytes with just pos", "SUBSTRING", BYTES,
     lambda r: fn("SUBSTRING", BYTES, I)(r["SOURCE"], 6)),
    ("concat.json", "concat_ws - string", "COMBINED", S,
     lambda r: fn("CONCAT_WS", S, S, S, S, None, S)(r["S1"], r["C1"], r["C2"], r["C3"], None, "literal")),
    ("concat.json", "concat_ws - bytes", "COMBINED", BYTES,
     lambda r: fn("CONCAT_WS", BYTES, BYTES, BYTES, None, BYTES)(r["S1"], r["C1"], r["C2"], None, r["C3"])),
    ("instr.json", "test instr with negative position and occurrence", "INSTR", I,
     lambda r: fn("INSTR", S, S, I, I)(r["SOURCE"], "or", -4, 2)),
    ("instr.json", "test instr with position and occurrence", "INSTR", I,
     lambda r: fn("INSTR", S, S, I, I)(r["SOURCE"], "or", 4, 2)),
    ("initcap.json", "do initcap", "INITCAP", S, lambda r: fn("INITCAP", S)(r["SOURCE"])),
    ("len.json", "length of a string", "B", I, lambda r: fn("LEN", BYTES)(r["B"])),
    ("string-lpad-rpad.json", "LPad with all args from record", "RESULT", S,
     lambda r: fn("LPAD", S, I, S)(r["SUBJECT"], r["LEN"], r["PADDING"])),
    ("string-lpad-rpad.json", "RPad with all args from record", "RESULT", S,
     lambda r: fn("RPAD", S, I, S)(r["SUBJECT"], r["LEN"], r["PADDING"])),
    ("replace.json", "regexp_replace", "EXTRACTED", S,
     lambda r: fn("REGEXP_REPLACE", S, S, S)(r["INPUT_STRING"], r["PATTERN"], "cat")),
    ("regex.json", "extract with group", "EXTRACTED", S,
     lambda r: fn("REGEXP_EXTRACT", S, S, I)("(.*) (.*)", r["INPUT_STRING"], 2)),
    ("regex.json", "regex_extract_all with group", "EXTRACTED", SqlArray(S),
     lambda r: fn("REGEXP_EXTRACT_ALL", S, S, I)("(\\w+) (\\w*)", r["INPUT_STRING"], 2)),
    ("split.json", "split a message by using the '.' delimiter", "SPLIT_BYTES", SqlArray(BYTES),
     lambda r: fn("SPLIT", BYTES, BYTES)(r["B"], b".")),
    ("split.json", "split all characters by using the '' delimiter", "SPLIT_MSG", SqlArray(S),
     lambda r: fn("SPLIT", S, S)(r["MESSAGE"], "")),
    ("split.json", "regexp_split_to_array", "EXTRACTED", SqlArray(S),
     lambda r: fn("REGEXP_SPLIT_TO_ARRAY", S, S)(r["INPUT_STRING"], r["PATTERN"])),
    ("chr.json", "codepoint from text code", "RESULT", S, lambda r: fn("CHR", S)(r["UTFCODE"])),
    ("encode.json", "encode base64", "ASCII", S, lambda r: fn("ENCODE", S, S, S)(r["INPUT_STRING"], "base64", "ascii")),
    ("encode.json", "encode ascii", "HEX", S, lambda r: fn("ENCODE", S, S, S)(r["INPUT_STRING"], "ascii", "hex")),
    ("elt-field.json", "field the correct parameter", "POS", I,
     lambda r: fn("FIELD", S, S, S)("hello", r["A"], r["B"])),
    ("math.json", "ln", "L", D, lambda r: fn("LN", L)(r["L"])),
    ("math.json", "calculate CEIL function", "B", SqlDecimal(2, 1), lambda r: fn("CEIL", SqlDecimal(2, 1))(r["B"])),
    ("math.json", "trunc - double", "R2", D, lambda r: fn("TRUNC", D, I)(r["V"], 2)),
    ("math.json", "trunc - double", "2R", D, lambda r: fn("TRUNC", D, I)(r["V"], -2)),
    ("math.json", "trunc - decimal", "R1", SqlDecimal(12, 7), lambda r: fn("TRUNC", SqlDecimal(12, 7), I)(r["V"], 1)),
    ("math.json", "power", "I", D, lambda r: fn("POWER", I, I)(r["IB"], r["IE"])),
    ("math.json", "atan2", "D", D, lambda r: fn("ROUND", D, I)(fn("ATAN2", D, D)(r["DY"], r["DX"]), 13)),
    ("greatest.json", "test greatest with strings", "HIGHEST", S,
     lambda r: fn("GREATEST", S, S, S, S, None, None, S)(r["S1"], r["S2"], r["S3"], r["S4"], None, None, "hello")),
    ("greatest.json", "test greatest with timestamps", "HIGHEST", TIMESTAMP,
     lambda r: fn("GREATEST", TIMESTAMP, TIMESTAMP, TIMESTAMP, TIMESTAMP, None, None, S)(
         r["S1"], r["S2"], r["S3"], r["S4"], None, None, "2022-06-14")),
    ("least.json", "test least with bytes", "LOWEST", BYTES,
     lambda r: fn("LEAST", BYTES, BYTES, BYTES, BYTES, None, None, BYTES)(r["S1"], r["S2"], r["S3"], r["S4"], None,
                                                                          None, b"hello")),
    ("json_concat.json", "concat 2 JSON arguments", "JSON", S, lambda r: fn("JSON_CONCAT", S, S)(r["VAL1"], r["VAL2"])),
    ("json_concat.json", "concat 3 JSON arguments", "JSON", S,
     lambda r: fn("JSON_CONCAT", S, S, S)(r["VAL1"], r["VAL2"], r["VAL3"])),
    ("extract-json-field.json", "array bounds", "COL2", S,
     lambda r: fn("EXTRACTJSONFIELD", S, S)(r["JSON"], "$.array[0]")),
    ("to_json_string.json", "convert STRUCT to JSON string", "JSON_V", S,
     lambda r: fn("TO_JSON_STRING", r.type("V"))(r["V"])),
    ("to_json_string.json", "convert TIMESTAMP to JSON string", "JSON_V", S,
     lambda r: fn("TO_JSON_STRING", TIMESTAMP)(r["V"])),
    ("to_json_string.json", "convert DATE to JSON string", "JSON_V", S, lambda r: fn("TO_JSON_STRING", DATE)(r["V"])),
    ("array-set-functions.json", "array_union with primitive type", "RESULT", SqlArray(I),
     lambda r: fn("ARRAY_UNION", SqlArray(I), SqlArray(I))(r["ARR1"], r["ARR2"])),
    ("array-set-functions.json", "array_intersect with primitive type", "RESULT", SqlArray(I),
     lambda r: fn("ARRAY_INTERSECT", SqlArray(I), SqlArray(I))(r["ARR1"], r["ARR2"])),
    ("array-set-functions.json", "array_distinct with complex types", "MAPS_DIST", SqlArray(SqlMap(S, I)),
     lambda r: fn("ARRAY_DISTINCT", SqlArray(SqlMap(S, I)))(r["MAPS"])),
    ("array-min-max-sort.json", "array_max", "STRING_MAX", S,
     lambda r: fn("ARRAY_MAX", SqlArray(S))(r["STRING_ARRAY"])),
    ("array-min-max-sort.json", "array_max", "DECIMAL_MAX", SqlDecimal(2, 1),
     lambda r: fn("ARRAY_MAX", r.type("DECIMAL_ARRAY"))(r["DECIMAL_ARRAY"])),
    ("array-remove.json", "array_remove with all primitive types", "DOUBLES", SqlArray(D),
     lambda r: fn("ARRAY_REMOVE", SqlArray(D), D)(r["DOUBLES"], r["BAD_DOUBLE"])),
    ("arrayjoin.json", "join flat arrays with primitive ksqldb types and default delimiter", "KSQL_COL_3", S,
     lambda r: fn("ARRAY_JOIN", SqlArray(D))(r["DOUBLEARRAY"])),
    ("arrayjoin.json", "join flat arrays with primitive ksqldb types and empty or null delimiter", "KSQL_COL_0", S,
     lambda r: fn("ARRAY_JOIN", SqlArray(BOOLEAN), S)(r["BOOLEANARRAY"], "")),
    ("map.json", "map_keys", "KEYS", SqlArray(S),
     lambda r: fn("ARRAY_SORT", SqlArray(S))(fn("MAP_KEYS", SqlMap(S, I))(r["A_MAP"]))),
    ("datestring.json", "date to string", "CUSTOM_FORMATTED_START_DATE", S,
     lambda r: fn("DATETOSTRING", I, S)(r["START_DATE"], r["DATE_FORMAT"])),
    ("format-date.json", "date to string", "CUSTOM_FORMATTED_START_DATE", S,
     lambda r: fn("FORMAT_DATE", DATE, S)(r["START_DATE"], r["DATE_FORMAT"])),
    ("timestamp-to-string.json", "millis to string with valid zone", "KSQL_COL_0", S,
     lambda r: fn("TIMESTAMPTOSTRING", L, S, S)(r.rowtime, "yyyy-MM-dd HH:mm:ss zzz", "America/Los_Angeles")),
    ("stringtimestamp.json", "string to timestamp", "TS", L,
     lambda r: fn("STRINGTOTIMESTAMP", S, S)(r["TIMESTAMP"], "yyyy-MM-dd'T'HH:mm:ssX")),
    ("stringtimestamp.json", "format timestamp with time zone", "TS", TIMESTAMP,
     lambda r: fn("PARSE_TIMESTAMP", S, S)(r["TIME"], "yyyy-MM-dd'T'HH:mm:ss zzz")),
    ("stringdate.json", "string to date", "TS", I, lambda r: fn("STRINGTODATE", S, S)(r["DATE"], r["FORMAT"])),
    ("parse-date.json", "string to date", "TS", DATE, lambda r: fn("PARSE_DATE", S, S)(r["DATE"], r["FORMAT"])),
    ("parse-time.json", "string to time", "TS", TIME, lambda r: fn("PARSE_TIME", S, S)(r["TIME"], r["FORMAT"])),
    ("convert-tz.json", "convert timezones defined by name", "TS", TIMESTAMP,
     lambda r: fn("CONVERT_TZ", TIMESTAMP, S, S)(r["TIME"], "America/Los_Angeles", "America/New_York")),
    ("timesub.json", "subtracts", "KSQL_COL_0", TIME,
     lambda r: fn("TIMESUB", MILLIS, I, TIME)("MILLISECONDS", 10, r["TIME"])),
    ("from-days.json", "convert days to date", "TS", DATE,
     lambda r: fn("FROM_DAYS", I)(r["D"]) if r["D"] is not None else None),
    ("url.json", "extract a parameter from a URL using URL_EXTRACT_PARAMETER", "PARAM_A", S,
     lambda r: fn("URL_EXTRACT_PARAMETER", S, S)(r["URL"], "one")),
    ("url.json", "extract a path from a URL using URL_EXTRACT_PATH", "PATH", S,
     lambda r: fn("URL_EXTRACT_PATH", S)(r["URL"])),
    ("url.json", "encode a url parameter using ENCODE_URL_PARAM", "ENCODED", S,
     lambda r: fn("URL_ENCODE_PARAM", S)(r["URL"])),
    ("bytes-and-strings.json", "convert bytes to INT, BIGINT, and DOUBLE using LITTLE ENDIAN", "C", D,
     lambda r: fn("DOUBLE_FROM_BYTES", BYTES, S)(r["C"], "LITTLE_ENDIAN")),
]


class Row(dict):
    """An input row (column name -> value) that also knows the column types and the record time."""

    types: dict[str, SqlType]
    rowtime: int

    def type(self, name: str) -> SqlType:
        return self.types[name]


def _load(file: str) -> dict[str, Any]:
    return json.loads((QTT_DIR / file).read_text(), parse_float=Decimal)


def _schema(statement: str) -> list[tuple[str, SqlType, str | None]]:
    body = statement[statement.index("(") + 1:]
    depth, end = 1, 0
    for end, ch in enumerate(body):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            break
    return [(c.name, c.type, c.constraint) for c in parse_columns(body[:end])]


def _format(statement: str) -> str:
    m = re.search(r"(?:value_)?format\s*=\s*'(\w+)'", statement, re.IGNORECASE)
    return m.group(1).upper() if m else "JSON"


def _encode(value: Any, fmt: str) -> bytes | None:
    if value is None:
        return None
    if fmt == "DELIMITED" or (fmt == "KAFKA" and isinstance(value, str)):
        return value.encode()
    return json_dumps(value).encode()


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, float) and isinstance(expected, float):
        return actual == expected or (math.isnan(actual) and math.isnan(expected)) or abs(actual - expected) < 1e-6
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(_same(a, e) for a, e in zip(actual, expected))
    return actual == expected


def _case_ids() -> list[str]:
    return [f"{c[0]}::{c[1]}::{c[2]}" for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=_case_ids())
def test_function_matches_upstream_expected_values(case: tuple[Any, ...]) -> None:
    file, name, column, out_type, expression = case
    test = next((t for t in _load(file)["tests"] if t["name"] == name), None)
    if test is None:
        pytest.skip(f"{name} not in this copy of {file}")
    create = test["statements"][0].replace("{FORMAT}", "JSON")
    fmt = _format(create)
    if fmt not in ("JSON", "DELIMITED", "KAFKA"):
        fmt = "JSON"
    value_columns = [(n, t) for n, t, constraint in _schema(create) if constraint is None]
    source = make_serde(fmt, value_columns)
    sink = make_serde(fmt if fmt != "KAFKA" else "JSON", [(column, out_type)], {"wrap_single_value": False})
    inputs, outputs = test["inputs"], [o for o in test["outputs"] if o["topic"] == test["outputs"][0]["topic"]]
    assert len(inputs) == len(outputs), "case must map inputs to outputs one to one"
    for record, expected_record in zip(inputs, outputs):
        values = source.deserialize(_encode(record["value"], fmt))
        if values is None:
            continue
        row = Row(zip([n for n, _ in value_columns], values))
        row.types, row.rowtime = dict(value_columns), record.get("timestamp", 0)
        expected_value = expected_record["value"]
        if fmt == "DELIMITED":
            fields = make_serde("DELIMITED", [(f"C{i}", STRING) for i in range(expected_value.count(",") + 1)])
            texts = fields.deserialize(expected_value.encode())
            expected_text = texts[-1] if texts else None
            if expected_text is None:
                expected = None
            elif out_type.base == "STRING":
                expected = expected_text
            else:
                expected = sink.deserialize(expected_text.encode())[0]
        else:
            raw = next((v for k, v in expected_value.items() if k.upper() == column.upper()), None)
            expected = sink.deserialize(json_dumps(raw).encode())[0] if raw is not None else None
        actual = expression(row)
        assert _same(actual, expected), f"{record['value']!r}: expected {expected!r}, got {actual!r}"
