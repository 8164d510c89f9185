"""JSON text the way ksqlDB's Jackson mappers read and write it.

Reading: numbers with a fraction or exponent become exact `Decimal` (Jackson USE_BIG_DECIMAL_FOR_FLOATS),
NaN/Infinity are rejected, only the first root value is read (trailing text after an object, array or
string is ignored; after a bare number or literal it is an error), and empty input is MISSING.
Writing: compact, Java number formatting for floats (1.0E10), plain decimals, Jackson string escapes.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from labkit.engine.types import java_decimal_str, java_double_str, plain_decimal_str

__all__ = ["MISSING", "JsonTextError", "json_loads", "json_dumps", "node_type_name"]


class _Missing:
    """Jackson's MissingNode: what reading empty or blank text yields."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class JsonTextError(ValueError):
    """Text that is not valid JSON, with a Jackson-like message."""


def _reject_constant(name: str) -> Any:
    raise JsonTextError(f"Non-standard token '{name}': enable JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS "
                        "to allow")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant, strict=True)
_WHITESPACE = " \t\n\r"


def json_loads(text: str | bytes) -> Any:
    """Parse JSON like Jackson's readTree; returns MISSING for empty input, raises JsonTextError."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonTextError(f"Invalid UTF-8 start byte 0x{text[e.start]:02x}") from e
    if text.startswith("\ufeff"):
        text = text[1:]
    pos = 0
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    if pos == len(text):
        return MISSING
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as e:
        raise JsonTextError(_jackson_message(text, e)) from None
    if not isinstance(value, (dict, list, str)) and end < len(text) and text[end] not in _WHITESPACE:
        token = text[pos:end] + text[end:].split(None, 1)[0][:20]
        raise JsonTextError(f"Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object "
                            "or token 'null', 'true' or 'false')")
    return value


def _jackson_message(text: str, e: json.JSONDecodeError) -> str:
    if e.msg == "Expecting value":
        token = text[e.pos:].split(None, 1)[0][:30] if text[e.pos:].strip() else ""
        if token and (token[0].isalpha() or token[0] in "'_"):
            return (f"Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object or token "
                    "'null', 'true' or 'false')")
        if token:
            return f"Unexpected character ('{token[0]}' (code {ord(token[0])})): expected a valid value"
        return "Unexpected end-of-input"
    return e.msg


def json_dumps(value: Any, plain_decimals: bool = True) -> str:
    """Compact JSON as Jackson writes it (plain_decimals=False mimics JsonNode.toString())."""
    out: list[str] = []
    _write(value, out, plain_decimals)
    return "".join(out)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _quote(s: str) -> str:
    parts = ['"']
    for ch in s:
        if ch in _ESCAPES:
            parts.append(_ESCAPES[ch])
        elif ch < " ":
            parts.append(f"\\u{ord(ch):04X}")
        else:
            parts.append(ch)
    parts.append('"')
    return "".join(parts)


def _write(value: Any, out: list[str], plain: bool) -> None:
    if value is None or value is MISSING:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_quote(java_double_str(value)) if math.isnan(value) or math.isinf(value)
                   else java_double_str(value))
    elif isinstance(value, Decimal):
        out.append(plain_decimal_str(value) if plain else java_decimal_str(value))
    elif isinstance(value, str):
        out.append(_quote(value))
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(_quote(str(k)))
            out.append(":")
            _write(v, out, plain)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _write(v, out, plain)
        out.append("]")
    else:
        raise TypeError(f"Cannot write {type(value).__name__} as JSON")


def node_type_name(value: Any) -> str:
    """The Jackson JsonNode class name of a parsed value (used in deserialization error messages)."""
    if isinstance(value, bool):
        return "BooleanNode"
    if isinstance(value, int):
        return "IntNode" if -(2**31) <= value < 2**31 else "LongNode" if -(2**63) <= value < 2**63 else "BigIntegerNode"
    if isinstance(value, Decimal):
        return "DecimalNode"
    if isinstance(value, str):
        return "TextNode"
    if isinstance(value, list):
        return "ArrayNode"
    if isinstance(value, dict):
        return "ObjectNode"
    return "NullNode"
