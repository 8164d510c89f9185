"""Running persistent queries: pull records from the topic store, push them through compiled steps.

`PersistentQuery.build(...)` composes a query's steps once into per-topic record handlers; `process(record)`
runs one record through them (outputs go to the store via the sink's emitter). `QueryRuntime` is the
loop: it keeps each query's position per topic partition (captured from `auto.offset.reset` when the
query starts), reads new records with `TopicStore.read` and hands them to the query, oldest timestamp
first across partitions, as Kafka Streams picks them. A Kafka runtime drives the same `process(record)`
from a consumer group per query (`_confluent-ksql-<service id>query_<query id>`), committing offsets
after the outputs are produced.

A record that makes a query fail (a fatal error, e.g. a timestamp extractor configured to throw) puts the
query in ERROR state; the error is kept on the query and raised by `run_until_idle(raise_errors=True)`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from labkit.engine.processing_log import ProcessingLog
from labkit.engine.state import StateStores
from labkit.engine.steps import BuildContext, ExecutionStep, Processor, SinkStep
from labkit.engine.topics import Headers, TopicRecord, TopicStore
from labkit.engine.types import SqlType
from labkit.errors import LabkitError

__all__ = ["PersistentQuery", "Runtime", "QueryRuntime", "QueryFailedError"]

_log = logging.getLogger("labkit.engine.runtime")


class QueryFailedError(LabkitError):
    """A persistent query stopped on an error it cannot skip."""

    def __init__(self, query_id: str, cause: BaseException) -> None:
        self.query_id = query_id
        self.cause = cause
        super().__init__(str(cause))


@dataclass
class PersistentQuery:
    """One running query: its record handlers per source topic, state stores and status."""

    query_id: str
    sql: str
    sink_topic: str | None
    handlers: dict[str, Callable[[TopicRecord], None]]
    state: StateStores
    offset_reset: str = "earliest"
    status: str = "RUNNING"  # RUNNING, PAUSED, ERROR, TERMINATED
    error: BaseException | None = None
    processed: int = 0
    topic_offset_reset: dict[str, str] = field(default_factory=dict)
    """Per-topic overrides of `offset_reset` (ksqlDB reads tables, and the table side of a join, from earliest)."""
    bounded: bool = False
    """A pull query over a stream: it reads up to the end offsets of its start, then completes."""
    scan_end_offsets: dict[tuple[str, int], int] | None = None
    """Of a bounded query: the end offsets its reader found when it started (None: the runtime did not look)."""

    def offset_reset_for(self, topic: str) -> str:
        """Where the query starts reading `topic` when it has no position yet: 'earliest' or 'latest'."""
        return self.topic_offset_reset.get(topic, self.offset_reset)

    @classmethod
    def build(cls, query_id: str, sql: str, sink: ExecutionStep, *, config: Mapping[str, Any],
              processing_log: ProcessingLog, emit: Callable[[str, "bytes | None", "bytes | None", int, Headers], None],
              custom_types: Mapping[str, SqlType] | None = None, offset_reset: str = "earliest",
              downstream: Processor | None = None,
              wall_clock: Callable[[], int] | None = None) -> "PersistentQuery":
        """Compose the steps ending in `sink` (a SinkStep, or any step plus a `downstream` collector)."""
        ctx = BuildContext(query_id, config, processing_log, emit, dict(custom_types or {}))
        if wall_clock is not None:
            ctx.wall_clock = wall_clock
        if isinstance(sink, SinkStep):
            sink.build(ctx, None)
            sink_topic: str | None = sink.topic
        else:
            assert downstream is not None, "a non-sink root needs a downstream processor"
            sink.build(ctx, downstream)
            sink_topic = None
        return cls(query_id, sql, sink_topic, ctx.sources, ctx.state, offset_reset)

    @property
    def source_topics(self) -> list[str]:
        return list(self.handlers)

    def process(self, record: TopicRecord) -> None:
        """Run one record through the query (records of topics it does not read are ignored)."""
        handler = self.handlers.get(record.topic)
        if handler is not None and self.status == "RUNNING":
            self.processed += 1
            handler(record)


class Runtime(Protocol):
    """What the engine needs from whatever runs its queries (in-process loop, or Kafka consumer groups)."""

    queries: dict[str, PersistentQuery]

    def start(self, query: PersistentQuery) -> None:
        """Begin running a query from the position its `offset_reset` says."""

    def stop(self, query_id: str) -> PersistentQuery | None:
        """Stop and forget a query (TERMINATE, DROP of its sink, end of a transient query)."""

    def emit(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, headers: Headers) -> None:
        """Write one output record of a query (sink steps call this)."""

    def positions(self, query_id: str) -> dict[tuple[str, int], int]:
        """The next offset a query reads, per (topic, partition)."""

    def run_until_idle(self, *, raise_errors: bool = False) -> int:
        """Process what is available now (a background runtime may simply return 0)."""


class QueryRuntime:
    """Drives persistent queries over a TopicStore, one position per query and topic partition."""

    def __init__(self, store: TopicStore) -> None:
        self.store = store
        self.queries: dict[str, PersistentQuery] = {}
        self._positions: dict[str, dict[tuple[str, int], int]] = {}
        self.current: PersistentQuery | None = None

    def emit(self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, headers: Headers) -> None:
        """Append a query's output record to the store."""
        self.store.append(topic, key, value, timestamp=timestamp, headers=headers)

    def start(self, query: PersistentQuery) -> None:
        """Add a query; it starts at the end of its topics ('latest') or their beginning ('earliest')."""
        positions: dict[tuple[str, int], int] = {}
        for topic in query.source_topics:
            description = self.store.describe_topic(topic)
            for partition in range(description.partitions if description else 0):
                positions[(topic, partition)] = (self.store.end_offset(topic, partition)
                                                 if query.offset_reset_for(topic) == "latest" else 0)
        self.queries[query.query_id] = query
        self._positions[query.query_id] = positions

    def positions(self, query_id: str) -> dict[tuple[str, int], int]:
        """The next offset the query reads, per (topic, partition)."""
        return dict(self._positions.get(query_id, {}))

    def stop(self, query_id: str) -> PersistentQuery | None:
        """Remove a query (TERMINATE)."""
        self._positions.pop(query_id, None)
        query = self.queries.pop(query_id, None)
        if query is not None:
            query.status = "TERMINATED"
        return query

    def _refresh_partitions(self, query: PersistentQuery, positions: dict[tuple[str, int], int]) -> None:
        for topic in query.source_topics:
            description = self.store.describe_topic(topic)
            for partition in range(description.partitions if description else 0):
                positions.setdefault((topic, partition), 0)

    def poll_query(self, query: PersistentQuery, max_records: int = 500) -> int:
        """Process up to `max_records` available records of one query; returns how many."""
        positions = self._positions.get(query.query_id)
        if positions is None or query.status != "RUNNING":
            return 0
        self._refresh_partitions(query, positions)
        done = 0
        self.current = query
        try:
            while done < max_records:
                heads: list[TopicRecord] = []
                for (topic, partition), offset in positions.items():
                    batch = self.store.read(topic, partition, offset, 1)
                    if batch:
                        heads.append(batch[0])
                if not heads:
                    break
                record = min(heads, key=lambda r: r.timestamp)
                positions[(record.topic, record.partition)] = record.offset + 1
                try:
                    query.process(record)
                except Exception as error:  # noqa: BLE001 - a failed query stops; the error is kept on it
                    query.status, query.error = "ERROR", error
                    _log.error("query %s failed on %s-%d@%d: %s", query.query_id, record.topic, record.partition,
                               record.offset, error)
                    break
                done += 1
        finally:
            self.current = None
        return done

    def run_until_idle(self, *, raise_errors: bool = False, max_rounds: int = 100_000) -> int:
        """Process every available record of every query, query by query, until none is left."""
        total = 0
        for _ in range(max_rounds):
            progress = 0
            for query in list(self.queries.values()):
                while True:
                    count = self.poll_query(query)
                    progress += count
                    if count == 0:
                        break
                if raise_errors and query.error is not None:
                    error, query.error = query.error, None
                    raise QueryFailedError(query.query_id, error) from error
            total += progress
            if progress == 0:
                return total
        return total
