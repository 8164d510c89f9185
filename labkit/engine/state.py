"""State stores for stateful steps (materialized tables, aggregates, join windows).

A step asks its build context for a named `KeyValueStore`. The in-memory store keeps insertion order
and reports every change to optional listeners, so a runtime can write a changelog topic and restore the
store from it on start (what Kafka Streams does with `-changelog` topics).
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Iterator, Protocol, TypeVar

__all__ = ["KeyValueStore", "InMemoryKeyValueStore", "StateStores", "ChangeListener"]

ChangeListener = Callable[[str, Hashable, Any], None]
_Store = TypeVar("_Store", bound="InMemoryKeyValueStore")
"""Called with (store name, key, new value or None for a delete)."""


class KeyValueStore(Protocol):
    """A named map from keys to values; None is never stored (put(k, None) deletes)."""

    name: str

    def get(self, key: Hashable) -> Any:
        ...

    def put(self, key: Hashable, value: Any) -> None:
        ...

    def delete(self, key: Hashable) -> Any:
        ...

    def items(self) -> Iterator[tuple[Hashable, Any]]:
        ...

    def __len__(self) -> int:
        ...


class InMemoryKeyValueStore:
    """A dict-backed KeyValueStore with change listeners."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._data: dict[Hashable, Any] = {}
        self._listeners: list[ChangeListener] = []

    def add_listener(self, listener: ChangeListener) -> None:
        """Call `listener` after every put or delete (for a changelog)."""
        self._listeners.append(listener)

    def get(self, key: Hashable) -> Any:
        return self._data.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        if value is None:
            self.delete(key)
            return
        self._data[key] = value
        for listener in self._listeners:
            listener(self.name, key, value)

    def delete(self, key: Hashable) -> Any:
        old = self._data.pop(key, None)
        for listener in self._listeners:
            listener(self.name, key, None)
        return old

    def items(self) -> Iterator[tuple[Hashable, Any]]:
        return iter(list(self._data.items()))

    def restore(self, key: Hashable, value: Any) -> None:
        """Apply one changelog record without notifying listeners."""
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value

    def __len__(self) -> int:
        return len(self._data)


class StateStores:
    """The stores of one query, created on first use."""

    def __init__(self, factory: Callable[[str], InMemoryKeyValueStore] = InMemoryKeyValueStore) -> None:
        self._factory = factory
        self._stores: dict[str, InMemoryKeyValueStore] = {}
        self._on_create: list[Callable[[InMemoryKeyValueStore], None]] = []

    def get(self, name: str) -> InMemoryKeyValueStore:
        store = self._stores.get(name)
        if store is None:
            store = self._stores[name] = self._factory(name)
            for callback in self._on_create:
                callback(store)
        return store

    def get_store(self, name: str, kind: Callable[[str], _Store]) -> _Store:
        """The store `name`, created with `kind` (an InMemoryKeyValueStore subclass keeping an index, e.g. a
        window store) when it does not exist yet; restoring it through `restore` keeps its index right."""
        store = self._stores.get(name)
        if store is None:
            store = self._stores[name] = kind(name)
            for callback in self._on_create:
                callback(store)
        return store  # type: ignore[return-value]

    def on_create(self, callback: Callable[[InMemoryKeyValueStore], None]) -> None:
        """Call `callback` with every store: those that exist now, and each one created later.

        A runtime uses it to restore stores from their changelog topics and attach changelog writers,
        whether a step creates its stores while it is built or on its first record.
        """
        self._on_create.append(callback)
        for store in list(self._stores.values()):
            callback(store)

    def names(self) -> list[str]:
        return list(self._stores)
