"""Join execution steps: stream-stream (windowed), stream-table, table-table and their preparation.

The joined row is ksqlDB's KsqlValueJoiner output: the left side's columns (NULLs when missing), then the
right side's, then the key when no side carries it (synthetic `ROWKEY`). RIGHT joins are executed as
ksqlDB does, as the right side LEFT JOIN the left side, so their rows list the right side first.

Stream-stream joins follow Kafka Streams 3.5's KStreamKStreamJoin: each side keeps a window store of its
records (retention before + after + grace); a record joins the other side's records within
[ts - before, ts + after] (the other side sees the window mirrored); with `GRACE PERIOD` (the spurious
results fix) unmatched LEFT/OUTER records wait in a shared outer store and are emitted NULL-padded once
stream time passes their window end plus grace, throttled by the wall clock as Kafka Streams does;
without it they are emitted at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from labkit.engine.formats import FormatSpec, KeyFormat, RecordSerde, ValueFormat
from labkit.engine.schema import Column, LogicalSchema
from labkit.engine.serde import SerdeError
from labkit.engine.state_stores import JoinWindowStore, OuterJoinStore, TableStore, freeze, frozen_key, thawed_key
from labkit.engine.steps import BuildContext, ExecutionStep, Processor, Row
from labkit.engine.types import SqlType

__all__ = ["PrependAliasStep", "RepartitionStep", "JoinWindowSpec", "StreamStreamJoinStep", "StreamTableJoinStep",
           "TableTableJoinStep", "ForeignKeyJoinStep", "join_schema", "DEFAULT_GRACE_MS"]

DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000
"""Kafka Streams' deprecated default grace: windows stay open 24 hours."""


def _internal_topic_name(ctx: BuildContext, topic: Any) -> str | None:
    """The full name of an internal topic of a persistent query (None for transient queries)."""
    if topic is None or ctx.query_id.startswith("transient_"):
        return None
    return getattr(topic, "topic", None)


# ---------------------------------------------------------------------------------------- preparation


@dataclass
class PrependAliasStep(ExecutionStep):
    """ksqlDB's PreJoinProjectNode: every column renamed `<alias>_<name>`; the rows are unchanged."""

    parent: ExecutionStep
    alias: str
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        parent = self.parent.schema
        self.schema = LogicalSchema(tuple(Column(f"{self.alias}_{c.name}", c.type, "KEY") for c in parent.key),
                                    tuple(Column(f"{self.alias}_{c.name}", c.type) for c in parent.value))
        self.is_table = self.parent.is_table

    @property
    def store_name(self) -> str | None:
        return getattr(self.parent, "store_name", None)

    def describe(self) -> str:
        return f"PrependAlias({self.alias})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        self.parent.build(ctx, downstream)


@dataclass
class RepartitionStep(ExecutionStep):
    """Re-key rows for a join (ksqlDB's `<Side>SourceKeyed-SelectKey`), writing them through an internal topic.

    A stream side gets the new key from `expression` (None: only the key format changes); the new key
    column is appended to the value when the expression is not a column. A table side can only change its
    key format; it is re-materialized in `store` so the join reads it from there, with old values.
    Records are processed in this query at once and also written to the internal topic, so it can be
    inspected (PRINT) as ksqlDB's repartition topics can.
    """

    parent: ExecutionStep
    expression: Any  # ast.Expression | None
    schema: LogicalSchema
    appended: bool
    topic: Any  # planner.InternalTopic | None, named when the join is planned
    key_format: KeyFormat
    store: str | None = None
    side: str = ""

    def __post_init__(self) -> None:
        self.is_table = self.parent.is_table

    @property
    def store_name(self) -> str | None:
        return self.store

    def describe(self) -> str:
        return f"SelectKey({self.topic.name if self.topic is not None else ''})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        evaluate = None
        if self.expression is not None:
            evaluate = ctx.compiler(self.parent.schema, (), "SelectKey").compile(self.expression).evaluate
        logger = ctx.logger("SelectKey")
        appended = self.appended
        topic = _internal_topic_name(ctx, self.topic)
        writer = _TopicWriter(ctx, topic, self.schema, self.key_format, self.parent) if topic else None
        table = ctx.state.get_store(self.store, TableStore) if self.store is not None else None

        def process(row: Row) -> None:
            key = row.key
            value = row.value
            if evaluate is not None:
                if value is None:
                    return
                try:
                    new_key = evaluate(value)
                except Exception as error:  # noqa: BLE001 - logged to the processing log, key becomes NULL
                    logger.error(f"Error computing new key from expression {self.expression}: {error}", error)
                    new_key = None
                key = [new_key]
                if appended:
                    value = value + [new_key]
            out = row.derive(key=key, value=value, old=row.old)
            if writer is not None:
                writer.write(out)
            if table is not None:
                if out.key is None or out.key[0] is None:
                    return
                out.old = table.update(out.key, out.value, out.timestamp, out.window)
            downstream(out)

        self.parent.build(ctx, process)


class _TopicWriter:
    """Serializes rows into an internal topic (write-through; failures only go to the processing log)."""

    def __init__(self, ctx: BuildContext, topic: str, schema: LogicalSchema, key_format: KeyFormat,
                 source: ExecutionStep) -> None:
        self.topic = topic
        self.emit = ctx.emit
        self.logger = ctx.logger("Repartition")
        value_schema = LogicalSchema(schema.key, tuple(c for c in schema.value if c.namespace != "HEADERS"))
        try:
            self.serde: RecordSerde | None = RecordSerde(value_schema, KeyFormat(key_format.format),
                                                         ValueFormat(FormatSpec("JSON")), ctx.config)
        except SerdeError:
            self.serde = None

    def write(self, row: Row) -> None:
        if self.serde is None:
            return
        try:
            key = self.serde.serialize_key(row.key, self.topic) if row.key is not None else None
            value = self.serde.serialize_value(row.value, self.topic) if row.value is not None else None
        except (SerdeError, TypeError, ValueError) as error:
            self.logger.error(f"Failed to write to internal topic {self.topic}: {error}", error)
            return
        self.emit(self.topic, key, value, row.timestamp, row.headers)


# -------------------------------------------------------------------------------------------- schemas


def join_schema(key_name: str, key_type: SqlType, left: LogicalSchema, right: LogicalSchema) -> LogicalSchema:
    """JoinParamsFactory.createSchema: the key, left values, right values, and the key if neither has it."""
    values = list(left.value) + list(right.value)
    if not any(c.name == key_name for c in values):
        values.append(Column(key_name, key_type))
    return LogicalSchema((Column(key_name, key_type, "KEY"),), tuple(values))


class _Joiner:
    """ksqlDB's KsqlValueJoiner (plus the key for a synthetic key column)."""

    def __init__(self, left_count: int, right_count: int, append_key: bool) -> None:
        self.left_nulls = [None] * left_count
        self.right_nulls = [None] * right_count
        self.append_key = append_key

    def __call__(self, key: list[Any], left: list[Any] | None, right: list[Any] | None) -> list[Any]:
        row = list(left if left is not None else self.left_nulls) + list(right if right is not None
                                                                          else self.right_nulls)
        if self.append_key:
            row.append(key[0] if key else None)
        return row


def _sides(kind: str, left: ExecutionStep, right: ExecutionStep) -> tuple[ExecutionStep, ExecutionStep]:
    """The (this, other) sides Kafka Streams joins: RIGHT joins run as right LEFT JOIN left."""
    return (right, left) if kind == "RIGHT" else (left, right)


# --------------------------------------------------------------------------------------- stream-stream


@dataclass(frozen=True)
class JoinWindowSpec:
    """WITHIN (before, after) [GRACE PERIOD grace]; `grace` None is the legacy JoinWindows.of (24 h)."""

    before: int
    after: int
    grace: int | None

    @property
    def grace_ms(self) -> int:
        if self.grace is not None:
            return self.grace
        return max(DEFAULT_GRACE_MS - 2 * self.before, 0)

    @property
    def retention(self) -> int:
        return self.before + self.after + self.grace_ms


@dataclass
class _TimeTracker:
    """KStreamImplJoin.TimeTracker, shared by both sides of one join."""

    emit_interval: int = 1000
    stream_time: int = -1
    min_time: float = float("inf")
    next_time_to_emit: int = 0


@dataclass
class StreamStreamJoinStep(ExecutionStep):
    """A windowed join of two streams (Kafka Streams' KStreamKStreamJoin, spurious-results fix included)."""

    left: ExecutionStep
    right: ExecutionStep
    kind: str
    key_name: str
    key_type: SqlType
    name: str
    window: JoinWindowSpec
    node_index: int = 0  # Kafka Streams' processor counter at the JOINTHIS processor
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        this, other = _sides(self.kind, self.left, self.right)
        self.schema = join_schema(self.key_name, self.key_type, this.schema, other.schema)
        self.is_table = False

    @property
    def is_windowed(self) -> bool:
        return self.left.is_windowed

    @property
    def store_names(self) -> list[str]:
        """KSTREAM-JOINTHIS/OUTERTHIS-<n>-store and KSTREAM-JOINOTHER/OUTEROTHER-<n+1>-store (+ the shared store)."""
        this_outer = self.kind == "OUTER"
        other_outer = self.kind in ("LEFT", "RIGHT", "OUTER")
        names = [f"KSTREAM-{'OUTERTHIS' if this_outer else 'JOINTHIS'}-{self.node_index:010d}-store",
                 f"KSTREAM-{'OUTEROTHER' if other_outer else 'JOINOTHER'}-{self.node_index + 1:010d}-store"]
        if other_outer and self.window.grace is not None:
            names.append(f"KSTREAM-OUTERSHARED-{self.node_index:010d}-store")
        return names

    def describe(self) -> str:
        return f"StreamStreamJoin({self.kind})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        this, other = _sides(self.kind, self.left, self.right)
        this_outer_flag = self.kind in ("LEFT", "RIGHT", "OUTER")  # Kafka Streams' leftOuter
        other_outer_flag = self.kind == "OUTER"  # rightOuter
        window = self.window
        names = self.store_names
        this_store = ctx.state.get_store(names[0], JoinWindowStore)
        other_store = ctx.state.get_store(names[1], JoinWindowStore)
        this_store.retention = other_store.retention = window.retention
        outer_store = ctx.state.get_store(names[2], OuterJoinStore) if len(names) > 2 else None
        interval = _config_int(ctx.config, "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__", 1000)
        tracker = _TimeTracker(emit_interval=interval)
        joiner = _Joiner(len(this.schema.value), len(other.schema.value),
                         not any(c.name == self.key_name for c in list(this.schema.value) + list(other.schema.value)))
        clock = ctx.wall_clock

        def side(is_this: bool, outer: bool, lookup: JoinWindowStore, own: JoinWindowStore) -> Processor:
            before = window.before if is_this else window.after
            after = window.after if is_this else window.before
            lookback = before

            def join(key: list[Any], value: list[Any], found: list[Any] | None) -> list[Any]:
                return joiner(key, value, found) if is_this else joiner(key, found, value)

            def emit_non_joined(row: Row) -> None:
                assert outer_store is not None
                if tracker.min_time >= tracker.stream_time - lookback - window.grace_ms:
                    return
                now = clock()
                if now < tracker.next_time_to_emit:
                    return
                tracker.next_time_to_emit = now + tracker.emit_interval
                tracker.min_time = float("inf")
                for (timestamp, stored_this, store_key), values in outer_store.ordered():
                    tracker.min_time = timestamp
                    if timestamp + after + window.grace_ms >= tracker.stream_time:
                        break
                    key = thawed_key(store_key[0])
                    row_window = tuple(store_key[1]) if store_key[1] is not None else None
                    for stored in values:
                        padded = joiner(key, stored, None) if stored_this else joiner(key, None, stored)
                        downstream(row.derive(key=key, value=padded, timestamp=timestamp, window=row_window))
                    outer_store.remove((timestamp, stored_this, store_key))

            def process(row: Row) -> None:
                if row.key is None or row.value is None or any(k is None for k in row.key):
                    return
                key = row.key
                store_key = (frozen_key(key), row.window)  # windowed keys join only on the same window
                timestamp = row.timestamp
                time_from = max(0, timestamp - before)
                time_to = max(0, timestamp + after)
                tracker.stream_time = max(tracker.stream_time, timestamp)
                if outer_store is not None and timestamp == tracker.stream_time:
                    emit_non_joined(row)
                need_outer = outer
                for other_timestamp, other_value in lookup.fetch(store_key, time_from, time_to):
                    need_outer = False
                    if outer_store is not None:
                        outer_store.remove((other_timestamp, not is_this, store_key))
                    downstream(row.derive(value=join(key, row.value, other_value),
                                          timestamp=max(timestamp, other_timestamp)))
                if need_outer:
                    if outer_store is None or time_to < tracker.stream_time:
                        downstream(row.derive(value=join(key, row.value, None)))
                    else:
                        tracker.min_time = min(tracker.min_time, timestamp)
                        outer_store.add((timestamp, is_this, store_key), row.value)
                own.add(store_key, timestamp, row.value)

            return process

        this.build(ctx, side(True, this_outer_flag, other_store, this_store))
        other.build(ctx, side(False, other_outer_flag, this_store, other_store))


def _config_int(config: Any, name: str, default: int) -> int:
    for key in (name, f"ksql.streams.{name}"):
        value = config.get(key)
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                return default
    return default


# ---------------------------------------------------------------------------------------- stream-table


@dataclass
class StreamTableJoinStep(ExecutionStep):
    """Stream records look up the table (KStreamKTableJoin); table updates only change the table's state."""

    left: ExecutionStep
    right: ExecutionStep
    kind: str
    key_name: str
    key_type: SqlType
    name: str
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        self.schema = join_schema(self.key_name, self.key_type, self.left.schema, self.right.schema)
        self.is_table = False

    @property
    def is_windowed(self) -> bool:
        return self.left.is_windowed

    def describe(self) -> str:
        return f"StreamTableJoin({self.kind})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        table = _TableSide(ctx, self.right)
        joiner = _Joiner(len(self.left.schema.value), len(self.right.schema.value),
                         not any(c.name == self.key_name
                                 for c in list(self.left.schema.value) + list(self.right.schema.value)))
        left_join = self.kind == "LEFT"

        def on_stream(row: Row) -> None:
            if row.key is None or row.value is None or any(k is None for k in row.key):
                return
            found = table.get(row.key, row.window)
            if found is None and not left_join:
                return
            downstream(row.derive(value=joiner(row.key, row.value, None if found is None else found[0])))

        # the table side is built first, as ksqlDB's JoinNode builds it
        self.right.build(ctx, table.update)
        self.left.build(ctx, on_stream)


class _TableSide:
    """The rows of a table input of a join, by key: its source's materialization, or a local one."""

    def __init__(self, ctx: BuildContext, step: ExecutionStep, on_change: Processor | None = None,
                 local_name: str | None = None) -> None:
        name = _store_of(step)
        self.shared = name is not None
        self.store = ctx.state.get_store(name or local_name or f"{type(step).__name__}-Materialize", TableStore)
        self.on_change = on_change

    def get(self, key: list[Any], window: tuple[int, int] | None = None) -> tuple[list[Any], int] | None:
        return self.store.lookup(key, window)

    def update(self, row: Row) -> None:
        if not self.shared and row.key is not None:
            row.old = self.store.update(row.key, row.value, row.timestamp, row.window)
        if self.on_change is not None:
            self.on_change(row)


def _store_of(step: ExecutionStep) -> str | None:
    current: Any = step
    while current is not None:
        name = getattr(current, "store_name", None)
        if name:
            return name
        if isinstance(current, PrependAliasStep):
            current = current.parent
            continue
        return None
    return None


# ----------------------------------------------------------------------------------------- table-table


@dataclass
class TableTableJoinStep(ExecutionStep):
    """A join of two tables on their primary keys (Kafka Streams' KTableKTable*Join, old values enabled)."""

    left: ExecutionStep
    right: ExecutionStep
    kind: str
    key_name: str
    key_type: SqlType
    name: str
    node_index: int = 0
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        this, other = _sides(self.kind, self.left, self.right)
        self.schema = join_schema(self.key_name, self.key_type, this.schema, other.schema)
        self.is_table = True

    @property
    def is_windowed(self) -> bool:
        return self.left.is_windowed

    def describe(self) -> str:
        return f"TableTableJoin({self.kind})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        this, other = _sides(self.kind, self.left, self.right)
        joiner = _Joiner(len(this.schema.value), len(other.schema.value),
                         not any(c.name == self.key_name for c in list(this.schema.value) + list(other.schema.value)))
        kind = self.kind
        modes = {"INNER": ("inner", "inner"), "LEFT": ("left", "right"), "RIGHT": ("left", "right"),
                 "OUTER": ("outer", "outer")}[kind]
        sides: dict[bool, _TableSide] = {}

        def handler(is_this: bool) -> Processor:
            mode = modes[0] if is_this else modes[1]

            def join(key: list[Any], own: list[Any] | None, other_value: list[Any] | None) -> list[Any]:
                return joiner(key, own, other_value) if is_this else joiner(key, other_value, own)

            def process(row: Row) -> None:
                """Kafka Streams' KTableKTable{Inner,Left,Right,Outer}Join processors (old values enabled)."""
                if row.key is None or any(k is None for k in row.key):
                    return
                found = sides[not is_this].get(row.key, row.window)
                other_value = None if found is None else found[0]
                key, new, old = row.key, row.value, row.old
                if mode in ("inner", "right") and other_value is None:
                    return
                if other_value is None and new is None and old is None:
                    return
                timestamp = row.timestamp if found is None else max(row.timestamp, found[1])
                if mode == "right":
                    out_new, out_old = join(key, new, other_value), join(key, old, other_value)
                elif mode == "outer":
                    out_new = join(key, new, other_value) if other_value is not None or new is not None else None
                    out_old = join(key, old, other_value) if other_value is not None or old is not None else None
                else:
                    out_new = join(key, new, other_value) if new is not None else None
                    out_old = join(key, old, other_value) if old is not None else None
                downstream(row.derive(value=out_new, old=out_old, timestamp=timestamp))
            return process

        this_side = _TableSide(ctx, this, handler(True))
        other_side = _TableSide(ctx, other, handler(False))
        sides[True], sides[False] = this_side, other_side
        this.build(ctx, this_side.update)
        other.build(ctx, other_side.update)


# ------------------------------------------------------------------------------------------ foreign key


@dataclass
class ForeignKeyJoinStep(ExecutionStep):
    """A foreign-key join of two tables (KTable.join with a foreign-key extractor), keyed by the left key.

    Left rows are joined with the right row whose key equals the foreign key; a right update re-emits
    every left row that references it. The subscription index (right key -> left keys) is kept in a store.
    """

    left: ExecutionStep
    right: ExecutionStep
    kind: str
    foreign_key: Any  # ast.Expression over the left schema
    name: str
    node_index: int = 0
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        left, right = self.left.schema, self.right.schema
        self.schema = LogicalSchema(left.key, tuple(left.value) + tuple(right.value))
        self.is_table = True

    @property
    def store_names(self) -> list[str]:
        return [f"KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-{self.node_index + 3:010d}"]

    def describe(self) -> str:
        return f"ForeignKeyJoin({self.kind})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        extract = ctx.compiler(self.left.schema, (), "ForeignKeyJoin").compile(self.foreign_key).evaluate
        logger = ctx.logger("ForeignKeyJoin")
        right_nulls = [None] * len(self.right.schema.value)
        left_join = self.kind == "LEFT"
        subscriptions = ctx.state.get(self.store_names[0])  # (right key, left key) -> True

        def foreign(value: list[Any] | None) -> Any:
            if value is None:
                return None
            try:
                return extract(value)
            except Exception as error:  # noqa: BLE001 - a failing extractor means no foreign key
                logger.error(f"Error extracting the foreign key: {error}", error)
                return None

        def joined(left_value: list[Any] | None, right: tuple[list[Any], int] | None) -> list[Any] | None:
            if left_value is None:
                return None
            if right is None:
                return list(left_value) + right_nulls if left_join else None
            return list(left_value) + list(right[0])

        def on_left(row: Row) -> None:
            if row.key is None:
                return
            new_fk, old_fk = foreign(row.value), foreign(row.old)
            left_key = frozen_key(row.key)
            if old_fk is not None and old_fk != new_fk:
                subscriptions.delete((freeze(old_fk), left_key))
            if new_fk is not None:
                subscriptions.put((freeze(new_fk), left_key), True)
            right = right_side.get([new_fk]) if new_fk is not None else None
            value = joined(row.value, right)
            if row.value is not None and value is None and row.old is None:
                return  # inner join without a match, nothing was emitted before
            timestamp = row.timestamp if right is None else max(row.timestamp, right[1])
            downstream(row.derive(value=value, timestamp=timestamp))

        def on_right(row: Row) -> None:
            if row.key is None:
                return
            right_key = freeze(row.key[0])
            for (fk, left_key), _ in subscriptions.items():
                if fk != right_key:
                    continue
                found = left_side.get(thawed_key(left_key))
                if found is None:
                    continue
                right = None if row.value is None else (row.value, row.timestamp)
                value = joined(found[0], right)
                if value is None and row.old is None:
                    continue
                downstream(Row(thawed_key(left_key), value, max(row.timestamp, found[1]), row.partition, row.offset))

        left_side = _TableSide(ctx, self.left, on_left)
        right_side = _TableSide(ctx, self.right, on_right)
        self.left.build(ctx, left_side.update)
        self.right.build(ctx, right_side.update)

