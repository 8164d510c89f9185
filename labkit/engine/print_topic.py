"""PRINT 'topic': the raw records of a topic as text lines, with ksqlDB's guess of the key and value formats.

As ksqlDB's RecordFormatter does, each of key and value starts with a list of candidate formats (JSON,
KAFKA_INT, KAFKA_BIGINT, KAFKA_DOUBLE, KAFKA_STRING; keys also windowed variants SESSION(..), HOPPING(..),
TUMBLING(..) of each); a format that fails to read any record seen is dropped, and a record is shown with
the first format left (as escaped bytes when none is). `Key format:` / `Value format:` lines name the formats
still possible whenever that list changes. Record lines read
`rowtime: 2022/12/02 17:22:02.556 Z, key: 18, value: {"A":1}, partition: 0`.

    >>> formatter = RecordFormatter()
    >>> formatter.format_key(b"18"), formatter.format_value(b'{"A":1}')
    ('18', '{"A":1}')
    >>> formatter.key_formats(), formatter.value_formats()
    (['JSON', 'KAFKA_STRING'], ['JSON', 'KAFKA_STRING'])
"""
from __future__ import annotations

import datetime
import json
import struct
import threading
import time
from typing import Any, Callable

from labkit.engine.types import java_double_str

__all__ = ["RecordFormatter", "KafkaPrintStream", "InMemoryPrintStream", "format_rowtime", "NO_DATA"]

NO_DATA = "¯\\_(ツ)_/¯ - no data processed"
NO_MATCH = (" does not match any supported format. It may be a STRING with encoding other than UTF8, or some "
            "other format.")
KEEPALIVE_S = 1.0

Reader = Callable[[bytes], str]


class _Failed(Exception):
    pass


def _text(data: bytes) -> str:
    if not data:
        raise _Failed("empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Failed("not UTF-8") from None
    if "\ufffd" in text:
        raise _Failed("replacement character")
    return text


def _json(data: bytes) -> str:
    text = _text(data)
    try:
        json.JSONDecoder().raw_decode(text.lstrip())
    except ValueError:
        raise _Failed("not JSON") from None
    return text


def _fixed(size: int, code: str, render: Callable[[Any], str]) -> Reader:
    def read(data: bytes) -> str:
        if len(data) != size:
            raise _Failed(f"{len(data)} bytes")
        return render(struct.unpack(code, data)[0])
    return read


def _bytes_text(data: bytes) -> str:
    """Kafka's Bytes.toString: printable ASCII as is, everything else as \\xNN."""
    return "".join(chr(b) if 0x20 <= b <= 0x7E and b != 0x5C else f"\\x{b:02X}" for b in data)


_FORMATS: list[tuple[str, Reader]] = [
    ("JSON", _json),
    ("KAFKA_INT", _fixed(4, ">i", str)),
    ("KAFKA_BIGINT", _fixed(8, ">q", str)),
    ("KAFKA_DOUBLE", _fixed(8, ">d", java_double_str)),
    ("KAFKA_STRING", _text),
]


def _time_windowed(inner: Reader) -> Reader:
    def read(data: bytes) -> str:
        if len(data) < 8:
            raise _Failed("too short for a windowed key")
        start = struct.unpack(">q", data[-8:])[0]
        return f"[{inner(data[:-8])}@{start}/-]"
    return read


def _session_windowed(inner: Reader) -> Reader:
    def read(data: bytes) -> str:
        if len(data) < 16:
            raise _Failed("too short for a session key")
        end, start = struct.unpack(">qq", data[-16:])
        return f"[{inner(data[:-16])}@{start}/{end}]"
    return read


class _Candidates:
    """The formats still possible for keys or values, in preference order."""

    def __init__(self, windowed: bool) -> None:
        self.formats: list[tuple[str, Reader]] = []
        for name, reader in _FORMATS:
            if windowed:
                self.formats += [(f"SESSION({name})", _session_windowed(reader)),
                                 (f"HOPPING({name})", _time_windowed(reader)),
                                 (f"TUMBLING({name})", _time_windowed(reader))]
            self.formats.append((name, reader))
        self.seen = False

    def format(self, data: bytes | None) -> str:
        if data is None:
            return "<null>"
        self.seen = True
        first = None
        kept = []
        for name, reader in self.formats:
            try:
                shown = reader(data)
            except (_Failed, struct.error, ValueError):
                continue
            kept.append((name, reader))
            if first is None:
                first = shown
        self.formats = kept
        return first if first is not None else _bytes_text(data)

    def possible(self) -> list[str]:
        return [name for name, _ in self.formats] if self.seen else [NO_DATA]


def format_rowtime(timestamp: int | None) -> str:
    """`yyyy/MM/dd HH:mm:ss.SSS Z` in UTC, or N/A."""
    if timestamp is None or timestamp < 0:
        return "N/A"
    moment = datetime.datetime.fromtimestamp(timestamp / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y/%m/%d %H:%M:%S.") + f"{timestamp % 1000:03d} Z"


class RecordFormatter:
    """Guesses key and value formats from the records seen and renders records as PRINT lines."""

    def __init__(self) -> None:
        self._keys = _Candidates(windowed=True)
        self._values = _Candidates(windowed=False)

    def format_key(self, data: bytes | None) -> str:
        return self._keys.format(data)

    def format_value(self, data: bytes | None) -> str:
        return self._values.format(data)

    def key_formats(self) -> list[str]:
        return self._keys.possible()

    def value_formats(self) -> list[str]:
        return self._values.possible()

    def line(self, timestamp: int, key: bytes | None, value: bytes | None, partition: int) -> str:
        return (f"rowtime: {format_rowtime(timestamp)}, key: {self.format_key(key)}, "
                f"value: {self.format_value(value)}, partition: {partition}")


class _FormatsTracker:
    def __init__(self) -> None:
        self._keys: list[str] | None = None
        self._values: list[str] | None = None

    def update(self, formatter: RecordFormatter) -> list[str]:
        lines = []
        keys, values = formatter.key_formats(), formatter.value_formats()
        if keys != self._keys:
            self._keys = keys
            lines.append("Key format: " + (" or ".join(keys) if keys else NO_MATCH))
        if values != self._values:
            self._values = values
            lines.append("Value format: " + (" or ".join(values) if values else NO_MATCH))
        return lines


class KafkaPrintStream:
    """A running PRINT over a group-less consumer (labkit.server.protocol.PrintStream)."""

    def __init__(self, consumer: Any, topic: str, partitions: list[Any], *, from_beginning: bool,
                 interval: int | None, limit: int | None, release: Callable[[Any], None],
                 timeout_ms: int | None = None) -> None:
        self.topic = topic
        self._consumer = consumer
        self._release = release
        self._interval = max(1, interval or 1)
        self._limit = limit
        self._formatter = RecordFormatter()
        self._tracker = _FormatsTracker()
        self._polled = 0
        self._written = 0
        self._closed = False
        self._lock = threading.Lock()
        self._last_output = time.monotonic()
        from labkit.engine.kafka_runtime import seek_to_reset

        consumer.assign(partitions)
        seek_to_reset(consumer, partitions, "earliest" if from_beginning else "latest", timeout_ms=timeout_ms)

    def next_lines(self, timeout: float) -> list[str] | None:
        with self._lock:
            if self._closed or self._limit_reached():
                self._free()
                return None
            batch = self._consumer.poll(timeout_ms=max(1, int(timeout * 1000)))
            records = sorted((r for rs in batch.values() for r in rs), key=lambda r: (r.timestamp, r.partition))
            if not records:
                if time.monotonic() - self._last_output >= KEEPALIVE_S:
                    self._last_output = time.monotonic()
                    return [""]  # ksqlDB writes an empty line on every idle poll
                return []
            out = []
            for record in records:
                if self._polled % self._interval == 0:  # only shown records refine the formats, as in ksqlDB
                    self._written += 1
                    out.append(self._formatter.line(record.timestamp, record.key, record.value, record.partition))
                self._polled += 1
                if self._limit_reached():
                    break
            self._last_output = time.monotonic()
            return self._tracker.update(self._formatter) + out

    def _limit_reached(self) -> bool:
        return self._limit is not None and self._written >= self._limit

    def _free(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            self._release(consumer)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._free()


class InMemoryPrintStream:
    """PRINT over a TopicStore read directly (the broker-free engine of tests and the RQTT runner)."""

    def __init__(self, store: Any, topic: str, partitions: int, *, from_beginning: bool, interval: int | None,
                 limit: int | None) -> None:
        self._store = store
        self._topic = topic
        self._positions = {p: 0 if from_beginning else store.end_offset(topic, p) for p in range(partitions)}
        self._interval = max(1, interval or 1)
        self._limit = limit
        self._formatter = RecordFormatter()
        self._tracker = _FormatsTracker()
        self._polled = 0
        self._written = 0
        self._closed = False

    def next_lines(self, timeout: float) -> list[str] | None:
        if self._closed or (self._limit is not None and self._written >= self._limit):
            return None
        records = []
        for partition, offset in self._positions.items():
            batch = self._store.read(self._topic, partition, offset, 500)
            if batch:
                self._positions[partition] = batch[-1].offset + 1
                records.extend(batch)
        if not records:
            time.sleep(min(timeout, 0.05))
            return []
        out = []
        for record in sorted(records, key=lambda r: (r.timestamp, r.partition)):
            if self._polled % self._interval == 0:
                self._written += 1
                out.append(self._formatter.line(record.timestamp, record.key, record.value, record.partition))
            self._polled += 1
            if self._limit is not None and self._written >= self._limit:
                break
        return self._tracker.update(self._formatter) + out

    def close(self) -> None:
        self._closed = True
