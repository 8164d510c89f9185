"""A TopicStore over a real Kafka cluster (admin client, producer, consumer), for the engine's server mode.

It implements the same calls as `InMemoryTopicStore`, so DDL, INSERT VALUES, pull queries over streams and
PRINT work unchanged against Kafka. Persistent queries do not read through `read()`: they run their own
consumer group loop (`labkit.engine.kafka_runtime`), as ksqlDB does.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    TopicAlreadyExistsError,
    UnknownBrokerIdError,
    UnknownTopicOrPartitionError,
)

from labkit.config import Settings
from labkit.engine.kafka_runtime import without_auto_create
from labkit.engine.topics import Headers, TopicDescription, TopicRecord, TopicStoreError

__all__ = ["KafkaTopicStore", "forget_topics"]

_log = logging.getLogger("labkit.engine.kafka_store")

_DESCRIBED_CONFIGS = ("cleanup.policy", "retention.ms")
OFFSET_LOOKUP_TIMEOUT_MS = 5000
"""How long an end-offset lookup may take before the reader is replaced (its metadata may be stale)."""
DESCRIBE_CACHE_S = 2.0
"""How long a described topic is remembered (topics change rarely; pull queries describe theirs every time)."""

DELETE_WAIT_S = 10.0
"""How long deleting a topic waits for the cluster to stop describing it."""


def forget_topics(consumer: KafkaConsumer) -> None:
    """Make a group-less reader safe to reuse: unassign it and stop its metadata tracking what it read.

    kafka-python's `unsubscribe()` unassigns but leaves the topics in the client's metadata (its
    `set_topics([])` never shrinks the tracked set). A pooled reader that restored a changelog topic since
    deleted (DROP, TERMINATE) then asks for that topic on every refresh, and the next user whose metadata wait
    joins such a refresh gets `UnknownTopicOrPartitionError` naming the deleted topic. Clearing the tracked
    topics and asking for a refresh leaves the reader knowing only what its next user assigns.
    """
    consumer.unsubscribe()
    cluster = getattr(consumer, "_cluster", None)
    tracked = getattr(cluster, "_topics", None)
    if not isinstance(tracked, set) or not tracked:
        return
    lock = getattr(cluster, "_lock", None)
    if lock is None:
        cluster._topics = set()  # type: ignore[union-attr]
    else:
        with lock:
            cluster._topics = set()  # type: ignore[union-attr]
    cluster.request_update()  # type: ignore[union-attr]


class _RetryingAdmin:
    """The admin client, each call repeated when the broker it picked refuses the connection.

    kafka-python's admin client sends a request to one broker (picked at random among those it knows) and
    fails at once when that broker is stopped; asking again soon picks another one.
    """

    def __init__(self, admin: KafkaAdminClient, attempts: int = 5) -> None:
        self._admin = admin
        self._attempts = attempts

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._admin, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(self._attempts):
                try:
                    return method(*args, **kwargs)
                except (KafkaConnectionError, NodeNotReadyError, UnknownBrokerIdError) as error:
                    if attempt == self._attempts - 1:
                        raise
                    if isinstance(error, UnknownBrokerIdError):  # a broker restarted since the last metadata
                        self._admin._controller_id = None
                        self._admin._manager.run(self._admin._manager.cluster.refresh_metadata)
                    _log.debug("admin %s: %s; asking again", name, error)
                    time.sleep(0.2 * (attempt + 1))
            raise AssertionError("unreachable")

        return call


class KafkaTopicStore:
    """TopicStore backed by Kafka; thread-safe (each client is guarded by its own lock)."""

    def __init__(self, settings: Settings, *, client_id: str = "labkit-engine") -> None:
        self.settings = settings
        self._client_id = client_id
        conf = settings.kafka_client_config()
        admin = KafkaAdminClient(**conf, client_id=f"{client_id}-admin")
        admin_cluster = getattr(getattr(admin, "_manager", None), "cluster", None)
        if isinstance(getattr(admin_cluster, "config", None), dict):  # see kafka_runtime.without_auto_create
            admin_cluster.config["allow_auto_create_topics"] = False
        self._admin = _RetryingAdmin(admin)
        self._conf = conf
        self._producer = without_auto_create(KafkaProducer(**conf, client_id=f"{client_id}-producer", acks="all",
                                                           linger_ms=0, allow_auto_create_topics=False))
        self._reader = self._new_reader()
        self._admin_lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._partition_cache: dict[str, int] = {}
        self._described: dict[str, tuple[float, TopicDescription]] = {}
        self._last_reachable = 0
        self._reader_stale = False

    def _new_reader(self) -> KafkaConsumer:
        return without_auto_create(KafkaConsumer(**self._conf, client_id=f"{self._client_id}-reader",
                                                 enable_auto_commit=False, group_id=None,
                                                 allow_auto_create_topics=False))

    # ---- topics -------------------------------------------------------------------------------------
    def create_topic(self, name: str, *, partitions: int = 1, replicas: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        """Create a topic and wait until its metadata is visible; TopicStoreError if it exists."""
        replicas = replicas if replicas and replicas > 0 else -1
        spec = {name: {"num_partitions": partitions, "replication_factor": replicas,
                       "configs": dict(config or {})}}
        with self._admin_lock:
            deadline = time.monotonic() + 30
            while True:
                try:
                    self._admin.create_topics(spec)
                    break
                except TopicAlreadyExistsError:
                    if name in self._admin.list_topics() or time.monotonic() > deadline:
                        raise TopicStoreError(f"Topic '{name}' already exists.") from None
                    time.sleep(0.3)  # an earlier delete of this name is still being applied
                except KafkaError as error:
                    raise TopicStoreError(f"Could not create topic '{name}': {error}") from None
            self._admin.wait_for_topics([name])
        self._described.pop(name, None)
        self._partition_cache[name] = partitions
        deadline = time.monotonic() + 10
        while self.describe_topic(name) is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the broker the next describe asks may learn of the topic a moment later

    def describe_topic(self, name: str) -> TopicDescription | None:
        """Partitions, replication factor and the configs the engine cares about, or None.

        A topic found is remembered for DESCRIBE_CACHE_S (pull queries describe their topic every time);
        this store's own creates and deletes forget it at once, a topic not found is always asked again.
        """
        cached = self._described.get(name)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        description = self._describe(name)
        if description is not None:
            self._described[name] = (time.monotonic() + DESCRIBE_CACHE_S, description)
        return description

    def _describe(self, name: str) -> TopicDescription | None:
        self._described.pop(name, None)
        with self._admin_lock:
            try:
                (topic,) = self._admin.describe_topics([name])
            except (UnknownTopicOrPartitionError, ValueError):
                return None
            if topic.get("error_code") or not topic.get("partitions"):
                return None
            replicas = len(topic["partitions"][0]["replica_nodes"])
            config = self._topic_config(name)
        self._partition_cache[name] = len(topic["partitions"])
        return TopicDescription(name, len(topic["partitions"]), replicas, config)

    def _topic_config(self, name: str) -> dict[str, str]:
        """The topic's explicitly set configs among those the engine reads (e.g. cleanup.policy)."""
        from kafka.admin import ConfigResource, ConfigResourceType

        try:
            result = self._admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        except (KafkaError, ValueError):
            return {}
        entries = result.get("topic", {}).get(name, {})
        return {key: entry["value"] for key, entry in entries.items()
                if key in _DESCRIBED_CONFIGS and entry.get("value") is not None}

    def list_topics(self) -> list[str]:
        """All topic names, sorted (internal ones included; callers hide what they must)."""
        with self._admin_lock:
            return sorted(self._admin.list_topics())

    def delete_topic(self, name: str) -> None:
        """Delete a topic (no error if it does not exist); the reader forgets it (it may come back).

        Waits (up to DELETE_WAIT_S) until the cluster no longer describes it, so a CREATE of the same name
        right after a DROP ... DELETE TOPIC sees no topic rather than the one being deleted.
        """
        self._described.pop(name, None)
        with self._admin_lock:
            if name in self._admin.list_topics():
                try:
                    self._admin.delete_topics([name])
                except UnknownTopicOrPartitionError:
                    pass
        self._partition_cache.pop(name, None)
        self._reader_stale = True  # replaced before its next use
        deadline = time.monotonic() + DELETE_WAIT_S
        try:
            while self._describe(name) is not None and time.monotonic() < deadline:
                time.sleep(0.1)
        except KafkaError as error:  # the deletion was accepted; only the wait for it is given up
            _log.debug("waiting for topic %s to be deleted: %s", name, error)
        self._described.pop(name, None)
        self._partition_cache.pop(name, None)

    # ---- cluster --------------------------------------------------------------------------------------
    def describe_cluster(self) -> dict:
        """The cluster id, controller and brokers, as the admin client reports them."""
        with self._admin_lock:
            try:
                return self._admin.describe_cluster()
            except KafkaError as error:
                raise TopicStoreError(f"Could not describe the Kafka cluster: {error}") from None

    def cluster_id(self) -> str:
        """The Kafka cluster id (GET /info's kafkaClusterId)."""
        return str(self.describe_cluster().get("cluster_id") or "")

    def broker_count(self) -> int:
        """How many brokers the cluster has now."""
        return len(self.describe_cluster().get("brokers", []))

    def reachable(self, timeout_ms: int = 2000) -> bool:
        """True if one of the bootstrap servers answers a metadata request within the timeout (fresh connections).

        Each server is asked on its own: with one broker stopped the cluster is still reachable.
        """
        from labkit.cluster.health import kafka_reachable

        servers = self.settings.bootstrap_list
        if len(servers) <= 1:
            return kafka_reachable(self.settings, timeout_ms=timeout_ms)
        start = self._last_reachable % len(servers)
        for index in [*range(start, len(servers)), *range(start)]:  # the server that answered last time first
            if kafka_reachable(self.settings.with_overrides(bootstrap=servers[index]), timeout_ms=timeout_ms):
                self._last_reachable = index
                return True
        return False

    # ---- records ------------------------------------------------------------------------------------
    def append(self, topic: str, key: bytes | None, value: bytes | None, *, timestamp: int,
               partition: int | None = None, headers: Headers = ()) -> TopicRecord:
        """Produce one record with acks=all and wait for its offset."""
        future = self._producer.send(topic, key=key, value=value, partition=partition, timestamp_ms=timestamp,
                                     headers=[(k, v) for k, v in headers])
        try:
            meta = future.get(timeout=30)
        except KafkaError as error:
            raise TopicStoreError(f"Could not write to topic '{topic}': {error}") from None
        return TopicRecord(topic, meta.partition, meta.offset, timestamp, key, value, tuple(headers))

    def flush(self) -> None:
        """Wait until every record sent so far is acknowledged."""
        self._producer.flush()

    def read(self, topic: str, partition: int, offset: int, max_records: int = 500) -> list[TopicRecord]:
        """Records of one partition from `offset` on; returns what arrives within a short poll."""
        tp = TopicPartition(topic, partition)
        with self._reader_lock:
            if self._reader_stale:
                self._replace_reader()
            self._reader.assign([tp])
            self._reader.seek(tp, offset)
            batch = self._reader.poll(timeout_ms=500, max_records=max_records)
        return [
            TopicRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value,
                        tuple((h[0], h[1]) for h in (r.headers or ())))
            for r in batch.get(tp, [])
        ]

    def end_offset(self, topic: str, partition: int) -> int:
        """The offset the next record of the partition will get.

        A reader that knew a topic deleted and created again under the same name keeps asking the old
        partition leaders and times out: it is then replaced by a fresh one, which asks again.
        """
        tp = TopicPartition(topic, partition)
        with self._reader_lock:
            if self._reader_stale:
                self._replace_reader()
            try:
                return self._reader.end_offsets([tp], timeout_ms=OFFSET_LOOKUP_TIMEOUT_MS).get(tp, 0)
            except KafkaTimeoutError:
                self._replace_reader()
            try:
                return self._reader.end_offsets([tp]).get(tp, 0)
            except KafkaError as error:
                raise TopicStoreError(f"Could not read the end offset of topic '{topic}' partition {partition}: "
                                      f"{error}. Is the Kafka cluster up?") from None

    def _replace_reader(self) -> None:
        """Close the reader and connect a new one (no metadata of deleted topics); call with the reader lock."""
        old, self._reader = self._reader, self._new_reader()
        self._reader_stale = False
        try:
            old.close()
        except Exception as error:  # noqa: BLE001 - closing a stale reader is best effort; say so
            _log.debug("closing a stale reader failed: %s", error)

    def close(self) -> None:
        """Close the clients (pending records are flushed first)."""
        try:
            self._producer.flush(timeout=10)
        finally:
            self._producer.close(timeout=10)
            self._reader.close()
            self._admin.close()
