"""The ordered-retry app's in-memory store: message ids waiting in the retry topic, grouped by key.

A key is *locked* while any of its ids is in the store; every later event of a locked key is sent to the
retry topic behind the earlier ones. A tombstone frees only its own id, so a key with several events in
flight stays locked until the last one is done. The store mirrors the compacted redirect topic: a lock
record (key = message id, value = {"key": group}) adds an id, a tombstone (same key, null value) removes it.

Example:
    >>> store = RedirectStore()
    >>> store.add("orders/0/4", "k3"); store.add("orders/0/7", "k3")
    True
    True
    >>> store.remove("orders/0/4"), store.is_locked("k3")
    (True, True)
"""
from __future__ import annotations

import json
import threading
from typing import Iterable

from labkit.patterns.errors import InvalidRecordError


def message_id(topic: str, partition: int, offset: int) -> str:
    """A unique, stable id for a source record: the same record gets the same id after a restart."""
    return f"{topic}/{partition}/{offset}"


def lock_value(key: str, origin: tuple[str, int, int]) -> bytes:
    """The value of a lock record on the redirect topic."""
    topic, partition, offset = origin
    return json.dumps({"key": key, "topic": topic, "partition": partition, "offset": offset},
                      sort_keys=True).encode("utf-8")


def lock_group(value: bytes) -> str:
    """The group key a lock record locks; raises InvalidRecordError for a value that is not a lock."""
    try:
        document = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidRecordError(f"A redirect record is not JSON: {error}.") from None
    if not isinstance(document, dict) or not isinstance(document.get("key"), str):
        raise InvalidRecordError("A redirect record has no 'key' field.")
    return document["key"]


def compacted_view(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, str]:
    """What a compacted redirect topic keeps, from its (key, value) records in log order: id -> group key."""
    view: dict[str, str] = {}
    for key, value in records:
        if key is None:
            continue
        mid = key.decode("utf-8")
        if value is None:
            view.pop(mid, None)
        else:
            view[mid] = lock_group(value)
    return dict(sorted(view.items()))


class RedirectStore:
    """Message ids in retry, grouped by key; thread-safe so a notebook can look while the app runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids_by_key: dict[str, list[str]] = {}
        self._key_of: dict[str, str] = {}

    def add(self, mid: str, key: str) -> bool:
        """Record that `mid` (of group `key`) waits in the retry topic; False if it was already there."""
        with self._lock:
            if mid in self._key_of:
                return False
            self._key_of[mid] = key
            self._ids_by_key.setdefault(key, []).append(mid)
            return True

    def remove(self, mid: str) -> bool:
        """Free one id (its tombstone arrived); False if it was not in the store."""
        with self._lock:
            key = self._key_of.pop(mid, None)
            if key is None:
                return False
            ids = self._ids_by_key[key]
            ids.remove(mid)
            if not ids:
                del self._ids_by_key[key]
            return True

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one redirect-topic record: a lock adds its id, a tombstone removes it."""
        if key is None:
            return
        mid = key.decode("utf-8")
        if value is None:
            self.remove(mid)
        else:
            self.add(mid, lock_group(value))

    def is_locked(self, key: str) -> bool:
        """True while `key` has an event waiting in the retry topic."""
        with self._lock:
            return key in self._ids_by_key

    def __contains__(self, mid: object) -> bool:
        with self._lock:
            return mid in self._key_of

    def __len__(self) -> int:
        with self._lock:
            return len(self._key_of)

    def ids_of(self, key: str) -> list[str]:
        """The ids of `key` in retry, oldest first."""
        with self._lock:
            return list(self._ids_by_key.get(key, ()))

    def locked_keys(self) -> list[str]:
        """The keys that are locked, sorted."""
        with self._lock:
            return sorted(self._ids_by_key)

    def snapshot(self) -> dict[str, str]:
        """id -> group key, sorted by id (compare it with `compacted_view` of the redirect topic)."""
        with self._lock:
            return dict(sorted(self._key_of.items()))

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""
        with self._lock:
            self._ids_by_key.clear()
            self._key_of.clear()
