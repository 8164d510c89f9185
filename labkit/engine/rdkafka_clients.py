"""librdkafka (confluent-kafka) clients for the engine's hot path, with the kafka-python surface its runners use.

kafka-python decodes every fetched batch and encodes every sent record in Python, under the same GIL the
queries' own work needs; librdkafka fetches, decodes, batches and sends in C threads of its own. So a
persistent query reads its sources with an `RdConsumer` and all outputs and changelog writes go through one
`RdProducer`; the admin client, the pooled readers of transient queries and the command topic stay on
kafka-python. Errors come out as kafka-python `KafkaError`s (`RdKafkaError`, with `retriable` set), so the
runner's retry-from-the-committed-offsets logic treats both clients alike.

Records are partitioned as the Java client does (`partitioner=murmur2_random`: murmur2 of the key bytes), so a
query's output lands on the same partitions as ksqlDB's, and neither client creates a topic by asking for it.

    >>> consumer = RdConsumer(settings.librdkafka_config(), group_id="g", client_id="c")  # doctest: +SKIP
    >>> consumer.assign([TopicPartition("orders", 0)]); consumer.seek(TopicPartition("orders", 0), 0)  # doctest: +SKIP
    >>> consumer.poll(timeout_ms=200)  # {TopicPartition: [TopicRecord, ...]}          # doctest: +SKIP
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable, Mapping

import confluent_kafka as ck
from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from labkit.engine.topics import Headers, TopicRecord

__all__ = ["RdConsumer", "RdProducer", "RdReaderPool", "RdKafkaError", "delivery_errors_to"]

_log = logging.getLogger("labkit.engine.rdkafka")

METADATA_TIMEOUT_S = 10.0
SCAN_FETCH_WAIT_MS = 1
"""A scan reader's fetch wait: short, so the next scan's offset lookup does not queue behind an idle fetch."""
PARTITION_COUNT_TTL_S = 30.0
"""How long the producer trusts a topic's partition count (windowed sinks place records by it)."""

_RETRIABLE_CODES = {
    ck.KafkaError._TRANSPORT, ck.KafkaError._ALL_BROKERS_DOWN, ck.KafkaError._TIMED_OUT,
    ck.KafkaError._MSG_TIMED_OUT, ck.KafkaError._WAIT_COORD, ck.KafkaError._RESOLVE,
    ck.KafkaError.REQUEST_TIMED_OUT, ck.KafkaError.NETWORK_EXCEPTION, ck.KafkaError.NOT_COORDINATOR,
    ck.KafkaError.COORDINATOR_NOT_AVAILABLE, ck.KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    ck.KafkaError.NOT_LEADER_FOR_PARTITION, ck.KafkaError.LEADER_NOT_AVAILABLE,
    ck.KafkaError.NOT_ENOUGH_REPLICAS, ck.KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ck.KafkaError.BROKER_NOT_AVAILABLE, ck.KafkaError.REPLICA_NOT_AVAILABLE,
    # stale metadata (a moved leader, a topic deleted and created again): Kafka's own client retries these
    ck.KafkaError.UNKNOWN_TOPIC_OR_PART, ck.KafkaError._UNKNOWN_PARTITION, ck.KafkaError.FENCED_LEADER_EPOCH,
    ck.KafkaError.UNKNOWN_LEADER_EPOCH,
    ck.KafkaError.OFFSET_NOT_AVAILABLE,
}


class RdKafkaError(KafkaError):
    """A librdkafka error as a kafka-python `KafkaError`; `retriable` is true when it goes away with the brokers."""

    def __init__(self, error: ck.KafkaError | BaseException | str) -> None:
        if isinstance(error, ck.KafkaException) and error.args and isinstance(error.args[0], ck.KafkaError):
            error = error.args[0]
        if isinstance(error, ck.KafkaError):
            text = f"{error.name()}: {error.str()}"
            self.code = error.code()
            self.retriable = bool(error.retriable()) or error.code() in _RETRIABLE_CODES
        else:
            text = str(error)
            self.code = None
            self.retriable = False
        super().__init__(text)


def _log_error(error: ck.KafkaError) -> None:
    """librdkafka's client-level errors (brokers down and back): it retries by itself; the runner sees timeouts."""
    _log.debug("librdkafka: %s", error)


def _common(conf: Mapping[str, object], client_id: str) -> dict[str, object]:
    return {**conf, "client.id": client_id, "allow.auto.create.topics": False, "error_cb": _log_error,
            "logger": _log, "log.connection.close": False}


class RdConsumer:
    """A persistent query's consumer: assigned partitions, explicit positions, offsets committed to its group.

    Positions are kept here (the next offset to hand out per partition), so `position()` is exact right after a
    `seek()`. The assignment reaches librdkafka at the next `poll()`, with every partition's position.
    """

    def __init__(self, conf: Mapping[str, object], *, group_id: str, client_id: str,
                 max_poll_records: int = 1000, fetch_wait_max_ms: int = 100) -> None:
        """`fetch_wait_max_ms`: how long the broker may hold a fetch with nothing new. A broker answers one
        connection's requests in order, so an offset lookup or commit can wait behind such a fetch that long."""
        self._consumer = ck.Consumer({
            **_common(conf, client_id), "group.id": group_id, "enable.auto.commit": False,
            "enable.auto.offset.store": False, "auto.offset.reset": "earliest", "enable.partition.eof": False,
            "queued.max.messages.kbytes": 16384, "fetch.wait.max.ms": fetch_wait_max_ms})
        self.max_poll_records = max_poll_records
        self._assigned: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._native: dict[TopicPartition, ck.TopicPartition] = {}
        self._by_name: dict[tuple[str, int], TopicPartition] = {}
        self._dirty = False

    # -- metadata and offsets

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        """The topic's partition numbers, or None when the cluster does not know it."""
        try:
            metadata = self._consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            return None
        return set(found.partitions)

    def _tp(self, tp: TopicPartition) -> ck.TopicPartition:
        native = self._native.get(tp)
        if native is None:
            native = self._native[tp] = ck.TopicPartition(tp.topic, tp.partition)
        return native

    def _watermarks(self, tp: TopicPartition, timeout_ms: int | None) -> tuple[int, int]:
        timeout = METADATA_TIMEOUT_S if timeout_ms is None else timeout_ms / 1000
        try:
            return self._consumer.get_watermark_offsets(self._tp(tp), timeout=timeout, cached=False)
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None

    def beginning_offsets(self, partitions: Iterable[TopicPartition], timeout_ms: int | None = None
                          ) -> dict[TopicPartition, int]:
        return {tp: self._watermarks(tp, timeout_ms)[0] for tp in partitions}

    def end_offsets(self, partitions: Iterable[TopicPartition], timeout_ms: int | None = None
                    ) -> dict[TopicPartition, int]:
        return {tp: self._watermarks(tp, timeout_ms)[1] for tp in partitions}

    def highwater(self, tp: TopicPartition) -> int | None:
        """The partition's end offset as of the last fetch (None before the first one)."""
        try:
            high = self._consumer.get_watermark_offsets(self._tp(tp), cached=True)[1]
        except ck.KafkaException:
            return None
        return high if high >= 0 else None

    def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset of a partition (None: nothing committed)."""
        try:
            found = self._consumer.committed([self._tp(tp)], timeout=METADATA_TIMEOUT_S)
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None
        offset = found[0].offset if found else -1
        return offset if offset >= 0 else None

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        """Commit the next offsets to read, synchronously (at-least-once: only after the outputs are acked)."""
        if not offsets:
            return
        native = [ck.TopicPartition(tp.topic, tp.partition, meta.offset) for tp, meta in offsets.items()]
        try:
            self._consumer.commit(offsets=native, asynchronous=False)
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None

    # -- assignment and positions

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        self._assigned = sorted(set(partitions))
        kept = set(self._assigned)
        self._positions = {tp: offset for tp, offset in self._positions.items() if tp in kept}
        self._dirty = True

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read the partition from `offset` on (records fetched before the seek are dropped)."""
        self._positions[tp] = offset
        if self._dirty:
            return
        try:
            self._consumer.seek(ck.TopicPartition(tp.topic, tp.partition, offset))
        except ck.KafkaException:  # not fetching yet: assign again with every position
            self._dirty = True

    def position(self, tp: TopicPartition) -> int:
        offset = self._positions.get(tp)
        if offset is None:
            raise RdKafkaError(f"No position for {tp.topic}-{tp.partition}: seek first.")
        return offset

    # -- records

    def _sync_assignment(self) -> None:
        native = [ck.TopicPartition(tp.topic, tp.partition, self._positions.get(tp, ck.OFFSET_STORED))
                  for tp in self._assigned]
        try:
            self._consumer.assign(native)
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None
        self._dirty = False

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[TopicRecord]]:
        """Up to `max_poll_records` records, waiting at most `timeout_ms` for the first, by partition."""
        if self._dirty:
            self._sync_assignment()
        try:  # consume() would wait out the timeout for a full batch: wait for one record, then take what is there
            first = self._consumer.poll(timeout_ms / 1000)
            if first is None:
                return {}
            messages = [first]
            if self.max_poll_records > 1:
                messages += self._consumer.consume(num_messages=self.max_poll_records - 1, timeout=0)
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None
        batch: dict[TopicPartition, list[TopicRecord]] = {}
        positions = self._positions
        by_name = self._by_name
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise RdKafkaError(error)
                _log.debug("librdkafka consumer: %s", error)
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            tp = by_name.get((topic, partition))
            if tp is None:
                tp = by_name[(topic, partition)] = TopicPartition(topic, partition)
            expected = positions.get(tp)
            if expected is not None and offset < expected:
                continue  # fetched before a seek back
            headers = message.headers()
            records = batch.get(tp)
            if records is None:
                records = batch[tp] = []
            records.append(TopicRecord(topic, partition, offset, message.timestamp()[1], message.key(),
                                       message.value(), tuple(headers) if headers else ()))
            positions[tp] = offset + 1
        return batch

    def watermarks(self, tp: TopicPartition, timeout_ms: int | None = None) -> tuple[int, int]:
        """The partition's first and next offsets, asked of its leader now (one call for both).

        A leader that moved, or a topic deleted and created again under the same name, makes the cached metadata
        wrong: the metadata is asked for again and the lookup repeated until `timeout_ms` has passed."""
        deadline = time.monotonic() + (METADATA_TIMEOUT_S if timeout_ms is None else timeout_ms / 1000)
        while True:
            try:
                return self._watermarks(tp, max(1, int((deadline - time.monotonic()) * 1000)))
            except RdKafkaError as error:
                if not error.retriable or time.monotonic() >= deadline:
                    raise
                _log.debug("watermarks of %s-%d: %s; refreshing the metadata", tp.topic, tp.partition, error)
            self.partitions_for_topic(tp.topic)  # a metadata request: the cache learns the current leaders
            time.sleep(0.02)

    def reset(self) -> None:
        """Stop fetching and forget the assignment and positions (before the consumer is reused)."""
        self._assigned, self._positions, self._dirty = [], {}, False
        try:
            self._consumer.unassign()
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None

    def close(self, autocommit: bool = False) -> None:
        """Leave: nothing is committed here (the runner commits after each flushed batch)."""
        self._consumer.close()


class RdReaderPool:
    """Idle group-less RdConsumers for pull queries over streams: connected, so a scan starts at once.

    A reader is never used for commits (its group id only satisfies librdkafka); at most `keep` wait idle.
    """

    def __init__(self, conf: Mapping[str, object], *, name: str, keep: int = 4) -> None:
        self._conf = conf
        self._name = name
        self._keep = keep
        self._idle: list[RdConsumer] = []
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False

    def acquire(self) -> RdConsumer:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self._count += 1
            number = self._count
        return RdConsumer(self._conf, group_id=f"{self._name}-reader", client_id=f"{self._name}-reader-{number}",
                          fetch_wait_max_ms=SCAN_FETCH_WAIT_MS)

    def release(self, consumer: RdConsumer) -> None:
        try:
            consumer.reset()
        except RdKafkaError as error:
            _log.debug("a scan reader could not be reset, closing it: %s", error)
            consumer.close()
            return
        with self._lock:
            if not self._closed and len(self._idle) < self._keep:
                self._idle.append(consumer)
                return
        consumer.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for consumer in idle:
            consumer.close()


DeliveryReport = Callable[["ck.KafkaError | None", Any], None]


def delivery_errors_to(errors: list[BaseException]) -> DeliveryReport:
    """A delivery report callback that appends each failed delivery's error (as an RdKafkaError) to `errors`."""
    def delivered(error: ck.KafkaError | None, _message: Any) -> None:
        if error is not None:
            errors.append(RdKafkaError(error))
    return delivered


class RdProducer:
    """The engine's one producer: idempotent, acks=all, murmur2 partitioning as the Java client."""

    def __init__(self, conf: Mapping[str, object], *, client_id: str, linger_ms: int = 5,
                 delivery_timeout_ms: int = 120_000) -> None:
        self._producer = ck.Producer({
            **_common(conf, client_id), "acks": "all", "enable.idempotence": True, "linger.ms": linger_ms,
            "partitioner": "murmur2_random", "message.timeout.ms": delivery_timeout_ms})
        self._partition_counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def send(self, topic: str, key: bytes | None, value: bytes | None, timestamp_ms: int, *,
             partition: int | None = None, headers: Headers = (), on_delivery: DeliveryReport | None = None) -> None:
        """Queue one record; `on_delivery(error or None, message)` is called when a flush serves its report
        (`delivery_errors_to` makes one that keeps the errors)."""
        while True:
            try:
                self._producer.produce(topic, value, key, partition=-1 if partition is None else partition,
                                       timestamp=timestamp_ms, headers=list(headers) if headers else None,
                                       on_delivery=on_delivery)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)
            except ck.KafkaException as error:
                raise RdKafkaError(error) from None

    def flush(self, timeout: float | None = None) -> int:
        """Send everything queued and wait for the acknowledgements (each failure goes to its `on_error`);
        returns how many records are still unacknowledged when `timeout` seconds have passed."""
        return self._producer.flush(-1 if timeout is None else timeout)

    def partitions_for(self, topic: str) -> set[int] | None:
        """The topic's partition numbers from metadata at most `PARTITION_COUNT_TTL_S` old (None: unknown)."""
        now = time.monotonic()
        with self._lock:
            cached = self._partition_counts.get(topic)
        if cached is not None and now - cached[0] < PARTITION_COUNT_TTL_S:
            return set(range(cached[1]))
        try:
            metadata = self._producer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
        except ck.KafkaException as error:
            raise RdKafkaError(error) from None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        with self._lock:
            self._partition_counts[topic] = (now, len(found.partitions))
        return set(found.partitions)

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is queued (up to `timeout`); librdkafka frees the client when it is garbage."""
        remaining = self.flush(timeout)
        if remaining:
            _log.warning("closing the engine's producer with %d record(s) not acknowledged", remaining)
