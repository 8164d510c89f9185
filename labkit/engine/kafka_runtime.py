"""Running the engine's queries over a real Kafka cluster: one consumer loop per query, one producer.

A persistent query (CSAS, CTAS, INSERT INTO ... SELECT) runs in a thread of its own with a librdkafka consumer
(`RdConsumer`: fetching and decoding happen outside the GIL) whose
offsets live in the query's consumer group, named as ksqlDB names it
(`_confluent-ksql-<service id>query_<query id>`). The consumer is assigned every partition of the query's
source topics and starts at the group's committed offsets, or where `query.offset_reset` says when the group
has none. Each loop iteration is a blocking `poll(timeout_ms=...)`; fetched records wait in per-partition
buffers and are processed in Kafka Streams' order (`PartitionGroups`: per task, oldest timestamp first, and
a task waits while one of its partitions has nothing buffered but still lags), the outputs go to one shared
idempotent librdkafka producer (`RdProducer`, acks=all), the producer is flushed once, and only then are the processed offsets
committed: at-least-once, like ksqlDB's default processing guarantee. A Kafka error (brokers away) makes the
query wait and resume from its committed offsets instead of failing. Records of a windowed sink go to the
partition of their key without the window (Kafka Streams' WindowedStreamPartitioner), the others where the
producer's murmur2 partitioner puts their whole key.

A transient query (push query, or pull query over a stream) reads with a group-less consumer (assign and seek
to the beginning or the end) and hands rows to its collector; the REST layer waits on `wait_for_rows`.

State stores of a query are backed by compacted changelog topics
(`_confluent-ksql-<service id>query_<query id>-<store>-changelog`): restored when the store is created,
written (through the same producer) on every change.

    >>> runtime = KafkaRuntime(settings)                              # doctest: +SKIP
    >>> engine = KsqlEngine(KafkaTopicStore(settings), runtime=runtime)  # doctest: +SKIP
"""
from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import Any, Callable, Iterable, Mapping

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.structs import OffsetAndMetadata

from labkit.config import Settings
from labkit.engine.changelog import StateCodecError, changelog_topic, decode_state, encode_state
from labkit.engine.partition_group import BUFFERED_RECORDS_PER_PARTITION, PartitionGroups
from labkit.engine.processing_log import PRODUCTION_ERROR, ProcessingLog
from labkit.engine.rdkafka_clients import RdConsumer, RdProducer, RdReaderPool, delivery_errors_to
from labkit.engine.runtime import PersistentQuery
from labkit.engine.state import InMemoryKeyValueStore
from labkit.engine.topics import Headers, TopicRecord, TopicStore, murmur2_partition

__all__ = ["KafkaRuntime", "consumer_group_id", "seek_to_reset", "read_to_end", "NO_AUTO_CREATE",
           "without_auto_create"]

_log = logging.getLogger("labkit.engine.kafka_runtime")

COMMIT_INTERVAL_S = 2.0
"""While a persistent query is behind (its fetch position short of a partition's end offset), it flushes its
outputs and commits at most this often (ksqlDB's `ksql.streams.commit.interval.ms`, 2000); once it has caught
up it does both after every batch."""

WINDOW_PARTITION_CACHE = 100_000
"""How many (key without window, partition count) -> partition results windowed sinks keep (then start over)."""

PARTITION_REFRESH_S = 5.0
"""How often a running query looks for partitions added to its source topics (in the client's metadata)."""


def consumer_group_id(service_id: str, query_id: str) -> str:
    """The consumer group of a persistent query: `_confluent-ksql-<service id>query_<query id>`."""
    return f"_confluent-ksql-{service_id}query_{query_id}"


def _topic_record(record: Any) -> TopicRecord:
    if type(record) is TopicRecord:  # an RdConsumer's record already is one
        return record
    headers = tuple((k, v) for k, v in record.headers) if record.headers else ()
    return TopicRecord(record.topic, record.partition, record.offset, record.timestamp, record.key, record.value,
                       headers)


def _fail(query: PersistentQuery, error: BaseException) -> None:
    """Put a query in ERROR, noting when (EXPLAIN's queryErrors carry the time)."""
    query.status, query.error = "ERROR", error
    query.error_time_ms = int(time.time() * 1000)  # type: ignore[attr-defined]


def _reset_for(query: PersistentQuery, topic: str) -> str:
    """Where a query starts reading a topic without committed offsets (tables and join table sides: earliest)."""
    per_topic = getattr(query, "offset_reset_for", None)
    return per_topic(topic) if per_topic is not None else query.offset_reset


NO_AUTO_CREATE: dict[str, Any] = {"allow_auto_create_topics": False}
"""The engine's producers and consumers never create topics by asking for their metadata (as Kafka Streams'
clients): a deleted sink or changelog topic must not come back with the broker's default partitions/replicas."""


def without_auto_create(client: Any) -> Any:
    """Make a kafka-python client's metadata requests say `allow_auto_topic_creation=false`; returns it.

    kafka-python 3.0 accepts `allow_auto_create_topics=False` but does not pass it to the cluster metadata
    its requests are built from, so the option is set there as well.
    """
    for attribute in ("_metadata", "_cluster"):  # producer, consumer
        cluster = getattr(client, attribute, None)
        config = getattr(cluster, "config", None)
        if isinstance(config, dict) and "allow_auto_create_topics" in config:
            config["allow_auto_create_topics"] = False
    return client

RETRY_BACKOFF_S = (0.5, 10.0)
"""First and longest wait before a query retries after Kafka stopped answering (doubling in between)."""

STALE_READER_TIMEOUT_MS = 5000
"""How long a pooled reader's first offset lookup may take before it is replaced by a fresh one."""

READER_FETCH_WAIT_MS = 20
"""How long a transient query's fetch waits at the broker for data (and so how long a used reader stays busy).

Short, so a reader can serve the next pull query soon; an idle push query then asks 50 times a second."""


class _ReaderPool:
    """Connected group-less consumers for transient queries, so a pull query does not pay for a connect.

    A broker answers the requests of one connection in order, so a reader whose last long-poll fetch may still
    be in flight would hold back the next query's offset lookup: a used reader rests for the fetch wait before
    it is handed out again. A keeper thread closes surplus readers and keeps a few fresh ones ready.
    """

    def __init__(self, conf: dict[str, Any], size: int = 4, keep: int = 16) -> None:
        self._conf = conf
        self._size = size
        self._keep_at_most = keep
        self._idle: collections.deque[tuple[float, KafkaConsumer]] = collections.deque()
        self._lock = threading.Lock()
        self._count = 0
        self._tasks: queue.SimpleQueue[KafkaConsumer | None] = queue.SimpleQueue()
        self._closed = False
        self._keeper = threading.Thread(target=self._keep, name="labkit-reader-pool", daemon=True)
        self._keeper.start()
        self._tasks.put(None)  # fill the pool

    def _new(self) -> KafkaConsumer:
        with self._lock:
            self._count += 1
            number = self._count
        consumer = without_auto_create(KafkaConsumer(
            **self._conf, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            client_id=f"labkit-engine-reader-{number}", max_poll_records=BUFFERED_RECORDS_PER_PARTITION, fetch_max_wait_ms=READER_FETCH_WAIT_MS))
        consumer.topics()  # connect and load metadata now
        return consumer

    def _keep(self) -> None:
        while True:
            surplus = self._tasks.get()
            if surplus is not None:
                self._close(surplus)
            if self._closed:
                return
            try:
                while len(self._idle) < self._size:
                    consumer = self._new()
                    with self._lock:
                        self._idle.append((0.0, consumer))
            except Exception as error:  # noqa: BLE001 - the broker is away: acquire() will connect on demand
                _log.warning("could not prepare a reader: %s", error)

    def acquire(self) -> KafkaConsumer:
        now = time.monotonic()
        with self._lock:
            consumer = None
            if self._idle and self._idle[0][0] <= now:
                consumer = self._idle.popleft()[1]
            low = len(self._idle) < self._size
        if low:
            self._tasks.put(None)
        return consumer if consumer is not None else self._new()

    def fresh(self) -> KafkaConsumer:
        """A newly connected reader (its metadata knows only the topics of now)."""
        return self._new()

    def discard(self, consumer: KafkaConsumer) -> None:
        """Close a reader instead of reusing it (e.g. its metadata is stale)."""
        self._tasks.put(consumer)

    def release(self, consumer: KafkaConsumer) -> None:
        from labkit.engine.kafka_store import forget_topics  # kafka_store imports this module

        try:
            forget_topics(consumer)  # unassign and drop the topics it knew: one may be deleted before reuse
        except Exception:  # noqa: BLE001 - a broken consumer is closed instead of reused
            self._tasks.put(consumer)
            return
        with self._lock:
            if len(self._idle) < self._keep_at_most and not self._closed:
                self._idle.append((time.monotonic() + READER_FETCH_WAIT_MS / 1000 + 0.02, consumer))
                return
        self._tasks.put(consumer)

    @staticmethod
    def _close(consumer: KafkaConsumer) -> None:
        try:
            consumer.close(autocommit=False)
        except Exception as error:  # noqa: BLE001 - closing is best effort; say so
            _log.debug("closing a reader failed: %s", error)

    def close(self) -> None:
        self._closed = True
        self._tasks.put(None)
        self._keeper.join(timeout=10)
        with self._lock:
            idle, self._idle = list(self._idle), collections.deque()
        for _, consumer in idle:
            self._close(consumer)


def _retriable(error: BaseException) -> bool:
    """A Kafka error that goes away when the brokers come back (timeouts, leader changes, lost connections)."""
    return isinstance(error, (KafkaTimeoutError, OSError)) or bool(getattr(error, "retriable", False)) or \
        bool(getattr(error, "invalid_metadata", False))


def _partitions(consumer: KafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    found = []
    for topic in topics:
        for partition in sorted(consumer.partitions_for_topic(topic) or ()):
            found.append(TopicPartition(topic, partition))
    return found


def seek_to_reset(consumer: KafkaConsumer, partitions: list[TopicPartition], reset: str, *,
                  timeout_ms: int | None = None) -> dict[TopicPartition, int]:
    """Seek to the first ("earliest") or next ("latest") offset of each partition, looked up now.

    Explicit offsets rather than seek_to_beginning/end: the position is known when this returns (records
    written afterwards are seen), and a pooled consumer does not wait for a lazy offset reset.
    """
    if not partitions:
        return {}
    lookup = consumer.end_offsets if reset == "latest" else consumer.beginning_offsets
    offsets = lookup(partitions, timeout_ms=timeout_ms)
    for tp, offset in offsets.items():
        consumer.seek(tp, offset)
    return dict(offsets)


def read_to_end(consumer: KafkaConsumer, topic: str, on_record: Callable[[Any], None], *,
                timeout: float = 60.0) -> int:
    """Read a whole topic, from its beginning to the end offsets of now; returns the number of records."""
    partitions = _partitions(consumer, [topic])
    if not partitions:
        return 0
    consumer.assign(partitions)
    seek_to_reset(consumer, partitions, "earliest")
    ends = consumer.end_offsets(partitions)
    count = 0
    deadline = time.monotonic() + timeout
    while any(consumer.position(tp) < end for tp, end in ends.items()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading topic '{topic}' did not reach its end within {timeout:g} s")
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                on_record(record)
                count += 1
    return count


class _Runner:
    """The thread that feeds one query; `prepare()` runs in the caller's thread so positions are known on return."""

    def __init__(self, runtime: "KafkaRuntime", query: PersistentQuery) -> None:
        self.runtime = runtime
        self.query = query
        self.lock = threading.RLock()          # held while records go through the query
        self.rows = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.consumer: KafkaConsumer | None = None
        self.positions: dict[tuple[str, int], int] = {}
        self.thread = threading.Thread(target=self._run, name=f"labkit-query-{query.query_id}", daemon=True)
        self.send_errors: list[BaseException] = []
        self.delivered = delivery_errors_to(self.send_errors)  # the producer's report callback for this query
        self._last_refresh = time.monotonic()
        self.groups = PartitionGroups(self._lag)
        self._end_offsets: dict[TopicPartition, int] = {}

    def _lag(self, tp: TopicPartition) -> int | None:
        """How far the consumer's fetch position is behind the partition's end (None: not known yet)."""
        consumer = self.consumer
        assert consumer is not None
        highwater = consumer.highwater(tp)
        if highwater is None:
            highwater = self._end_offsets.get(tp)
            if highwater is None:  # nothing fetched from this partition yet: ask its leader once per poll
                try:
                    self._end_offsets.update(consumer.end_offsets([tp]))
                except KafkaError as error:
                    _log.debug("query %s: no end offset for %s: %s", self.query.query_id, tp, error)
                    return None
                highwater = self._end_offsets.get(tp)
                if highwater is None:
                    return None
        return max(0, highwater - consumer.position(tp))

    def _buffer(self, consumer: KafkaConsumer, batch: Mapping[TopicPartition, list]) -> None:
        """Add a poll's records to the partition buffers; what does not fit is fetched again later.

        Never `consumer.pause()`: kafka-python 3.0.12 may keep a resumed partition's parked fetch for ever (its
        fetcher restores it only when no other partition's records are in line), which stalled queries for good.
        """
        self._end_offsets.clear()
        for tp, records in batch.items():
            rejected = self.groups.add(tp, records)
            if rejected is not None:
                consumer.seek(tp, rejected)

    # -- lifecycle

    def prepare(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self.thread.start()

    def stop(self, *, wait: bool) -> None:
        self.stopping.set()
        with self.rows:
            self.rows.notify_all()
        if wait and self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=10)

    def release(self, consumer: KafkaConsumer) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        self.runtime._local.runner = self
        backoff = RETRY_BACKOFF_S[0]
        recovering = False
        try:
            while not self.stopping.is_set():
                try:
                    if recovering:
                        self._recover(consumer)
                        recovering = False
                    if not self._poll_once(consumer):
                        break
                    backoff = RETRY_BACKOFF_S[0]
                except (KafkaError, OSError) as error:  # brokers away: wait, go back to the committed offsets
                    _log.warning("query %s: Kafka is not answering (%s); retrying in %.1f s", self.query.query_id,
                                 error, backoff)
                    recovering = True
                    if self.stopping.wait(backoff):
                        break
                    backoff = min(backoff * 2, RETRY_BACKOFF_S[1])
        except Exception as error:  # noqa: BLE001 - the query fails; the error is kept on it and logged
            _log.exception("query %s failed", self.query.query_id)
            _fail(self.query, error)
        finally:
            self.release(consumer)
            with self.rows:
                self.rows.notify_all()

    def _poll_once(self, consumer: KafkaConsumer) -> bool:
        raise NotImplementedError

    def _recover(self, consumer: KafkaConsumer) -> None:
        """Continue after a Kafka error: the position stays where it is (transient queries)."""

    def _refresh_partitions(self, consumer: KafkaConsumer, seek_new: Callable[[list[TopicPartition]], None]) -> None:
        """Pick up partitions added to the source topics since the query started."""
        now = time.monotonic()
        if now - self._last_refresh < PARTITION_REFRESH_S:
            return
        self._last_refresh = now
        current = set(consumer.assignment())
        wanted = _partitions(consumer, self.query.source_topics)
        added = [tp for tp in wanted if tp not in current]
        if added:
            consumer.assign(sorted(current | set(added)))
            self.groups.assign(consumer.assignment())
            seek_new(added)


class _PersistentRunner(_Runner):
    """A CSAS/CTAS/INSERT INTO query: its consumer group, state restore, batch → flush → commit."""

    def __init__(self, runtime: "KafkaRuntime", query: PersistentQuery) -> None:
        super().__init__(runtime, query)
        self.group_id = consumer_group_id(runtime.service_id, query.query_id)
        self._done: dict[TopicPartition, int] = {}  # processed, not yet committed: the next offset per partition
        self._last_commit = time.monotonic()
        self._changelogs: list[tuple[InMemoryKeyValueStore, str, dict[Any, None]]] = []
        self._unwritable: set[str] = set()
        self._watching = False
        self._bound: set[str] = set()

    def prepare(self) -> None:
        runtime = self.runtime
        consumer = RdConsumer(runtime.rd_conf, group_id=self.group_id, client_id=f"{self.group_id}-consumer",
                              max_poll_records=runtime.max_poll_records)
        self.consumer = consumer  # type: ignore[assignment] - the kafka-python surface the runner uses
        try:
            partitions = _partitions(consumer, self.query.source_topics)
            consumer.assign(partitions)
            self.groups.assign(partitions)
            self._seek_committed(partitions)
            self._bind_stores()
        except BaseException:
            consumer.close(autocommit=False)
            raise

    def _seek_committed(self, partitions: list[TopicPartition]) -> None:
        consumer = self.consumer
        assert consumer is not None
        fresh = []
        for tp in partitions:
            committed = consumer.committed(tp)
            if committed is None:
                fresh.append(tp)
            else:
                consumer.seek(tp, committed)
        for reset in ("earliest", "latest"):
            seek_to_reset(consumer, [tp for tp in fresh if _reset_for(self.query, tp.topic) == reset], reset)
        for tp in partitions:  # resolved now: records written after start() returns are this query's
            self.positions[(tp.topic, tp.partition)] = consumer.position(tp)

    def _bind_stores(self) -> None:
        """Restore every state store of the query and watch for stores created later (again after a failure)."""
        if not self._watching:
            self._watching = True
            self.query.state.on_create(self._bind_store)
        for name in self.query.state.names():
            self._bind_store(self.query.state.get(name))

    def _bind_store(self, store: InMemoryKeyValueStore) -> None:
        """Restore a state store from its changelog topic and write its changes there from now on (once)."""
        if store.name in self._bound:
            return
        runtime = self.runtime
        topic = changelog_topic(runtime.service_id, self.query.query_id, store.name)
        runtime.ensure_changelog(topic, self.query.source_topics)
        reader = runtime.readers.acquire()
        try:
            def restore(record: Any) -> None:
                store.restore(decode_state(record.key), None if record.value is None else decode_state(record.value))

            restored = read_to_end(reader, topic, restore)
        finally:
            runtime.readers.release(reader)
        _log.info("query %s: restored %d changelog records into store %s", self.query.query_id, restored, store.name)
        dirty: dict[Any, None] = {}  # keys changed since the last commit, in order

        def write(name: str, key: Any, value: Any) -> None:
            dirty[key] = None

        self._changelogs.append((store, topic, dirty))
        store.add_listener(write)
        self._bound.add(store.name)

    @staticmethod
    def _caught_up(consumer: KafkaConsumer) -> bool:
        """Every partition fetched up to the end offset its last fetch reported (unknown counts as behind)."""
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None or consumer.position(tp) < highwater:
                return False
        return True

    def _write_changelogs(self) -> None:
        """Send each changed key's latest value (a tombstone once deleted) to its store's changelog topic.

        Once per commit rather than once per update, as Kafka Streams' record cache does: the changelog ends
        with the same value per key, and a restore gives the same store.
        """
        now = int(time.time() * 1000)
        for store, topic, dirty in self._changelogs:
            if not dirty:
                continue
            keys = list(dirty)
            dirty.clear()
            for key in keys:
                value = store.get(key)
                try:
                    key_bytes = encode_state(key)
                    value_bytes = None if value is None else encode_state(value)
                except StateCodecError as error:
                    if store.name not in self._unwritable:
                        self._unwritable.add(store.name)
                        _log.warning("query %s: store %s cannot be written to %s (%s); its state will not survive "
                                     "a restart", self.query.query_id, store.name, topic, error)
                    continue
                self.runtime.send(topic, key_bytes, value_bytes, now, ())

    def release(self, consumer: KafkaConsumer) -> None:
        try:
            consumer.close(autocommit=False)
        except Exception as error:  # noqa: BLE001 - closing is best effort; say so
            _log.warning("query %s: closing its consumer failed: %s", self.query.query_id, error)

    def _seek_new(self, added: list[TopicPartition]) -> None:
        self._seek_committed(added)

    def _recover(self, consumer: KafkaConsumer) -> None:
        """Go back to the last committed offsets: what was processed since is processed again (at-least-once)."""
        self.groups.clear()
        self.send_errors.clear()
        self._done.clear()
        self._bind_stores()  # a store created while Kafka was away may not be restored yet
        for tp in consumer.assignment():
            committed = self.positions.get((tp.topic, tp.partition))
            if committed is not None:
                consumer.seek(tp, committed)

    def _poll_once(self, consumer: KafkaConsumer) -> bool:
        query = self.query
        if query.status not in ("RUNNING", "PAUSED"):
            return False
        if query.status == "PAUSED":  # no fetching while paused (assigned partitions: no group to keep alive)
            self.stopping.wait(self.runtime.poll_timeout_ms / 1000)
            return True
        batch = consumer.poll(timeout_ms=self.runtime.poll_timeout_ms)
        self._refresh_partitions(consumer, self._seek_new)
        self._buffer(consumer, batch)
        if query.status != "RUNNING":
            return True
        done = self._done
        failed = False
        with self.lock:
            for record in self.groups.drain():  # each task's oldest timestamp first (Kafka Streams' order)
                try:
                    query.process(_topic_record(record))
                except KafkaError:
                    raise  # the output could not be sent (brokers away): retried from the committed offsets
                except Exception as error:  # noqa: BLE001 - a fatal record error puts the query in ERROR
                    _log.error("query %s failed on %s-%d@%d: %s", query.query_id, record.topic, record.partition,
                               record.offset, error)
                    _fail(query, error)
                    failed = True
                    break
                done[TopicPartition(record.topic, record.partition)] = record.offset + 1
                if query.status != "RUNNING" or self.stopping.is_set():
                    break  # PAUSE or TERMINATE: the records still buffered wait (or are read again after a restart)
        if not done and not failed:
            return True
        if not (failed or self.stopping.is_set() or query.status != "RUNNING" or self._caught_up(consumer)
                or time.monotonic() - self._last_commit >= self.runtime.commit_interval_s):
            return True  # behind: flush and commit after the next batches (Kafka Streams' commit interval)
        self._last_commit = time.monotonic()
        self._write_changelogs()
        self.runtime.flush()
        if self.send_errors:
            error = self.send_errors[0]
            self.send_errors.clear()
            if _retriable(error):
                raise error  # retried from the committed offsets once the brokers answer
            self.runtime.log_production_error(query.query_id, error)
            _fail(query, error)
            return False  # nothing of this batch is committed: it is read again after a restart
        if done:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in done.items()})
            for tp, offset in done.items():
                self.positions[(tp.topic, tp.partition)] = offset
            done.clear()
        return not failed


class _TransientRunner(_Runner):
    """A push query or a pull query over a stream: a group-less consumer from the pool."""

    def prepare(self) -> None:
        readers = self.runtime.readers
        consumer = readers.acquire()
        try:
            self._assign(consumer, timeout_ms=STALE_READER_TIMEOUT_MS)
            return
        except KafkaTimeoutError:  # a pooled reader may know a deleted topic of the same name: start afresh
            _log.info("query %s: replacing a reader with stale metadata", self.query.query_id)
            readers.discard(consumer)
        except BaseException:
            readers.release(consumer)
            raise
        consumer = readers.fresh()
        try:
            self._assign(consumer)
        except BaseException:
            readers.release(consumer)
            raise

    def _assign(self, consumer: KafkaConsumer, timeout_ms: int | None = None) -> None:
        self.consumer = consumer
        partitions = self._source_partitions(consumer)
        consumer.assign(partitions)
        self.groups.assign(partitions)
        self._seek_new(partitions, timeout_ms=timeout_ms)

    def _source_partitions(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        """The source topics' partitions as the topic store describes them (cached), else as the cluster does.

        A pooled reader forgot its topics on release, and kafka-python's partitions_for_topic then loads the
        metadata of every topic in the cluster (30 ms with a few hundred topics) before the query can start.
        """
        store = self.runtime.store
        if store is None:
            return _partitions(consumer, self.query.source_topics)
        found = []
        for topic in self.query.source_topics:
            description = store.describe_topic(topic)
            if description is None:
                return _partitions(consumer, self.query.source_topics)
            found += [TopicPartition(topic, partition) for partition in range(description.partitions)]
        return found

    def _seek_new(self, partitions: list[TopicPartition], timeout_ms: int | None = None) -> None:
        consumer = self.consumer
        assert consumer is not None
        for reset in ("earliest", "latest"):
            chosen = [tp for tp in partitions if _reset_for(self.query, tp.topic) == reset]
            for tp, offset in seek_to_reset(consumer, chosen, reset, timeout_ms=timeout_ms).items():
                self.positions[(tp.topic, tp.partition)] = offset

    def release(self, consumer: KafkaConsumer) -> None:
        self.runtime.readers.release(consumer)

    def _poll_once(self, consumer: KafkaConsumer) -> bool:
        batch = consumer.poll(timeout_ms=self.runtime.poll_timeout_ms)
        self._refresh_partitions(consumer, self._seek_new)
        self._buffer(consumer, batch)
        with self.rows:
            for record in self.groups.drain():
                try:
                    self.query.process(_topic_record(record))
                except Exception as error:  # noqa: BLE001 - the push query ends with this error
                    _fail(self.query, error)
                    self.rows.notify_all()
                    return False
                if self.stopping.is_set():
                    return False
            for tp in consumer.assignment():
                buffered = self.groups.next_offset(tp)
                self.positions[(tp.topic, tp.partition)] = consumer.position(tp) if buffered is None else buffered
            self.rows.notify_all()
        return True


class _ScanRunner(_TransientRunner):
    """A pull query over a stream: reads from the first offsets to the end offsets of now with a pooled
    librdkafka reader (one call per partition gives both), and publishes those end offsets on the query
    (`scan_end_offsets`) so it knows when it is complete."""

    def prepare(self) -> None:
        readers = self.runtime.scan_readers
        consumer = readers.acquire()
        try:
            self.consumer = consumer  # type: ignore[assignment] - the kafka-python surface the runner uses
            partitions = self._source_partitions(consumer)  # type: ignore[arg-type]
            consumer.assign(partitions)
            self.groups.assign(partitions)
            ends = {}
            for tp in partitions:
                low, high = consumer.watermarks(tp, timeout_ms=STALE_READER_TIMEOUT_MS)
                consumer.seek(tp, low)
                self.positions[(tp.topic, tp.partition)] = low
                ends[(tp.topic, tp.partition)] = high
            self.query.scan_end_offsets = ends
        except BaseException:
            readers.release(consumer)
            raise

    def _poll_once(self, consumer: KafkaConsumer) -> bool:
        """Poll as a transient query; end (and hand the reader back) once every partition reached its end."""
        if self._complete() or not super()._poll_once(consumer):
            return False
        return not self._complete()

    def _complete(self) -> bool:
        ends = self.query.scan_end_offsets or {}
        with self.rows:
            return all(self.positions.get(tp, 0) >= end for tp, end in ends.items())

    def release(self, consumer: KafkaConsumer) -> None:
        self.runtime.scan_readers.release(consumer)  # type: ignore[arg-type]


class KafkaRuntime:
    """The engine's Runtime over Kafka: a thread and a consumer per query, one idempotent producer for outputs.

    `hold()` makes `start()` only register queries (a restarting engine replays its command topic first);
    `release()` then starts those still registered, so queries terminated later in the log never run.
    """

    def __init__(self, settings: Settings, *, store: TopicStore | None = None, service_id: str = "default_",
                 processing_log: ProcessingLog | None = None, poll_timeout_ms: int = 200,
                 max_poll_records: int = BUFFERED_RECORDS_PER_PARTITION, replicas: int | None = None,
                 commit_interval_s: float = COMMIT_INTERVAL_S) -> None:
        self.settings = settings
        self.conf: dict[str, Any] = {**settings.kafka_client_config(), **NO_AUTO_CREATE}
        self.store = store
        self.service_id = service_id
        self.processing_log = processing_log or ProcessingLog()
        self.poll_timeout_ms = poll_timeout_ms
        self.max_poll_records = max_poll_records
        self.commit_interval_s = commit_interval_s
        self.replicas = replicas
        self.queries: dict[str, PersistentQuery] = {}
        self._runners: dict[str, _Runner] = {}
        self._lock = threading.RLock()
        self._held: list[str] | None = None
        self._closed = threading.Event()
        self._local = threading.local()
        self.rd_conf: dict[str, Any] = settings.librdkafka_config()
        self._producer = RdProducer(self.rd_conf, client_id="labkit-engine-producer")
        self._epoch_producer: KafkaProducer | None = None
        self._window_partitions: dict[tuple[bytes, int], int] = {}  # murmur2 is pure Python: keys repeat
        self.readers = _ReaderPool(self.conf)
        self.scan_readers = RdReaderPool(self.rd_conf, name=f"_confluent-ksql-{service_id}transient-scan")

    # -- the Runtime protocol

    def emit(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, headers: Headers) -> None:
        """Send one output record of the query running in this thread (flushed at the end of its batch).

        A windowed sink record goes where Kafka Streams' WindowedStreamPartitioner puts it: murmur2 of the key
        without its window (`sink_window_bytes` trailing bytes), so every window of a key shares a partition.
        """
        partition = None
        runner = getattr(self._local, "runner", None)
        trim = getattr(runner.query, "sink_window_bytes", 0) if runner is not None else 0
        if trim and key is not None and topic == runner.query.sink_topic and len(key) >= trim:
            partition = self._partition_without_window(topic, key[:-trim])
        self.send(topic, key, value, timestamp, headers, partition=partition)

    def _partition_without_window(self, topic: str, inner_key: bytes) -> int | None:
        partitions = self._producer.partitions_for(topic)  # the producer's cached metadata
        if not partitions or len(partitions) <= 1:
            return None
        count = len(partitions)
        cached = self._window_partitions.get((inner_key, count))
        if cached is None:
            if len(self._window_partitions) >= WINDOW_PARTITION_CACHE:
                self._window_partitions.clear()
            cached = self._window_partitions[(inner_key, count)] = murmur2_partition(inner_key, count)
        return cached

    def send(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, headers: Headers, *,
             partition: int | None = None) -> None:
        runner = getattr(self._local, "runner", None)
        if timestamp == 0:
            self._send_at_epoch(topic, key, value, headers, partition,
                                None if runner is None else runner.send_errors.append)
            return
        self._producer.send(topic, key, value, timestamp, partition=partition, headers=headers,
                            on_delivery=None if runner is None else runner.delivered)

    def _send_at_epoch(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers,
                       partition: int | None, on_error: Callable[[BaseException], None] | None) -> None:
        """Send a record whose timestamp is 0 (the epoch) through kafka-python: librdkafka reads 0 as "now".

        Both producers are flushed around it, so it keeps its place among the records sent before and after.
        """
        with self._lock:
            if self._epoch_producer is None:
                self._epoch_producer = without_auto_create(KafkaProducer(
                    **self.conf, client_id="labkit-engine-producer-epoch", acks="all", enable_idempotence=True))
            producer = self._epoch_producer
        self._producer.flush()
        future = producer.send(topic, key=key, value=value, timestamp_ms=0, partition=partition,
                               headers=list(headers) if headers else None)
        if on_error is not None:
            future.add_errback(on_error)
        producer.flush()

    def flush(self) -> None:
        """Wait until every record sent so far is acknowledged by all in-sync replicas."""
        self._producer.flush()

    def start(self, query: PersistentQuery) -> None:
        """Start feeding a query (persistent when it has a sink topic, else transient)."""
        with self._lock:
            self.queries[query.query_id] = query
            if self._held is not None and query.sink_topic is not None:
                self._held.append(query.query_id)
                return
        self._launch(query)

    def _launch(self, query: PersistentQuery) -> None:
        runner: _Runner
        if query.sink_topic is not None:
            runner = _PersistentRunner(self, query)
        elif query.bounded:
            runner = _ScanRunner(self, query)
        else:
            runner = _TransientRunner(self, query)
        try:
            runner.prepare()
        except (KafkaError, OSError, TimeoutError) as error:
            _log.error("query %s could not start: %s", query.query_id, error)
            _fail(query, error)
            if query.sink_topic is not None:  # a persistent query starts once the brokers answer again
                threading.Thread(target=self._retry_launch, args=(runner,), daemon=True,
                                 name=f"labkit-start-{query.query_id}").start()
            return
        self._run_prepared(runner)

    def _retry_launch(self, runner: "_Runner") -> None:
        """Prepare a persistent query again and again (with back-off) until it starts or is stopped."""
        query = runner.query
        backoff = RETRY_BACKOFF_S[0]
        while not self._closed.wait(backoff):
            if self.queries.get(query.query_id) is not query:
                return
            try:
                runner.prepare()
            except (KafkaError, OSError, TimeoutError) as error:
                _log.warning("query %s still cannot start: %s", query.query_id, error)
                backoff = min(backoff * 2, RETRY_BACKOFF_S[1])
                continue
            if query.status == "ERROR":
                query.status, query.error = "RUNNING", None
            _log.info("query %s started after Kafka came back", query.query_id)
            self._run_prepared(runner)
            return

    def _run_prepared(self, runner: "_Runner") -> None:
        query = runner.query
        with self._lock:
            if query.query_id not in self.queries:  # stopped while it was being prepared
                runner.release(runner.consumer)  # type: ignore[arg-type]
                return
            self._runners[query.query_id] = runner
        runner.start()

    def stop(self, query_id: str) -> PersistentQuery | None:
        """Stop a query: a persistent query's thread is joined and its consumer closed; a transient one ends soon."""
        with self._lock:
            query = self.queries.pop(query_id, None)
            runner = self._runners.pop(query_id, None)
            if self._held is not None and query_id in self._held:
                self._held.remove(query_id)
        if runner is not None:
            runner.stop(wait=query is not None and query.sink_topic is not None)
        if query is not None:
            query.status = "TERMINATED"
        return query

    def positions(self, query_id: str) -> dict[tuple[str, int], int]:
        """The next offset the query reads, per (topic, partition) (committed ones for persistent queries)."""
        runner = self._runners.get(query_id)
        if runner is None:
            return {}
        with runner.lock:
            return dict(runner.positions)

    def run_until_idle(self, *, raise_errors: bool = False) -> int:
        """Queries run in their own threads: nothing to drive here."""
        return 0

    # -- what the REST adapter and the command runner use

    def rows_lock(self, query_id: str) -> threading.Condition | None:
        """The condition a transient query's rows are delivered under (None once the query is gone)."""
        runner = self._runners.get(query_id)
        return None if runner is None else runner.rows

    def is_running(self, query_id: str) -> bool:
        runner = self._runners.get(query_id)
        return runner is not None and runner.thread.is_alive()

    def hold(self) -> None:
        """Register queries without starting them until `release()` (command-topic replay)."""
        with self._lock:
            self._held = []

    def release(self) -> None:
        """Start the queries registered since `hold()` that are still registered."""
        with self._lock:
            held, self._held = self._held or [], None
            queries = [self.queries[q] for q in held if q in self.queries]
        for query in queries:  # each prepares (restores its state) in a thread of its own: the server is ready now
            threading.Thread(target=self._launch, args=(query,), daemon=True,
                             name=f"labkit-start-{query.query_id}").start()

    def ensure_changelog(self, topic: str, source_topics: list[str]) -> None:
        """Create a store's compacted changelog topic unless it exists."""
        store = self.store
        if store is None or store.describe_topic(topic) is not None:
            return
        partitions = 1
        for source in source_topics:
            description = store.describe_topic(source)
            if description is not None:
                partitions = max(partitions, description.partitions)
        try:
            store.create_topic(topic, partitions=partitions, replicas=self.replicas or 1,
                               config={"cleanup.policy": "compact"})
        except Exception as error:  # noqa: BLE001 - created concurrently is fine; anything else is reported
            if store.describe_topic(topic) is None:
                raise
            _log.debug("changelog %s already created: %s", topic, error)

    def log_production_error(self, query_id: str, error: BaseException) -> None:
        self.processing_log.log(f"processing.{query_id}.KafkaTopic_Sink", PRODUCTION_ERROR,
                                f"Error producing an output record: {error}", error)

    def wait_caught_up(self, query_id: str, timeout: float = 30.0) -> bool:
        """Block until a persistent query has committed up to the current end of its source topics (tests)."""
        query = self.queries.get(query_id)
        if query is None or self.store is None:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ends = {}
            for topic in query.source_topics:
                description = self.store.describe_topic(topic)
                for partition in range(description.partitions if description else 0):
                    ends[(topic, partition)] = self.store.end_offset(topic, partition)
            positions = self.positions(query_id)
            if all(positions.get(tp, 0) >= end for tp, end in ends.items()):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Stop every query, flush and close the producer and the pooled readers."""
        self._closed.set()
        for query_id in list(self.queries):
            self.stop(query_id)
        try:
            self._producer.close(timeout=10)
            if self._epoch_producer is not None:
                self._epoch_producer.close(timeout=10)
        finally:
            self.readers.close()
            self.scan_readers.close()
