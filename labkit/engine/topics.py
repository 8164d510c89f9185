"""The topic store the engine reads and writes: a small interface, and an in-memory implementation.

Everything the engine needs from Kafka goes through `TopicStore`: create, describe, list and delete
topics; append records; read records of one partition from an offset. The query runtime pulls records
with `read` and pushes them through compiled steps, which write their output with `append`, so the
processing logic never touches a client library. `InMemoryTopicStore` backs unit tests and the
conformance driver; a Kafka-backed store implements the same five calls with an admin client, a
producer and a consumer.

    >>> store = InMemoryTopicStore()
    >>> store.create_topic("orders", partitions=2)
    >>> record = store.append("orders", b"k", b"v", timestamp=5)
    >>> [r.value for r in store.read("orders", record.partition, 0)]
    [b'v']
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

from labkit.errors import LabkitError

__all__ = ["TopicRecord", "TopicDescription", "TopicStore", "InMemoryTopicStore", "SandboxTopicStore",
           "TopicStoreError", "murmur2_partition", "HIDDEN_TOPIC_PREFIXES"]

Headers = tuple[tuple[str, "bytes | None"], ...]
HIDDEN_TOPIC_PREFIXES = ("_confluent", "__confluent", "_schemas", "__consumer_offsets", "__transaction_state",
                         "connect-configs", "connect-offsets", "connect-status", "connect-statuses")


class TopicStoreError(LabkitError):
    """A topic operation failed (unknown topic, existing topic, bad partition)."""


@dataclass(frozen=True)
class TopicRecord:
    """One record in a topic partition."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


@dataclass(frozen=True)
class TopicDescription:
    """A topic's name, partition count, replication factor and config (e.g. cleanup.policy)."""

    name: str
    partitions: int
    replicas: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


class TopicStore(Protocol):
    """What the engine needs from a Kafka cluster."""

    def create_topic(self, name: str, *, partitions: int = 1, replicas: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        """Create a topic; TopicStoreError if it exists."""

    def describe_topic(self, name: str) -> TopicDescription | None:
        """The topic's description, or None when it does not exist."""

    def list_topics(self) -> list[str]:
        """Names of all topics, sorted."""

    def delete_topic(self, name: str) -> None:
        """Delete a topic and its records (no error if absent)."""

    def append(self, topic: str, key: bytes | None, value: bytes | None, *, timestamp: int,
               partition: int | None = None, headers: Headers = ()) -> TopicRecord:
        """Write one record (partition chosen from the key when None) and return it with its offset."""

    def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[TopicRecord]:
        """Records of one partition from `offset` on (at most `max_records`)."""

    def end_offset(self, topic: str, partition: int) -> int:
        """The offset the next record of the partition will get."""


def _murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (as the Java client's default partitioner computes it)."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = (data[i4] & 0xFF) + ((data[i4 + 1] & 0xFF) << 8) + ((data[i4 + 2] & 0xFF) << 16) + \
            ((data[i4 + 3] & 0xFF) << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    index = length & ~3
    if extra == 3:
        h ^= (data[index + 2] & 0xFF) << 16
    if extra >= 2:
        h ^= (data[index + 1] & 0xFF) << 8
    if extra >= 1:
        h ^= data[index] & 0xFF
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def murmur2_partition(key: bytes | None, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a keyed record (keyless: partition 0)."""
    if key is None or partitions <= 1:
        return 0
    return (_murmur2(key) & 0x7FFFFFFF) % partitions


class InMemoryTopicStore:
    """A TopicStore in memory; thread-safe. `partitioner(key, partitions)` picks partitions for appends."""

    def __init__(self, partitioner: Callable[[bytes | None, int], int] = murmur2_partition) -> None:
        self._partitioner = partitioner
        self._topics: dict[str, TopicDescription] = {}
        self._logs: dict[str, list[list[TopicRecord]]] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[TopicRecord], None]] = []

    def add_listener(self, listener: Callable[[TopicRecord], None]) -> None:
        """Call `listener` with every appended record (tests and notebooks watch topics this way)."""
        self._listeners.append(listener)

    def create_topic(self, name: str, *, partitions: int = 1, replicas: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        with self._lock:
            if name in self._topics:
                raise TopicStoreError(f"Topic '{name}' already exists.")
            if partitions < 1:
                raise TopicStoreError(f"Invalid partition count {partitions} for topic '{name}'.")
            self._topics[name] = TopicDescription(name, partitions, replicas, dict(config or {}))
            self._logs[name] = [[] for _ in range(partitions)]

    def describe_topic(self, name: str) -> TopicDescription | None:
        with self._lock:
            return self._topics.get(name)

    def list_topics(self) -> list[str]:
        with self._lock:
            return sorted(self._topics)

    def delete_topic(self, name: str) -> None:
        with self._lock:
            self._topics.pop(name, None)
            self._logs.pop(name, None)

    def append(self, topic: str, key: bytes | None, value: bytes | None, *, timestamp: int,
               partition: int | None = None, headers: Headers = ()) -> TopicRecord:
        with self._lock:
            logs = self._logs.get(topic)
            if logs is None:
                raise TopicStoreError(f"Topic '{topic}' does not exist.")
            if partition is None:
                partition = self._partitioner(key, len(logs))
            if not 0 <= partition < len(logs):
                raise TopicStoreError(f"Topic '{topic}' has no partition {partition}.")
            log = logs[partition]
            record = TopicRecord(topic, partition, len(log), timestamp, key, value, tuple(headers))
            log.append(record)
        for listener in self._listeners:
            listener(record)
        return record

    def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[TopicRecord]:
        with self._lock:
            logs = self._logs.get(topic)
            if logs is None or not 0 <= partition < len(logs):
                return []
            return logs[partition][offset:offset + max_records]

    def end_offset(self, topic: str, partition: int) -> int:
        with self._lock:
            logs = self._logs.get(topic)
            if logs is None or not 0 <= partition < len(logs):
                return 0
            return len(logs[partition])

    def records(self, topic: str) -> Sequence[TopicRecord]:
        """Every record of a topic, partition by partition (tests)."""
        with self._lock:
            return [r for log in self._logs.get(topic, []) for r in log]


class SandboxTopicStore:
    """A view of another store in which topic changes and appends are simulated, never applied.

    Statements are validated against it before they run for real (ksqlDB's sandboxed engine)."""

    def __init__(self, real: TopicStore) -> None:
        self._real = real
        self._created: dict[str, TopicDescription] = {}
        self._deleted: set[str] = set()

    def create_topic(self, name: str, *, partitions: int = 1, replicas: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        if self.describe_topic(name) is not None:
            raise TopicStoreError(f"Topic '{name}' already exists.")
        self._created[name] = TopicDescription(name, partitions, replicas, dict(config or {}))
        self._deleted.discard(name)

    def describe_topic(self, name: str) -> TopicDescription | None:
        if name in self._created:
            return self._created[name]
        return None if name in self._deleted else self._real.describe_topic(name)

    def list_topics(self) -> list[str]:
        names = (set(self._real.list_topics()) | set(self._created)) - self._deleted
        return sorted(names)

    def delete_topic(self, name: str) -> None:
        self._created.pop(name, None)
        self._deleted.add(name)

    def append(self, topic: str, key: bytes | None, value: bytes | None, *, timestamp: int,
               partition: int | None = None, headers: Headers = ()) -> TopicRecord:
        if self.describe_topic(topic) is None:
            raise TopicStoreError(f"Topic '{topic}' does not exist.")
        return TopicRecord(topic, partition or 0, 0, timestamp, key, value, tuple(headers))

    def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[TopicRecord]:
        return []

    def end_offset(self, topic: str, partition: int) -> int:
        return 0
