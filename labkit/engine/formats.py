"""Key and value formats of a topic, windowed keys, and the serdes that turn rows into record bytes.

`KeyFormat` / `ValueFormat` say how a source's records are encoded (format name, format properties such
as the DELIMITED delimiter, window type of windowed keys, WRAP_SINGLE_VALUE). `RecordSerde` builds the
key and value `Serde`s of `labkit.engine.serde` for a schema and adds Kafka Streams' windowed-key
encoding (time windows: key bytes + 8-byte start; session windows: key bytes + 8-byte end + 8-byte start).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from labkit.engine.schema import LogicalSchema
from labkit.engine.serde import Serde, SerdeError, make_serde

__all__ = ["FormatSpec", "WindowInfo", "KeyFormat", "ValueFormat", "RecordSerde", "WINDOW_TYPES"]

WINDOW_TYPES = ("TUMBLING", "HOPPING", "SESSION")


@dataclass(frozen=True)
class FormatSpec:
    """A format name (upper case) and its properties, e.g. DELIMITED with {"delimiter": "|"}."""

    name: str
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, name: str, properties: Mapping[str, str] | None = None) -> "FormatSpec":
        return cls(name.upper(), tuple(sorted((properties or {}).items())))

    def property(self, name: str) -> str | None:
        return dict(self.properties).get(name)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class WindowInfo:
    """The window of a windowed key: type TUMBLING, HOPPING or SESSION, and size for time windows."""

    type: str
    size_ms: int | None = None

    @property
    def is_session(self) -> bool:
        return self.type == "SESSION"


@dataclass(frozen=True)
class KeyFormat:
    """How a topic's record keys are encoded."""

    format: FormatSpec
    window: WindowInfo | None = None

    @property
    def name(self) -> str:
        return self.format.name

    @property
    def is_windowed(self) -> bool:
        return self.window is not None


@dataclass(frozen=True)
class ValueFormat:
    """How a topic's record values are encoded; `wrap_single_value` None means the config default."""

    format: FormatSpec
    wrap_single_value: bool | None = None

    @property
    def name(self) -> str:
        return self.format.name


def _serde_props(spec: FormatSpec, extra: Mapping[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = dict(extra)
    delimiter = spec.property("delimiter")
    if delimiter is not None:
        props["delimiter"] = delimiter
    return props


@dataclass
class RecordSerde:
    """Key and value serdes for one schema in one pair of formats (with windowed keys if any)."""

    schema: LogicalSchema
    key_format: KeyFormat
    value_format: ValueFormat
    config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        key_columns = [(c.name, c.type) for c in self.schema.key]
        value_columns = [(c.name, c.type) for c in self.schema.value if c.namespace != "HEADERS"]
        self.key_serde: Serde = make_serde(self.key_format.name, key_columns,
                                           _serde_props(self.key_format.format, {}), is_key=True)
        value_props: dict[str, Any] = {}
        if self.value_format.wrap_single_value is not None:
            value_props["wrap_single_value"] = self.value_format.wrap_single_value
        wrap_default = self.config.get("ksql.persistence.wrap.single.values")
        if wrap_default is not None:
            value_props["ksql.persistence.wrap.single.values"] = wrap_default
        self.value_serde: Serde = make_serde(self.value_format.name, value_columns,
                                             _serde_props(self.value_format.format, value_props))

    # --- keys -------------------------------------------------------------------------------------

    def serialize_key(self, values: Sequence[Any] | None, topic: str = "",
                      window: tuple[int, int] | None = None) -> bytes | None:
        """Key bytes for the key column values (and the window, for windowed keys)."""
        data = self.key_serde.serialize(values, topic) if values is not None else None
        info = self.key_format.window
        if info is None or window is None:
            return data
        start, end = window
        body = data or b""
        if info.is_session:
            return body + struct.pack(">qq", end, start)
        return body + struct.pack(">q", start)

    def deserialize_key(self, data: bytes | None, topic: str = "") -> tuple[list[Any] | None, tuple[int, int] | None]:
        """Key column values and the window (start, end) of windowed keys."""
        info = self.key_format.window
        window = None
        if info is not None and data is not None:
            if info.is_session:
                if len(data) < 16:
                    raise SerdeError(f"Failed to deserialize key from topic: {topic}. Invalid session window key",
                                     topic=topic, is_key=True)
                end, start = struct.unpack(">qq", data[-16:])
                data = data[:-16]
            else:
                if len(data) < 8:
                    raise SerdeError(f"Failed to deserialize key from topic: {topic}. Invalid time window key",
                                     topic=topic, is_key=True)
                (start,) = struct.unpack(">q", data[-8:])
                end = start + (info.size_ms or 0)
                data = data[:-8]
            window = (start, end)
        if not self.schema.key:
            return [], window
        return self.key_serde.deserialize(data, topic), window

    # --- values -----------------------------------------------------------------------------------

    def serialize_value(self, values: Sequence[Any] | None, topic: str = "") -> bytes | None:
        return self.value_serde.serialize(values, topic)

    def deserialize_value(self, data: bytes | None, topic: str = "") -> list[Any] | None:
        return self.value_serde.deserialize(data, topic)
