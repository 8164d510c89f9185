"""Key and value formats: JSON, DELIMITED, KAFKA and NONE, byte-compatible with ksqlDB 0.29.

A `Serde` turns a row's column values (a list, in column order) into record bytes and back; `None`
on either side is a missing key or a tombstone value. Build one with `make_serde`:

    >>> from labkit.engine.types import INTEGER, STRING
    >>> serde = make_serde("JSON", [("ID", INTEGER), ("NAME", STRING)])
    >>> serde.serialize([1, "a"])
    b'{"ID":1,"NAME":"a"}'
    >>> serde.deserialize(b'{"id": "2", "name": "b"}')
    [2, 'b']

Formats needing Schema Registry (AVRO, JSON_SR, PROTOBUF, PROTOBUF_NOSR) are refused with ksqlDB's
"not configured to use a schema registry" error. Failures raise `SerdeError`, whose `message` and
`causes` are what ksqlDB writes to the processing log.

This module also renders values as JSON: `to_topic_json` (the JSON format's encoding), `to_rest_json`
(how the REST API shows a column) and `json_dumps` (Jackson-compatible text).
"""
from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # C-accelerated in CPython
from typing import Any, Callable, Mapping, Sequence

from labkit.engine.functions.casts import java_string
from labkit.engine.functions.jsontext import MISSING, JsonTextError, json_dumps, json_loads, node_type_name
from labkit.engine.types import (
    STRING, CastError, SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType, date_from_days, date_to_days,
    decode_base64, ensure_decimal_fit, format_date_text, format_time_text, format_timestamp_text, java_double_str,
    parse_java_decimal, parse_java_double, parse_java_int, parse_java_long, plain_decimal_str, time_from_millis,
    time_to_millis, timestamp_from_millis, timestamp_to_millis, wrap_int32, wrap_int64,
)
from labkit.errors import LabkitError

__all__ = ["SerdeError", "SchemaRegistryNotConfiguredError", "Serde", "make_serde", "parse_delimiter",
           "to_topic_json", "to_rest_json", "json_dumps", "json_loads", "FORMATS", "SCHEMA_REGISTRY_FORMATS"]

FORMATS = ("JSON", "DELIMITED", "KAFKA", "NONE")
SCHEMA_REGISTRY_FORMATS = ("AVRO", "JSON_SR", "PROTOBUF", "PROTOBUF_NOSR")
_KAFKA_TYPES = {"INTEGER": ">i", "BIGINT": ">q", "DOUBLE": ">d", "STRING": None, "BYTES": None}
_DELIMITED_TYPES = {"BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "STRING", "BYTES", "DECIMAL", "TIME", "DATE",
                    "TIMESTAMP"}


class SerdeError(LabkitError):
    """A record could not be (de)serialized, or a format cannot carry a schema.

    `message` is ksqlDB's error message and `causes` the messages of its cause chain (both go to the
    processing log); `str()` joins them so a learner sees the reason.
    """

    def __init__(self, message: str, causes: Sequence[str] = (), topic: str = "", is_key: bool = False) -> None:
        self.message = message
        self.causes = tuple(causes)
        self.topic = topic
        self.is_key = is_key
        super().__init__(message + "".join(f"\nCaused by: {c}" for c in self.causes))


class SchemaRegistryNotConfiguredError(SerdeError):
    """A format needs Schema Registry, which the embedded engine does not have (error code 42801)."""

    error_code = 42801


# --- JSON rendering of values ----------------------------------------------------------------------


def to_topic_json(value: Any, t: SqlType) -> Any:
    """The JSON format's encoding: TIMESTAMP epoch ms, DATE epoch days, TIME ms of day, BYTES base64.

    DECIMAL stays `Decimal` and DOUBLE `float`; write the result with `json_dumps`.
    """
    if value is None:
        return None
    base = t.base
    if base == "TIMESTAMP":
        return timestamp_to_millis(value)
    if base == "DATE":
        return date_to_days(value)
    if base == "TIME":
        return time_to_millis(value)
    if base == "BYTES":
        return base64.b64encode(value).decode("ascii")
    if isinstance(t, SqlArray):
        return [to_topic_json(v, t.item) for v in value]
    if isinstance(t, SqlMap):
        return {str(k): to_topic_json(v, t.value) for k, v in value.items()}
    if isinstance(t, SqlStruct):
        return {f.name: to_topic_json(value.get(f.name), f.type) for f in t.fields}
    return value


def to_rest_json(value: Any, t: SqlType) -> Any:
    """How the REST API renders a column value in query rows.

    TIMESTAMP 'yyyy-MM-ddTHH:mm:ss.SSS' (UTC), DATE 'yyyy-MM-dd', TIME 'HH:mm[:ss]', BYTES base64,
    DECIMAL a plain number; inside a STRUCT ksqlDB switches to the topic encoding (epoch numbers).
    """
    if value is None:
        return None
    base = t.base
    if base == "TIMESTAMP":
        return format_timestamp_text(value)
    if base == "DATE":
        return format_date_text(value)
    if base == "TIME":
        return format_time_text(value)
    if base == "BYTES":
        return base64.b64encode(value).decode("ascii")
    if isinstance(t, SqlArray):
        return [to_rest_json(v, t.item) for v in value]
    if isinstance(t, SqlMap):
        return {k if isinstance(k, str) else java_string(k, t.key): to_rest_json(v, t.value) for k, v in value.items()}
    if isinstance(t, SqlStruct):
        return to_topic_json(value, t)
    return value


# --- JSON ------------------------------------------------------------------------------------------


def _connect_type(t: SqlType) -> str:
    """How ksqlDB names a type in JSON coercion errors (the Connect schema in SQL, unquoted)."""
    if isinstance(t, SqlArray):
        return f"ARRAY<{_connect_type(t.item)}>"
    if isinstance(t, SqlMap):
        return f"MAP<{_connect_type(t.key)}, {_connect_type(t.value)}>"
    if isinstance(t, SqlStruct):
        return "STRUCT<" + ", ".join(f"{f.name} {_connect_type(f.type)}" for f in t.fields) + ">" if t.fields \
            else "STRUCT< >"
    return {"INTEGER": "INT", "STRING": "VARCHAR", "DATE": "INT", "TIME": "INT", "TIMESTAMP": "BIGINT"}.get(
        t.base, str(t))


class _Coercion(Exception):
    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{message}, path: {path}")
        self.raw, self.path = message, path


def _invalid(node: Any, required: str) -> ValueError:
    source = "MissingNode" if node is MISSING else node_type_name(node)
    return ValueError(f"Can't convert type. sourceType: {source}, requiredType: {required}")


def _string_coercion(target: str) -> ValueError:
    return ValueError(f"Can't coerce string to type. targetType: {target}")


def _as_text(node: Any) -> str:
    if isinstance(node, dict):
        return json_dumps(node, plain_decimals=False)
    if isinstance(node, list):
        return "[" + ", ".join(_as_text(v) if v is not None else "null" for v in node) + "]"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, Decimal):
        return str(node)
    return str(node)


def _number(node: Any, target: str, parse: Any) -> Any:
    if isinstance(node, bool) or not isinstance(node, (int, Decimal, str)):
        raise _invalid(node, target)
    if isinstance(node, str):
        try:
            return parse(node)
        except (CastError, ValueError):
            raise _string_coercion(target) from None
    return node


def _from_json(node: Any, t: SqlType, path: str) -> Any:
    """KsqlJsonDeserializer.enforceFieldType: coerce a parsed JSON node to a value of type `t`."""
    if node is None:
        return None
    try:
        base = t.base
        if base == "BOOLEAN":
            if not isinstance(node, bool):
                raise _invalid(node, "BOOLEAN")
            return node
        if base in ("INTEGER", "BIGINT", "TIMESTAMP", "DATE", "TIME"):
            parse = parse_java_int if base == "INTEGER" else parse_java_long
            number = int(_number(node, base, parse))
            if base == "INTEGER":
                return wrap_int32(number)
            if base == "BIGINT":
                return wrap_int64(number)
            if base == "TIMESTAMP":
                return timestamp_from_millis(wrap_int64(number))
            if base == "DATE":
                return date_from_days(wrap_int64(number))
            if not 0 <= number < 86_400_000:
                raise ValueError("Time values must use number of milliseconds greater than 0 and less than 86400000.")
            return time_from_millis(number)
        if base == "DOUBLE":
            return float(_number(node, "DOUBLE", parse_java_double))
        if base == "STRING":
            if isinstance(node, list):
                items = (_from_json(v, STRING, f"[{i}]") for i, v in enumerate(node))
                return "[" + ", ".join("null" if v is None else v for v in items) + "]"
            return _as_text(node)
        if isinstance(t, SqlDecimal):
            if isinstance(node, bool) or not isinstance(node, (int, Decimal, str)):
                raise _invalid(node, str(t))
            return ensure_decimal_fit(parse_java_decimal(node) if isinstance(node, str) else Decimal(node), t)
        if base == "BYTES":
            if not isinstance(node, str):
                raise _invalid(node, "BYTES")
            try:
                return decode_base64(node)
            except CastError:
                raise ValueError(f"Value is not a valid Base64 encoded string: {node}") from None
        if isinstance(t, SqlArray):
            if not isinstance(node, list):
                raise _invalid(node, _connect_type(t))
            return [_from_json(v, t.item, f"[{i}]") for i, v in enumerate(node)]
        if isinstance(t, SqlMap):
            if not isinstance(node, dict):
                raise _invalid(node, _connect_type(t))
            return {k: _from_json(v, t.value, f".{k}.value") for k, v in node.items()}
        if isinstance(t, SqlStruct):
            if not isinstance(node, dict):
                raise _invalid(node, _connect_type(t))
            upper = {k.upper(): v for k, v in node.items()}
            return {f.name: _from_json(node[f.name] if f.name in node else upper.get(f.name), f.type, f".{f.name}")
                    for f in t.fields}
    except _Coercion as e:
        raise _Coercion(e.raw, path + e.path) from None
    except (ValueError, CastError, ArithmeticError) as e:
        raise _Coercion(str(e), path) from None
    raise _Coercion(f"Type is not supported: {t}", path)


def _json_text(value: Any, t: SqlType) -> str:
    return json_dumps(to_topic_json(value, t), plain_decimals=False)


# --- JSON fast paths -------------------------------------------------------------------------------
# The common record (an object of plain scalars) is read and written by per-schema closures built once per
# Serde. They never decide anything the generic code above would decide differently: whatever they do not
# recognise (other node types, out-of-range numbers, control characters, errors of any kind) makes them give up,
# and the generic code handles the whole record, with its exact results and messages.

class _GiveUp(Exception):
    """A fast path met something only the generic code handles."""


def _fast_constant(name: str) -> Any:
    raise _GiveUp(name)


# What the fast reader raises when it gives up; all of it makes the generic path handle the record (which reads
# it again and succeeds, or raises its own SerdeError). UnicodeDecodeError and JSONDecodeError are ValueErrors.
_FAST_PATH_EXITS = (_GiveUp, _Coercion, ValueError, TypeError, AttributeError, ArithmeticError)
_FAST_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_fast_constant, strict=True)
_ABSENT = object()
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
# Bases whose JSON encoding is the value itself (`to_topic_json` returns it unchanged).
_PLAIN_JSON_BASES = ("BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "STRING", "DECIMAL")


def _fast_json_value(t: SqlType) -> Callable[[Any], Any]:
    """The coercion of one non-null field node to `t` (as `_from_json`), raising _GiveUp off the common path."""
    base = t.base
    if base == "STRING":
        def as_string(node: Any) -> Any:
            if type(node) is str:
                return node
            raise _GiveUp
        return as_string
    if base in ("INTEGER", "BIGINT"):
        low, high = _INT32 if base == "INTEGER" else _INT64

        def as_integer(node: Any) -> Any:
            if type(node) is int and low <= node <= high:
                return node
            raise _GiveUp
        return as_integer
    if base == "DOUBLE":
        def as_double(node: Any) -> Any:
            if type(node) is Decimal or type(node) is int:
                return float(node)
            raise _GiveUp
        return as_double
    if base == "BOOLEAN":
        def as_boolean(node: Any) -> Any:
            if node is True or node is False:
                return node
            raise _GiveUp
        return as_boolean

    def generic(node: Any) -> Any:
        return _from_json(node, t, "")
    return generic


def _fast_json_row_reader(columns: Sequence[tuple[str, SqlType]]) -> Callable[[bytes], list[Any]]:
    """Decode a wrapped JSON row whose text is an object; raises _GiveUp (or anything) to defer to the generic path."""
    plan = tuple((name, _fast_json_value(t)) for name, t in columns)
    decode = _FAST_DECODER.raw_decode

    def read(data: bytes) -> list[Any]:
        text = data.decode("utf-8")
        if text[:1] != "{":
            raise _GiveUp
        node = decode(text)[0]
        out = []
        upper = None
        for name, coerce in plan:
            value = node.get(name, _ABSENT)
            if value is _ABSENT:  # the generic path also accepts the field's name in another case
                if upper is None:
                    upper = {k.upper(): v for k, v in node.items()}
                value = upper.get(name)
            out.append(None if value is None else coerce(value))
        return out
    return read


def _fast_json_scalar(value: Any) -> str:
    """JSON text of a value whose encoding is itself (a _PLAIN_JSON_BASES column), as json_dumps writes it."""
    kind = type(value)
    if kind is str:
        text = encode_basestring(value)
        # Jackson writes other control characters as upper-case \u00XX escapes: json_dumps knows how
        return text if "\\u" not in text else json_dumps(value, plain_decimals=False)
    if kind is int:
        return str(value)
    return json_dumps(value, plain_decimals=False)


def _fast_json_row_writer(columns: Sequence[tuple[str, SqlType]]) -> Callable[[Sequence[Any]], str]:
    """The text `json_dumps({name: to_topic_json(value, type)}, plain_decimals=False)` gives, built field by field."""
    plan = tuple((json_dumps(name) + ":", t if t.base not in _PLAIN_JSON_BASES else None) for name, t in columns)

    def write(values: Sequence[Any]) -> str:
        parts = []
        for (prefix, complex_type), value in zip(plan, values):
            if value is None:
                parts.append(prefix + "null")
            elif complex_type is None:
                parts.append(prefix + _fast_json_scalar(value))
            else:
                parts.append(prefix + json_dumps(to_topic_json(value, complex_type), plain_decimals=False))
        return "{" + ",".join(parts) + "}"
    return write


# --- DELIMITED -------------------------------------------------------------------------------------


def parse_delimiter(text: str) -> str:
    """A DELIMITED delimiter from its property value: one character, or 'TAB' / 'SPACE'."""
    if not text.strip():
        raise SerdeError("Delimiter cannot be empty, if you meant to have a tab or space for delimiter, please use "
                         "the special values 'TAB' or 'SPACE'\nExample valid value: ';'")
    if len(text) == 1:
        return text
    named = {"TAB": "\t", "SPACE": " "}
    if text in named:
        return named[text]
    raise SerdeError(f"Invalid delimiter value: '{text}'. Delimiter must be a single character or TAB,SPACE\n"
                     "Example valid value: ';'")


def _csv_quote(value: str, delimiter: str, first: bool) -> str:
    """Apache commons-csv 1.4 MINIMAL quoting, as ksqlDB's DELIMITED serializer writes fields."""
    if value == "":
        return '""' if first else ""
    c = value[0]
    quote = (first and not c.isascii()) or (first and not c.isalnum()) or c <= "#"
    if not quote:
        quote = any(ch in ("\n", "\r", '"', delimiter) for ch in value) or value[-1] <= " "
    return '"' + value.replace('"', '""') + '"' if quote else value


def _csv_record(text: str, delimiter: str) -> list[str] | None:
    """The first record of commons-csv parsing (DEFAULT format), or None when there is none."""
    pos, n = 0, len(text)
    while pos < n and text[pos] in "\r\n":
        pos += 1
    if pos >= n:
        return None
    fields: list[str] = []
    while True:
        if pos < n and text[pos] == '"':
            pos += 1
            parts = []
            while True:
                if pos >= n:
                    raise ValueError("EOF reached before encapsulated token finished")
                if text[pos] == '"':
                    if pos + 1 < n and text[pos + 1] == '"':
                        parts.append('"')
                        pos += 2
                        continue
                    pos += 1
                    while pos < n and text[pos] not in (delimiter, "\r", "\n"):
                        if not text[pos].isspace():
                            raise ValueError("invalid char between encapsulated token and delimiter")
                        pos += 1
                    break
                parts.append(text[pos])
                pos += 1
            fields.append("".join(parts))
        else:
            start = pos
            while pos < n and text[pos] not in (delimiter, "\r", "\n"):
                pos += 1
            fields.append(text[start:pos])
        if pos < n and text[pos] == delimiter:
            pos += 1
            if pos >= n:
                fields.append("")
                break
            continue
        break
    return fields


def _delimited_field(value: Any, t: SqlType) -> str | None:
    if value is None:
        return None
    base = t.base
    if base == "DECIMAL":
        return plain_decimal_str(value)
    if base == "BYTES":
        return base64.b64encode(value).decode("ascii")
    if base in ("TIME", "DATE", "TIMESTAMP"):
        return str(to_topic_json(value, t))
    if base == "DOUBLE":
        return java_double_str(value)
    if base == "BOOLEAN":
        return "true" if value else "false"
    return str(value)


def _delimited_value(text: str, t: SqlType) -> Any:
    base = t.base
    if base == "BOOLEAN":
        return text.lower() == "true"
    if base == "INTEGER":
        return parse_java_int(text)
    if base == "BIGINT":
        return parse_java_long(text)
    if base == "DOUBLE":
        return parse_java_double(text)
    if base == "STRING":
        return text
    if base == "BYTES":
        try:
            return decode_base64(text)
        except CastError:
            raise ValueError(f"Value is not a valid Base64 encoded string: {text}") from None
    if isinstance(t, SqlDecimal):
        return ensure_decimal_fit(parse_java_decimal(text), t)
    if base == "TIME":
        return time_from_millis(parse_java_long(text))
    if base == "DATE":
        return date_from_days(parse_java_int(text))
    return timestamp_from_millis(parse_java_long(text))


# --- the Serde -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Serde:
    """Serializer and deserializer for one schema (key or value columns) in one format."""

    format_name: str
    columns: tuple[tuple[str, SqlType], ...]
    is_key: bool = False
    wrapped: bool = True
    delimiter: str = ","

    def __post_init__(self) -> None:
        fast = self.format_name == "JSON" and self.wrapped and bool(self.columns)
        object.__setattr__(self, "_json_reader", _fast_json_row_reader(self.columns) if fast else None)
        object.__setattr__(self, "_json_writer", _fast_json_row_writer(self.columns) if fast else None)
        packing = _KAFKA_TYPES.get(self.columns[0][1].base) if len(self.columns) == 1 else None
        kafka = self.format_name == "KAFKA" and packing is not None
        object.__setattr__(self, "_kafka_struct", struct.Struct(packing) if kafka else None)

    @property
    def _target(self) -> str:
        return "key" if self.is_key else "value"

    def serialize(self, values: Sequence[Any] | None, topic: str = "") -> bytes | None:
        """Record bytes for the column values; None (tombstone / no key) for None."""
        if values is None or not self.columns or self.format_name == "NONE":
            return None
        if len(values) != len(self.columns):
            raise SerdeError(f"Column count mismatch on serialization. topic: {topic}, expected: "
                             f"{len(self.columns)}, got: {len(values)}", topic=topic, is_key=self.is_key)
        try:
            if self.format_name == "JSON":
                if not self.wrapped:
                    return None if values[0] is None else _json_text(values[0], self.columns[0][1]).encode()
                writer = self._json_writer  # type: ignore[attr-defined]
                if writer is not None:
                    return writer(values).encode()
                row = {name: to_topic_json(v, t) for (name, t), v in zip(self.columns, values)}
                return json_dumps(row, plain_decimals=False).encode()
            if self.format_name == "DELIMITED":
                fields = [_delimited_field(v, t) for (_, t), v in zip(self.columns, values)]
                return self.delimiter.join("" if f is None else _csv_quote(f, self.delimiter, i == 0)
                                           for i, f in enumerate(fields)).encode()
            return self._serialize_kafka(values[0])
        except (TypeError, ValueError, AttributeError, struct.error, OverflowError) as e:
            raise SerdeError(f"Error serializing message to topic: {topic}. {e}", topic=topic,
                             is_key=self.is_key) from e

    def _serialize_kafka(self, value: Any) -> bytes | None:
        if value is None:
            return None
        t = self.columns[0][1]
        fmt = _KAFKA_TYPES[t.base]
        if fmt is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float) if t.base == "DOUBLE" else int):
                raise TypeError(f"value does not match expected type. expected: {t}, but got: {type(value).__name__}")
            return struct.pack(fmt, float(value) if t.base == "DOUBLE" else value)
        if t.base == "STRING":
            return str(value).encode("utf-8", "surrogatepass")
        return bytes(value)

    def deserialize(self, data: bytes | None, topic: str = "") -> list[Any] | None:
        """Column values from record bytes; None for a tombstone (value) or a null key."""
        if not self.columns or self.format_name == "NONE":
            return []
        if data is None:
            return None
        if self.format_name == "JSON":
            return self._deserialize_json(data, topic)
        if self.format_name == "DELIMITED":
            return self._deserialize_delimited(data, topic)
        return self._deserialize_kafka(data, topic)

    def _deserialize_json(self, data: bytes, topic: str) -> list[Any] | None:
        reader = self._json_reader  # type: ignore[attr-defined]
        if reader is not None:
            try:
                return reader(data)
            except _FAST_PATH_EXITS:  # not the common case: the generic path below decides, with its messages
                pass
        prefix = f"Failed to deserialize {self._target} from topic: {topic}. "
        try:
            node = json_loads(data)
        except JsonTextError as e:
            raise SerdeError(prefix + str(e), (str(e),), topic, self.is_key) from None
        try:
            if not self.wrapped:
                return [_from_json(node, self.columns[0][1], "$")]
            row_type = SqlStruct.of(self.columns)
            if node is None:
                return None
            row = _from_json(node, row_type, "$")
            return [row[name] for name, _ in self.columns]
        except _Coercion as e:
            raise SerdeError(prefix + str(e), (str(e),), topic, self.is_key) from None

    def _deserialize_delimited(self, data: bytes, topic: str) -> list[Any]:
        try:
            record = _csv_record(data.decode("utf-8", "replace"), self.delimiter)
            if not record:
                raise ValueError("No fields in record")
            if len(record) != len(self.columns):
                raise ValueError(f"Column count mismatch on deserialization. topic: {topic}, expected: "
                                 f"{len(self.columns)}, got: {len(record)}")
            return [None if text == "" else _delimited_value(text, t) for text, (_, t) in zip(record, self.columns)]
        except (ValueError, CastError, ArithmeticError) as e:
            raise SerdeError("Error deserializing delimited", (str(e),), topic, self.is_key) from None

    def _deserialize_kafka(self, data: bytes, topic: str) -> list[Any]:
        packed = self._kafka_struct  # type: ignore[attr-defined]
        if packed is not None and len(data) == packed.size:
            return [packed.unpack(data)[0]]
        t = self.columns[0][1]
        fmt = _KAFKA_TYPES[t.base]
        if fmt is not None:
            size = struct.calcsize(fmt)
            if len(data) != size:
                name = {"INTEGER": "Integer", "BIGINT": "Long", "DOUBLE": "Double"}[t.base]
                cause = f"Size of data received by {name}Deserializer is not {size}"
                raise SerdeError(f"Error deserializing KAFKA message from topic: {topic}", (cause,), topic,
                                 self.is_key)
            return [struct.unpack(fmt, data)[0]]
        if t.base == "STRING":
            return [data.decode("utf-8", "replace")]
        return [bytes(data)]


def _option(props: Mapping[str, Any], *names: str) -> Any:
    lowered = {k.lower(): v for k, v in props.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def _columns_text(columns: Sequence[tuple[str, SqlType]], is_key: bool) -> str:
    return "[" + ", ".join(f"`{n}` {t}{' KEY' if is_key else ''}" for n, t in columns) + "]"


def _check_json_maps(t: SqlType) -> None:
    if isinstance(t, SqlMap):
        if t.key.base != "STRING":
            raise SerdeError("JSON only supports MAP types with STRING keys")
        _check_json_maps(t.value)
    elif isinstance(t, SqlArray):
        _check_json_maps(t.item)
    elif isinstance(t, SqlStruct):
        for f in t.fields:
            _check_json_maps(f.type)


def make_serde(format_name: str, columns: Sequence[tuple[str, SqlType]], props: Mapping[str, Any] | None = None,
               *, is_key: bool = False) -> Serde:
    """A Serde for `columns` in `format_name`, validated as ksqlDB validates a key or value format.

    `props` (keys any case): WRAP_SINGLE_VALUE, DELIMITER (or KEY_/VALUE_DELIMITER),
    ksql.persistence.wrap.single.values, ksql.schema.registry.url. Raises SerdeError with ksqlDB's
    messages for unsupported types, column counts, delimiters and unknown formats.
    """
    props = props or {}
    name = format_name.upper()
    cols = tuple((n, t) for n, t in columns)
    if name in SCHEMA_REGISTRY_FORMATS:
        if not _option(props, "ksql.schema.registry.url"):
            raise SchemaRegistryNotConfiguredError(
                "KSQL is not configured to use a schema registry. To enable it, please set ksql.schema.registry.url")
        raise SchemaRegistryNotConfiguredError(
            f"The '{name}' format needs Schema Registry, which labkit's embedded engine does not support. Use "
            "JSON, DELIMITED or KAFKA, or run the lesson on the 'compose' backend with real ksqlDB.")
    if name not in FORMATS:
        raise SerdeError(f"Unknown format: {format_name}")
    delimiter_prop = _option(props, "delimiter", "key_delimiter" if is_key else "value_delimiter")
    if delimiter_prop is not None and name != "DELIMITED":
        raise SerdeError(f"{name} does not support the following configs: [delimiter]")
    wrap = _as_bool(_option(props, "wrap_single_value"))
    if name == "NONE":
        if cols:
            raise SerdeError(f"The 'NONE' format can only be used when no columns are defined. Got: "
                             f"{_columns_text(cols, is_key)}")
        return Serde(name, cols, is_key, False)
    if name == "KAFKA":
        if len(cols) > 1:
            raise SerdeError(f"The 'KAFKA' format only supports a single field. Got: {_columns_text(cols, is_key)}")
        for _, t in cols:
            if t.base not in _KAFKA_TYPES:
                raise SerdeError(f"The 'KAFKA' format does not support type '{t.base}'")
    if name == "DELIMITED":
        for col_name, t in cols:
            if t.base not in _DELIMITED_TYPES:
                raise SerdeError(f"The 'DELIMITED' format does not support type '{t.base}', column: `{col_name}`")
    if name == "JSON":
        for _, t in cols:
            _check_json_maps(t)
    if not is_key and wrap is not None:
        if len(cols) != 1:
            raise SerdeError("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas")
        if wrap and name in ("KAFKA", "DELIMITED"):
            raise SerdeError(f"Format '{name}' does not support 'WRAP_SINGLE_VALUE' set to 'true'.")
    if is_key:
        wrapped = len(cols) != 1
    elif wrap is not None:
        wrapped = wrap
    else:
        default = _as_bool(_option(props, "ksql.persistence.wrap.single.values"))
        wrapped = True if default is None or len(cols) != 1 else default
    delimiter = parse_delimiter(str(delimiter_prop)) if delimiter_prop is not None else ","
    return Serde(name, cols, is_key, wrapped and name == "JSON", delimiter)

