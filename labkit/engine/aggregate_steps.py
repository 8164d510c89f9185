"""Aggregation execution steps: GROUP BY re-keying, stream and table aggregation, windows, EMIT FINAL.

Aggregates live in the state store `Aggregate-Aggregate-Materialize`: key (tuple; plus window start and end
for windowed aggregations) -> [aggregate row, timestamp], where the aggregate row is the non-aggregate
columns of the last input row followed by each UDAF's intermediate state. Every update emits the mapped
row (caching off, as ksqlDB's tests run); table aggregations undo the old row before adding the new one
(Kafka Streams' KTableAggregate); session windows merge, emitting a tombstone for each merged session;
EMIT FINAL emits each window once, after stream time passes its end plus the grace period.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.engine.compile import RUNTIME_ERRORS
from labkit.engine.formats import KeyFormat, RecordSerde, ValueFormat, FormatSpec
from labkit.engine.join_steps import _TopicWriter, _internal_topic_name
from labkit.engine.schema import Column, LogicalSchema
from labkit.engine.serde import SerdeError
from labkit.engine.state_stores import TableStore, WindowStore, frozen_key, thawed_key
from labkit.engine.steps import BuildContext, ExecutionStep, Processor, Row
from labkit.engine.udafs import Udaf
from labkit.engine.windows import WindowDefinition
from labkit.sql import ast

__all__ = ["GroupByStep", "AggregateSpec", "AggregateStep", "WindowBoundsStep"]

DUMMY_KEY = b"\x01"


# -------------------------------------------------------------------------------------------- GROUP BY


@dataclass
class GroupByStep(ExecutionStep):
    """The grouping key: evaluated from the GROUP BY expressions (rows with a NULL part are dropped), or
    the current key when it already is the grouping. Tables send the old row's removal, then the new row's
    addition (Kafka Streams' KTableRepartitionMap)."""

    parent: ExecutionStep
    expressions: tuple[ast.Expression, ...]
    key_columns: tuple[Column, ...]
    rekey: bool
    topic: Any = None  # planner.InternalTopic of the repartition, when re-keying
    key_format: KeyFormat | None = None
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        self.schema = LogicalSchema(self.key_columns, self.parent.schema.value)
        self.is_table = self.parent.is_table

    def describe(self) -> str:
        return "GroupBy"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        compiler = ctx.compiler(self.parent.schema, (), "GroupBy")
        evaluators = [None if isinstance(e, ast.StringLiteral) and e.value == "\x01" else compiler.compile(e).evaluate
                      for e in self.expressions]
        logger = ctx.logger("GroupBy")
        rekey, is_table = self.rekey, self.is_table
        topic = _internal_topic_name(ctx, self.topic) if rekey else None
        writer = _TopicWriter(ctx, topic, self.schema, self.key_format or KeyFormat(FormatSpec("JSON")),
                              self.parent) if topic else None

        def key_of(value: list[Any]) -> list[Any] | None:
            key = []
            for index, evaluate in enumerate(evaluators):
                if evaluate is None:
                    key.append(DUMMY_KEY)
                    continue
                try:
                    part = evaluate(value)
                except RUNTIME_ERRORS as error:
                    logger.error(f"Error calculating group-by column with index {index}. The source row will be "
                                 f"excluded from the table: {error}", error)
                    return None
                if part is None:
                    logger.error(f"Group-by column with index {index} resolved to null. The source row will be "
                                 "excluded from the table.")
                    return None
                key.append(part)
            return key

        def forward(row: Row) -> None:
            if writer is not None:
                writer.write(row)
            downstream(row)

        def process_stream(row: Row) -> None:
            if row.value is None:
                return
            if not rekey:  # grouped by the key: the row goes on as it is
                key = row.key
                if key is None or None in key:
                    return
                forward(row)
                return
            key = key_of(row.value)
            if key is None or any(k is None for k in key):
                return
            forward(row.derive(key=key))

        def process_table(row: Row) -> None:
            # ksqlDB 0.29 sends the removal and the addition as two records even for the same key
            new_key = key_of(row.value) if row.value is not None else None
            old_key = key_of(row.old) if row.old is not None else None
            if old_key is not None:
                forward(row.derive(key=old_key, value=None, old=row.old))
            if new_key is not None:
                forward(row.derive(key=new_key, value=row.value, old=None))

        self.parent.build(ctx, process_table if is_table else process_stream)


# ----------------------------------------------------------------------------------------- aggregation


@dataclass(frozen=True)
class AggregateSpec:
    """The aggregate calls of a query, resolved, and what the aggregate row carries."""

    functions: tuple[ast.FunctionCall, ...]
    udafs: tuple[Udaf, ...]
    non_aggregate: tuple[str, ...]
    arguments: tuple[tuple[ast.Expression, ...], ...]
    window: WindowDefinition | None = None
    emit_final: bool = False


class _Aggregator:
    """ksqlDB's KudafInitializer, KudafAggregator, KudafUndoAggregator, merger and result mapper."""

    def __init__(self, ctx: BuildContext, spec: AggregateSpec, input_schema: LogicalSchema) -> None:
        self.udafs = spec.udafs
        self.non_agg = [input_schema.value_index(name) for name in spec.non_aggregate]
        compiler = ctx.compiler(input_schema, (), "Aggregate")
        self.arguments = [[compiler.compile(a).evaluate for a in args] for args in spec.arguments]
        self.logger = ctx.logger("Aggregate")
        self.count = len(self.non_agg)

    def initial(self) -> list[Any]:
        return [None] * self.count + [u.initialize() for u in self.udafs]

    def _args(self, value: list[Any], index: int) -> tuple:
        out = []
        for evaluate in self.arguments[index]:
            try:
                out.append(evaluate(value))
            except RUNTIME_ERRORS as error:
                self.logger.error(f"Error computing an aggregate function argument: {error}", error)
                out.append(None)
        return tuple(out)

    def aggregate(self, value: list[Any], agg: list[Any]) -> list[Any]:
        out = [value[i] if i is not None else None for i in self.non_agg]
        for index, udaf in enumerate(self.udafs):
            out.append(udaf.aggregate(self._args(value, index), agg[self.count + index]))
        return out

    def undo(self, value: list[Any], agg: list[Any]) -> list[Any]:
        out = [value[i] if i is not None else None for i in self.non_agg]
        for index, udaf in enumerate(self.udafs):
            assert udaf.undo is not None
            out.append(udaf.undo(self._args(value, index), agg[self.count + index]))
        return out

    def merge(self, one: list[Any], two: list[Any]) -> list[Any]:
        out = list(one[:self.count])
        for index, udaf in enumerate(self.udafs):
            out.append(udaf.merge(one[self.count + index], two[self.count + index]))
        return out

    def result(self, agg: list[Any] | None) -> list[Any] | None:
        if agg is None:
            return None
        out = list(agg[:self.count])
        for index, udaf in enumerate(self.udafs):
            out.append(udaf.map(agg[self.count + index]))
        return out


@dataclass
class AggregateStep(ExecutionStep):
    """Aggregate grouped rows into the store; emits the new aggregate (with the old one) on every update."""

    parent: ExecutionStep
    spec: AggregateSpec
    schema: LogicalSchema
    store: str

    def __post_init__(self) -> None:
        self.is_table = True

    @property
    def is_windowed(self) -> bool:
        return self.spec.window is not None or self.parent.is_windowed

    @property
    def store_name(self) -> str:
        return self.store

    def describe(self) -> str:
        window = self.spec.window
        return f"Aggregate({window.type if window else 'unwindowed'})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        aggregator = _Aggregator(ctx, self.spec, self.parent.schema)
        window = self.spec.window
        if self.parent.is_table:
            process = self._table(ctx, aggregator, downstream)
        elif window is None:
            process = self._stream(ctx, aggregator, downstream)
        elif window.is_session:
            process = _SessionAggregation(ctx, self, aggregator, downstream).process
        else:
            process = _TimeWindowAggregation(ctx, self, aggregator, downstream).process
        self.parent.build(ctx, process)

    def _stream(self, ctx: BuildContext, aggregator: _Aggregator, downstream: Processor) -> Processor:
        store = ctx.state.get_store(self.store, TableStore)

        def process(row: Row) -> None:
            if row.key is None or row.value is None:
                return
            key = frozen_key(row.key)
            previous = store.get(key)
            if previous is None:
                agg, timestamp = aggregator.initial(), row.timestamp
            else:
                agg, timestamp = previous[0], max(row.timestamp, previous[1])
            new = aggregator.aggregate(row.value, agg)
            store.put(key, [new, timestamp])
            downstream(Row(list(row.key), aggregator.result(new), timestamp, row.partition, row.offset, None,
                           row.headers, aggregator.result(previous[0]) if previous is not None else None))
        return process

    def _table(self, ctx: BuildContext, aggregator: _Aggregator, downstream: Processor) -> Processor:
        store = ctx.state.get_store(self.store, TableStore)

        def process(row: Row) -> None:
            if row.key is None:
                return
            key = frozen_key(row.key)
            previous = store.get(key)
            old_agg = None if previous is None else previous[0]
            timestamp = row.timestamp
            if row.old is not None and old_agg is not None:
                intermediate = aggregator.undo(row.old, old_agg)
                timestamp = max(row.timestamp, previous[1])  # type: ignore[index]
            else:
                intermediate = old_agg
            if row.value is not None:
                new = aggregator.aggregate(row.value, intermediate if intermediate is not None else aggregator.initial())
                if previous is not None:
                    timestamp = max(row.timestamp, previous[1])
            else:
                new = intermediate
            if new is None:
                store.delete(key)
            else:
                store.put(key, [new, timestamp])
            downstream(Row(list(row.key), aggregator.result(new), timestamp, row.partition, row.offset, None,
                           row.headers, aggregator.result(old_agg)))
        return process


class _TimeWindowAggregation:
    """Kafka Streams' KStreamWindowAggregate (tumbling and hopping windows), EMIT FINAL included."""

    def __init__(self, ctx: BuildContext, step: AggregateStep, aggregator: _Aggregator, downstream: Processor) -> None:
        self.window = step.spec.window
        assert self.window is not None
        self.store = ctx.state.get_store(step.store, WindowStore)
        self.aggregator = aggregator
        self.downstream = downstream
        self.emit_final = step.spec.emit_final
        self.observed = -1
        self.last_emit: int | None = None
        self.clock = ctx.wall_clock
        self.interval = _emit_interval(ctx)
        self.next_emit = 0
        self.sort_key = _key_sorter(ctx, step)
        self.store_observed: int | None = None

    def _live(self, start: int) -> bool:
        """The window store's retention, counted from the latest window start it holds."""
        if self.store_observed is None:
            self.store_observed = max((s for k in self.store.keys() for s, _ in self.store.windows(k)), default=-1)
        # EMIT FINAL uses Kafka Streams' time-ordered window store, whose retention bound is inclusive
        bound = self.store_observed - self.window.retention + (0 if self.emit_final else 1)  # type: ignore[union-attr]
        return start >= bound

    def process(self, row: Row) -> None:
        if row.key is None or row.value is None:
            return
        window = self.window
        assert window is not None
        timestamp = row.timestamp
        self.observed = max(self.observed, timestamp)
        close = self.observed - window.grace
        key = frozen_key(row.key)
        for start, end in window.windows_for(timestamp):
            if end <= close:
                continue  # a late record for a closed window
            store_key = (key, start, end)
            previous = self.store.get(store_key)
            if previous is not None and not self._live(start):
                previous = None
            if previous is None:
                agg, new_timestamp = self.aggregator.initial(), timestamp
            else:
                agg, new_timestamp = previous[0], max(timestamp, previous[1])
            new = self.aggregator.aggregate(row.value, agg)
            self.store.put(store_key, [new, new_timestamp])
            self.store_observed = max(self.store_observed if self.store_observed is not None else -1, start)
            if not self.emit_final:
                self.downstream(Row(list(row.key), self.aggregator.result(new), new_timestamp, row.partition,
                                    row.offset, (start, end), row.headers,
                                    self.aggregator.result(previous[0]) if previous is not None else None))
        if self.emit_final:
            self._emit_final(row, close)

    def _emit_final(self, row: Row, close: int) -> None:
        window = self.window
        assert window is not None
        now = self.clock()
        if now < self.next_emit:
            return
        self.next_emit = now + self.interval
        if self.last_emit is not None and self.last_emit >= close:
            return
        upper = close - window.size
        if upper < 0:
            return
        lower = 0 if self.last_emit is None else max(0, self.last_emit - window.size) + 1
        if self.last_emit is not None and window.windows_for(upper) == window.windows_for(lower - 1):
            return
        closed = []
        self._live(0)
        lower = max(lower, (self.store_observed or 0) - window.retention)  # the store's retention
        for key in self.store.keys():
            for start, end in self.store.windows(key):
                if lower <= start <= upper:
                    closed.append((start, self.sort_key(key), key, end))
        for start, _, key, end in sorted(closed, key=lambda e: (e[0], e[1])):
            agg, timestamp = self.store.get((key, start, end))
            self.downstream(Row(thawed_key(key), self.aggregator.result(agg), timestamp, row.partition, row.offset,
                                (start, end), row.headers))
        self.last_emit = close


class _SessionAggregation:
    """Kafka Streams' KStreamSessionWindowAggregate: sessions merge; merged sessions are deleted."""

    def __init__(self, ctx: BuildContext, step: AggregateStep, aggregator: _Aggregator, downstream: Processor) -> None:
        self.window = step.spec.window
        assert self.window is not None
        self.store = ctx.state.get_store(step.store, WindowStore)
        self.aggregator = aggregator
        self.downstream = downstream
        self.emit_final = step.spec.emit_final
        self.observed = -1
        self.last_emit: int | None = None
        self.clock = ctx.wall_clock
        self.interval = _emit_interval(ctx)
        self.next_emit = 0
        self.sort_key = _key_sorter(ctx, step)
        self.store_observed: int | None = None

    def process(self, row: Row) -> None:
        if row.key is None or row.value is None:
            return
        window = self.window
        assert window is not None
        timestamp = row.timestamp
        self.observed = max(self.observed, timestamp)
        close = self.observed - window.grace - window.gap
        key = frozen_key(row.key)
        if self.store_observed is None:
            self.store_observed = max((e for k in self.store.keys() for _, e in self.store.windows(k)), default=-1)
        earliest_end = max(timestamp - window.gap, self.store_observed - window.retention + 1)  # the retention
        overlapping = sorted(((end, start) for start, end in self.store.windows(key)
                              if end >= earliest_end and start <= timestamp + window.gap))
        agg = self.aggregator.initial()
        merged_start, merged_end = timestamp, timestamp
        sessions = []
        for end, start in overlapping:
            stored = self.store.get((key, start, end))
            sessions.append((start, end, stored[0]))
            agg = self.aggregator.merge(agg, stored[0])
            merged_start, merged_end = min(merged_start, start), max(merged_end, end)
        if merged_end < close:
            pass  # a late record for an expired session
        else:
            if (merged_start, merged_end) != (timestamp, timestamp):
                for start, end, value in sessions:
                    self.store.delete((key, start, end))
                    if not self.emit_final:
                        self.downstream(Row(list(row.key), None, end, row.partition, row.offset, (start, end),
                                            row.headers, self.aggregator.result(value)))
            agg = self.aggregator.aggregate(row.value, agg)
            self.store.put((key, merged_start, merged_end), [agg, merged_end])
            self.store_observed = max(self.store_observed, merged_end)
            if not self.emit_final:
                self.downstream(Row(list(row.key), self.aggregator.result(agg), merged_end, row.partition,
                                    row.offset, (merged_start, merged_end), row.headers))
        if self.emit_final:
            self._emit_final(row, close)

    def _emit_final(self, row: Row, close: int) -> None:
        now = self.clock()
        if now < self.next_emit:
            return
        self.next_emit = now + self.interval
        if self.last_emit is not None and self.last_emit >= close:
            return
        upper = close - 1
        if upper < 0:
            return
        lower = max(0, self.last_emit if self.last_emit is not None else 0)
        if upper < lower:
            return
        closed = []
        for key in self.store.keys():
            for start, end in self.store.windows(key):
                if lower <= end <= upper:
                    closed.append((end, self.sort_key(key), start, key))
        for end, _, start, key in sorted(closed, key=lambda e: (e[0], e[1], e[2])):
            agg, _timestamp = self.store.get((key, start, end))
            self.downstream(Row(thawed_key(key), self.aggregator.result(agg), end, row.partition, row.offset,
                                (start, end), row.headers))
        self.last_emit = close


def _emit_interval(ctx: BuildContext) -> int:
    for name in ("__emit.interval.ms.kstreams.windowed.aggregation__",
                 "ksql.streams.__emit.interval.ms.kstreams.windowed.aggregation__"):
        value = ctx.config.get(name)
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                break
    return 1000


def _key_sorter(ctx: BuildContext, step: AggregateStep) -> Any:
    """Stores iterate keys in the order of their serialized bytes (unsigned), as RocksDB does."""
    key_format = getattr(step.parent, "key_format", None) or KeyFormat(FormatSpec("JSON"))
    try:
        serde = RecordSerde(LogicalSchema(step.schema.key, ()), KeyFormat(key_format.format),
                            ValueFormat(FormatSpec("NONE")), ctx.config)
    except SerdeError:
        serde = None

    def sort_key(key: tuple) -> Any:
        if serde is not None:
            try:
                return serde.serialize_key(list(key)) or b""
            except (SerdeError, TypeError, ValueError):
                pass
        return repr(key).encode()
    return sort_key


# ------------------------------------------------------------------------------------------ window bounds


@dataclass
class WindowBoundsStep(ExecutionStep):
    """ksqlDB's WindowBoundsPopulator: WINDOWSTART and WINDOWEND appended to windowed aggregates."""

    parent: ExecutionStep
    schema: LogicalSchema

    def __post_init__(self) -> None:
        self.is_table = True

    @property
    def is_windowed(self) -> bool:
        return True

    def describe(self) -> str:
        return "WindowBounds"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        def process(row: Row) -> None:
            bounds = list(row.window) if row.window is not None else [None, None]
            value = None if row.value is None else row.value + bounds
            old = None if row.old is None else row.old + bounds
            downstream(row.derive(value=value, old=old))
        self.parent.build(ctx, process)

