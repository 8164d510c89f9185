"""The JSON and KAFKA fast paths of `labkit.engine.serde.Serde` give exactly what the generic code gives.

Each case runs a Serde as built (fast paths on) and a twin with its fast paths switched off (the generic
code alone), on many records, and compares values, bytes or error messages.
"""
from __future__ import annotations

import itertools
import json
import random
from decimal import Decimal
from typing import Any, Callable

import pytest

from labkit.engine.serde import Serde, SerdeError, make_serde
from labkit.engine.types import (
    BIGINT, BOOLEAN, DOUBLE, INTEGER, STRING, TIMESTAMP, SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType,
)

COLUMNS: list[tuple[str, SqlType]] = [
    ("I", INTEGER), ("B", BIGINT), ("D", DOUBLE), ("S", STRING), ("F", BOOLEAN), ("M", SqlDecimal(4, 2)),
    ("A", SqlArray(INTEGER)), ("T", TIMESTAMP), ("P", SqlMap(STRING, DOUBLE)),
    ("R", SqlStruct.of([("X", INTEGER)])),
]

NODES: list[Any] = [
    None, True, False, 0, 1, -7, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**400,
    1.5, "1.25", "abc", "", "12", " 12", "true", "9223372036854775808", "2.5e3", "a\u0001b", "tab\tquote\"back\\",
    "ünï©ødé", "\u2028", [], [1, 2], [1, "x"], {}, {"X": 1}, {"x": "2"}, "AAEC", "1e400",
]


def generic_twin(serde: Serde) -> Serde:
    """The same Serde with its fast paths off: only the generic code runs."""
    twin = make_serde(serde.format_name, serde.columns, {}, is_key=serde.is_key)
    object.__setattr__(twin, "_json_reader", None)
    object.__setattr__(twin, "_json_writer", None)
    object.__setattr__(twin, "_kafka_struct", None)
    return twin


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except SerdeError as error:
        return ("error", str(error))


def json_texts(rng: random.Random, count: int) -> list[bytes]:
    """Objects with fields of every node kind, lower-case and missing names, and non-object documents."""
    texts = [b"", b"  ", b"null", b"[]", b"12", b'"x"', b"{", b'{"I": NaN}', b'{"I": 1} trailing', b"\xff\xfe",
             b'\xef\xbb\xbf{"I": 1}', b'  {"I": 2}', b'{"I": 1, "I": 2}', b'{"i": 3, "I": 4}', b'{"s": "low"}',
             b'{"D": 1.0E+2, "M": 12.345}', b'{"D": 1e400}', b'{"B": -0}', b'{"I": 1.0}']
    names = [name for name, _ in COLUMNS]
    for _ in range(count):
        node: dict[str, Any] = {}
        for name in rng.sample(names, rng.randint(0, len(names))):
            key = name.lower() if rng.random() < 0.15 else name
            node[key] = rng.choice(NODES)
        text = json.dumps(node, ensure_ascii=rng.random() < 0.5)
        texts.append(text.encode("utf-8", "surrogatepass"))
    return texts


@pytest.mark.parametrize("width", [1, 2, len(COLUMNS)])
def test_json_rows_are_read_as_the_generic_code_reads_them(width: int) -> None:
    rng = random.Random(width)
    for columns in itertools.islice(itertools.combinations(COLUMNS, width), 12):
        fast = make_serde("JSON", columns)
        slow = generic_twin(fast)
        assert fast._json_reader is not None  # type: ignore[attr-defined]
        for data in json_texts(rng, 300):
            assert outcome(lambda: fast.deserialize(data, "t")) == outcome(lambda: slow.deserialize(data, "t")), data


VALUES: list[Any] = [
    None, True, False, 0, -5, 2**31, 2**63, 1.0, 1e10, 0.1, float("nan"), float("inf"), Decimal("1.50"),
    Decimal("1E+3"), "", "plain", "quote\"back\\slash", "ctl\u0001\u001f", "nl\n\r\t\b\f", "\u2028é", "a\\u0041",
    [1, 2], {"k": 1}, b"bytes", object(),
]


def test_json_rows_are_written_as_the_generic_code_writes_them() -> None:
    rng = random.Random(7)
    simple = [c for c in COLUMNS if c[1].base in ("INTEGER", "BIGINT", "DOUBLE", "STRING", "BOOLEAN", "DECIMAL")]
    for columns in (simple, simple[:1], simple[3:4], COLUMNS[6:8]):
        fast = make_serde("JSON", columns)
        slow = generic_twin(fast)
        assert fast._json_writer is not None  # type: ignore[attr-defined]
        for _ in range(2000):
            values = [rng.choice(VALUES) for _ in columns]
            assert outcome(lambda: fast.serialize(values, "t")) == outcome(lambda: slow.serialize(values, "t")), values


def test_written_rows_read_back() -> None:
    serde = make_serde("JSON", [("ID", INTEGER), ("NAME", STRING), ("AMOUNT", DOUBLE), ("OK", BOOLEAN)])
    values = [7, "ünï \"q\" \u0007", 2.5, True]
    data = serde.serialize(values)
    assert data == '{"ID":7,"NAME":"ünï \\"q\\" \\u0007","AMOUNT":2.5,"OK":true}'.encode()
    assert serde.deserialize(data) == values


@pytest.mark.parametrize("column", [("K", INTEGER), ("K", BIGINT), ("K", DOUBLE)])
def test_kafka_keys_are_read_as_the_generic_code_reads_them(column: tuple[str, SqlType]) -> None:
    fast = make_serde("KAFKA", [column], is_key=True)
    slow = generic_twin(fast)
    for data in [b"", b"\x00", b"\x00\x00\x00\x05", b"\xff\xff\xff\xff", b"\x00" * 8, b"\x7f" * 8, b"\x01" * 9]:
        assert outcome(lambda: fast.deserialize(data, "t")) == outcome(lambda: slow.deserialize(data, "t")), data
