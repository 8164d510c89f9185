"""The kinds of state stores stateful steps use, all key-value stores with changelog-friendly contents.

Every store is an `InMemoryKeyValueStore` (so a runtime can attach changelog listeners and restore it
with `restore`) whose keys are tuples of engine values and whose values are lists of engine values, as
Kafka Streams' stores hold serialized keys and values. Subclasses keep secondary indexes (by key and
time) that `put`, `delete` and `restore` maintain alike:

* `TableStore` - a materialized table: key -> [row, timestamp] (ksqlDB's `...-Reduce`, `...-Materialize`).
* `JoinWindowStore` - one side of a stream-stream join: (key, timestamp, sequence) -> row, fetched by key
  and time range, expiring after its retention (Kafka Streams' window store with duplicates).
* `OuterJoinStore` - unmatched records of LEFT/OUTER joins waiting for their window to close:
  (timestamp, left side?, key) -> [rows], iterated in time order.
* `WindowStore` - windowed aggregates: (key, start, end) -> [aggregate row, timestamp], by key and start.
"""
from __future__ import annotations

import bisect
from typing import Any, Hashable, Iterator

from labkit.engine.state import InMemoryKeyValueStore

__all__ = ["TableStore", "JoinWindowStore", "OuterJoinStore", "WindowStore", "freeze", "thaw", "frozen_key",
           "thawed_key"]

_MAP = "__map__"


def freeze(value: Any) -> Any:
    """A hashable form of an engine value (lists become tuples, maps and structs tagged tuples of pairs)."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return (_MAP,) + tuple((freeze(k), freeze(v)) for k, v in value.items())
    return value


def thaw(value: Any) -> Any:
    """The engine value `freeze` made hashable."""
    if isinstance(value, tuple):
        if value and value[0] == _MAP:
            return {thaw(k): thaw(v) for k, v in value[1:]}
        return [thaw(v) for v in value]
    return value


def frozen_key(key: list[Any] | tuple) -> tuple:
    """A store key for key column values."""
    return tuple(freeze(v) for v in key)


def thawed_key(key: tuple) -> list[Any]:
    """The key column values of a store key."""
    return [thaw(v) for v in key]


class TableStore(InMemoryKeyValueStore):
    """key (tuple, or (key, start, end) for windowed keys) -> [row, timestamp]."""

    @staticmethod
    def store_key(key: list[Any] | tuple, window: tuple[int, int] | None = None) -> Hashable:
        return frozen_key(key) if window is None else (frozen_key(key), window[0], window[1])

    def lookup(self, key: list[Any] | tuple, window: tuple[int, int] | None = None) -> tuple[list[Any], int] | None:
        found = self.get(self.store_key(key, window))
        return None if found is None else (found[0], found[1])

    def update(self, key: list[Any] | tuple, value: list[Any] | None, timestamp: int,
               window: tuple[int, int] | None = None) -> list[Any] | None:
        """Put (or delete, for None) the row; returns the previous row."""
        store_key = self.store_key(key, window)
        previous = self.get(store_key)
        if value is None:
            if previous is not None:
                self.delete(store_key)
        else:
            self.put(store_key, [value, timestamp])
        return None if previous is None else previous[0]


class JoinWindowStore(InMemoryKeyValueStore):
    """(key, timestamp, sequence) -> row, with duplicates; fetches see only unexpired records."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.retention = 0
        self.observed = -1
        self._index: dict[tuple, list[tuple[int, int]]] = {}
        self._sequence = 0

    def _indexed(self, key: Hashable, add: bool) -> None:
        record_key, timestamp, sequence = key  # type: ignore[misc]
        entries = self._index.setdefault(record_key, [])
        position = bisect.bisect_left(entries, (timestamp, sequence))
        present = position < len(entries) and entries[position] == (timestamp, sequence)
        if add and not present:
            entries.insert(position, (timestamp, sequence))
            self.observed = max(self.observed, timestamp)
            self._sequence = max(self._sequence, sequence + 1)
        elif not add and present:
            del entries[position]
            if not entries:
                del self._index[record_key]

    def put(self, key: Hashable, value: Any) -> None:
        if value is None:
            self.delete(key)
            return
        self._indexed(key, True)
        super().put(key, value)

    def delete(self, key: Hashable) -> Any:
        self._indexed(key, False)
        return super().delete(key)

    def restore(self, key: Hashable, value: Any) -> None:
        self._indexed(key, value is not None)
        super().restore(key, value)

    def add(self, record_key: tuple, timestamp: int, value: list[Any]) -> None:
        """Keep a record (dropped when already expired, as a segment past the retention)."""
        self.observed = max(self.observed, timestamp)
        if timestamp < self.observed - self.retention:
            return
        self.put((record_key, timestamp, self._sequence), value)
        self._sequence += 1
        self._expire()

    def fetch(self, record_key: tuple, time_from: int, time_to: int) -> Iterator[tuple[int, list[Any]]]:
        """Records of `record_key` with time_from <= timestamp <= time_to, oldest first."""
        actual_from = max(time_from, self.observed - self.retention + 1)
        if time_to < actual_from:
            return iter(())
        entries = self._index.get(record_key, [])
        start = bisect.bisect_left(entries, (actual_from, -1))
        out = []
        for timestamp, sequence in entries[start:]:
            if timestamp > time_to:
                break
            out.append((timestamp, self.get((record_key, timestamp, sequence))))
        return iter(out)

    def _expire(self) -> None:
        limit = self.observed - self.retention
        if self._sequence % 256:
            return
        for record_key, entries in list(self._index.items()):
            for timestamp, sequence in list(entries):
                if timestamp >= limit:
                    break
                self.delete((record_key, timestamp, sequence))


class OuterJoinStore(InMemoryKeyValueStore):
    """(timestamp, left side?, key) -> [row, ...]: Kafka Streams' shared outer-join store (a list-value store)."""

    def add(self, key: tuple, value: list[Any]) -> None:
        existing = self.get(key)
        self.put(key, (existing or []) + [value])

    def remove(self, key: tuple) -> None:
        if self.get(key) is not None:
            self.delete(key)

    def ordered(self) -> list[tuple[tuple, list[list[Any]]]]:
        """Entries by timestamp, then the right side before the left, then key."""
        return sorted(self.items(), key=lambda item: (item[0][0], bool(item[0][1]), _sortable(item[0][2])))


class WindowStore(InMemoryKeyValueStore):
    """(key, start, end) -> [aggregate row, timestamp]: windowed aggregates, indexed by key and start."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._index: dict[tuple, list[tuple[int, int]]] = {}

    def _indexed(self, key: Hashable, add: bool) -> None:
        record_key, start, end = key  # type: ignore[misc]
        entries = self._index.setdefault(record_key, [])
        position = bisect.bisect_left(entries, (start, end))
        present = position < len(entries) and entries[position] == (start, end)
        if add and not present:
            entries.insert(position, (start, end))
        elif not add and present:
            del entries[position]
            if not entries:
                del self._index[record_key]

    def put(self, key: Hashable, value: Any) -> None:
        if value is None:
            self.delete(key)
            return
        if key not in self._data:  # an update of a stored window is already indexed
            self._indexed(key, True)
        super().put(key, value)

    def delete(self, key: Hashable) -> Any:
        self._indexed(key, False)
        return super().delete(key)

    def restore(self, key: Hashable, value: Any) -> None:
        self._indexed(key, value is not None)
        super().restore(key, value)

    def windows(self, record_key: tuple) -> list[tuple[int, int]]:
        """The (start, end) windows stored for a key, by start."""
        return list(self._index.get(record_key, []))

    def keys(self) -> list[tuple]:
        return list(self._index)


def _sortable(value: Any) -> Any:
    """A sort key that orders mixed/None values without comparing incompatible types."""
    if isinstance(value, tuple):
        return tuple(_sortable(v) for v in value)
    return (value is not None, str(type(value)), value if value is not None else 0)
