"""A TopicStore over a real Kafka cluster (admin client, producer, consumer), for the engine's server mode.

It implements the same calls as `InMemoryTopicStore`, so DDL, INSERT VALUES, pull queries over streams and
PRINT work unchanged against Kafka. Persistent queries do not read through `read()`: they run their own
consumer group loop (`labkit.engine.kafka_runtime`), as ksqlDB does.
"""
from __future__ import annotations

import threading
import time
from typing import Mapping

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

from labkit.config import Settings
from labkit.engine.topics import Headers, TopicDescription, TopicRecord, TopicStoreError

__all__ = ["KafkaTopicStore"]

_DESCRIBED_CONFIGS = ("cleanup.policy", "retention.ms")
DESCRIBE_CACHE_S = 2.0
"""How long a described topic is remembered (topics change rarely; pull queries describe theirs every time)."""


class KafkaTopicStore:
    """TopicStore backed by Kafka; thread-safe (each client is guarded by its own lock)."""

    def __init__(self, settings: Settings, *, client_id: str = "labkit-engine") -> None:
        self.settings = settings
        self._client_id = client_id
        conf = settings.kafka_client_config()
        self._admin = KafkaAdminClient(**conf, client_id=f"{client_id}-admin")
        self._producer = KafkaProducer(**conf, client_id=f"{client_id}-producer", acks="all", linger_ms=0)
        self._reader = KafkaConsumer(**conf, client_id=f"{client_id}-reader", enable_auto_commit=False,
                                     group_id=None)
        self._admin_lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._partition_cache: dict[str, int] = {}
        self._described: dict[str, tuple[float, TopicDescription]] = {}

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
        """Delete a topic (no error if it does not exist)."""
        self._described.pop(name, None)
        with self._admin_lock:
            if name in self._admin.list_topics():
                try:
                    self._admin.delete_topics([name])
                except UnknownTopicOrPartitionError:
                    pass
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
        """True if the bootstrap servers answer a metadata request within the timeout (a fresh connection)."""
        from labkit.cluster.health import kafka_reachable

        return kafka_reachable(self.settings, timeout_ms=timeout_ms)

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
            self._reader.assign([tp])
            self._reader.seek(tp, offset)
            batch = self._reader.poll(timeout_ms=500, max_records=max_records)
        return [
            TopicRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value,
                        tuple((h[0], h[1]) for h in (r.headers or ())))
            for r in batch.get(tp, [])
        ]

    def end_offset(self, topic: str, partition: int) -> int:
        """The offset the next record of the partition will get."""
        tp = TopicPartition(topic, partition)
        with self._reader_lock:
            return self._reader.end_offsets([tp]).get(tp, 0)

    def close(self) -> None:
        """Close the clients (pending records are flushed first)."""
        try:
            self._producer.flush(timeout=10)
        finally:
            self._producer.close(timeout=10)
            self._reader.close()
            self._admin.close()
