"""Execution steps: the physical plan of a persistent query, composed once into closures.

Each step describes one operation (source, filter, select key, project, sink) and knows its parent,
like ksqlDB's ExecutionStep tree. `build(ctx, downstream)` compiles the step's expressions, makes a
processor `process(row)` that calls `downstream` (a filter simply does not call it), and builds the
parent with that processor as its downstream. Source steps register a record handler per topic in the
`BuildContext`; the sink step calls `ctx.emit`. A stateful step (aggregate, join) gets its stores from
`ctx.state`, so a runtime can back them with changelog topics.

Rows carry the *processing* schema of ksqlDB: value columns, ROWTIME, ROWPARTITION, ROWOFFSET and copies
of the key columns, in one list that compiled expressions index directly.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from labkit.engine.catalog import DataSource
from labkit.engine.compile import RUNTIME_ERRORS, Compiled, ExpressionCompiler, Scope
from labkit.engine.errors import ProcessingError
from labkit.engine.formats import KeyFormat, RecordSerde, ValueFormat
from labkit.engine.functions import resolve
from labkit.engine.processing_log import ProcessingLog, StepLogger
from labkit.engine.schema import LogicalSchema
from labkit.engine.serde import SerdeError
from labkit.engine.state import StateStores
from labkit.engine.state_stores import TableStore
from labkit.engine.topics import Headers, TopicRecord
from labkit.engine.types import STRING, SqlType, timestamp_to_millis
from labkit.sql import ast

__all__ = ["Row", "Processor", "BuildContext", "ExecutionStep", "SourceStep", "FilterStep", "SelectKeyStep",
           "ProjectStep", "SinkStep", "TimestampError"]


class TimestampError(ProcessingError):
    """A record's timestamp could not be extracted and `ksql.timestamp.throw.on.invalid` is on."""


class Row:
    """A record inside a query: key column values (None for a null record key), value (processing schema, None
    for a tombstone), timestamp and origin.

    Rows of tables are changes: `old` is the row's previous value when a materialized upstream knows it
    (Kafka Streams' `Change(newValue, oldValue)` with old values enabled); table aggregations and
    filters need it, other steps ignore it.
    """

    __slots__ = ("key", "value", "timestamp", "partition", "offset", "window", "headers", "old")

    def __init__(self, key: list[Any] | None, value: list[Any] | None, timestamp: int, partition: int = 0,
                 offset: int = 0, window: tuple[int, int] | None = None, headers: Headers = (),
                 old: list[Any] | None = None) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.partition = partition
        self.offset = offset
        self.window = window
        self.headers = headers
        self.old = old

    def derive(self, *, key: Any = ..., value: Any = ..., timestamp: int | None = None, old: Any = ...,
               window: Any = ...) -> "Row":
        return Row(self.key if key is ... else key, self.value if value is ... else value,
                   self.timestamp if timestamp is None else timestamp, self.partition, self.offset,
                   self.window if window is ... else window, self.headers, None if old is ... else old)

    def __repr__(self) -> str:
        return f"Row(key={self.key!r}, value={self.value!r}, timestamp={self.timestamp})"


Processor = Callable[[Row], None]
Emitter = Callable[[str, "bytes | None", "bytes | None", int, Headers], None]


@dataclass
class BuildContext:
    """What steps need while building: config, the processing log, state, the sink emitter."""

    query_id: str
    config: Mapping[str, Any]
    processing_log: ProcessingLog
    emit: Emitter
    custom_types: Mapping[str, SqlType] = field(default_factory=dict)
    state: StateStores = field(default_factory=StateStores)
    sources: dict[str, Callable[[TopicRecord], None]] = field(default_factory=dict)
    wall_clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    """Milliseconds of the wall clock (Kafka Streams throttles some emissions by it; tests fix it)."""

    def logger(self, step: str) -> StepLogger:
        return self.processing_log.logger(f"processing.{self.query_id}.{step}")

    def add_source(self, topic: str, handler: Callable[[TopicRecord], None]) -> None:
        previous = self.sources.get(topic)
        if previous is None:
            self.sources[topic] = handler
            return

        def both(record: TopicRecord) -> None:
            previous(record)
            handler(record)
        self.sources[topic] = both

    def compiler(self, schema: LogicalSchema, qualifiers: Sequence[str], step: str) -> ExpressionCompiler:
        scope = Scope.of(((c.name, c.type) for c in schema.value), qualifiers)
        return ExpressionCompiler(scope, logger=self.logger(step), custom_types=self.custom_types)


class ExecutionStep:
    """Base of steps; `schema` is the step's output (processing) schema."""

    schema: LogicalSchema
    is_table: bool = False

    @property
    def is_windowed(self) -> bool:
        """Whether rows carry windowed keys (a windowed source or aggregation upstream)."""
        parent = getattr(self, "parent", None)
        return parent.is_windowed if isinstance(parent, ExecutionStep) else False

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


def _config_bool(config: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = config.get(name)
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


# ----------------------------------------------------------------------------------------------- source


def _timestamp_extractor(source: DataSource, processing: LogicalSchema) -> Callable[[Row], Any] | None:
    """A function reading the TIMESTAMP column of a row (None when the source has none)."""
    name = source.timestamp_column
    if name is None:
        return None
    index = processing.value_index(name)
    column = processing.find(name)
    assert index is not None and column is not None
    if column.type.base == "TIMESTAMP":
        return lambda row: None if row.value[index] is None else timestamp_to_millis(row.value[index])
    if column.type.base == "STRING":
        parse = resolve("STRINGTOTIMESTAMP", [STRING, STRING]).call
        pattern = source.timestamp_format
        return lambda row: None if row.value[index] is None else parse(row.value[index], pattern)
    return lambda row: row.value[index]


@dataclass
class SourceStep(ExecutionStep):
    """Read a stream or table topic: deserialize, extract the timestamp, add pseudo and key columns."""

    source: DataSource
    alias: str
    context: str = "KsqlTopic"  # ksqlDB's query context of the source node: KsqlTopic, KafkaTopic_Left, ...
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        self.schema = self.source.schema.with_pseudo_and_key_cols_in_value(self.source.is_windowed)
        self.is_table = self.source.is_table

    def describe(self) -> str:
        return f"{'Table' if self.is_table else 'Stream'}Source({self.source.name})"

    @property
    def is_windowed(self) -> bool:
        return self.source.is_windowed

    @property
    def store_name(self) -> str | None:
        """The state store a table source is materialized in (ksqlDB's `<context>-Reduce`); None for streams."""
        return f"{self.context}-Reduce" if self.is_table else None

    @property
    def topics(self) -> list[str]:
        return [self.source.topic]

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        source = self.source
        serde = RecordSerde(source.schema, source.key_format, source.value_format, ctx.config)
        logger = ctx.logger("KsqlTopic.Source")
        key_count = len(source.schema.key)
        windowed = source.is_windowed
        is_table = self.is_table
        extract = _timestamp_extractor(source, self.schema)
        throw_on_invalid = _config_bool(ctx.config, "ksql.timestamp.throw.on.invalid")
        header_columns = [c for c in source.schema.value if c.namespace == "HEADERS"]
        null_key = [None] * key_count

        def header_values(headers: Headers) -> list[Any]:
            out: list[Any] = []
            for column in header_columns:
                if column.header_key is None:
                    out.append([{"KEY": k, "VALUE": v} for k, v in headers])
                else:
                    out.append(next((v for k, v in reversed(headers) if k == column.header_key), None))
            return out

        def handle(record: TopicRecord) -> None:
            try:
                key, window = serde.deserialize_key(record.key, record.topic)
            except SerdeError as error:
                logger.deserialization_error(error.message, error, topic=record.topic, target="key",
                                             record=record.key)
                return
            try:
                values = serde.deserialize_value(record.value, record.topic)
            except SerdeError as error:
                logger.deserialization_error(error.message, error, topic=record.topic, target="value",
                                             record=record.value)
                return
            if key is None and is_table and key_count:
                return  # tables drop records with a null key
            timestamp = record.timestamp
            if values is None:
                row_value = None
            else:
                row_value = list(values)
                if header_columns:
                    row_value.extend(header_values(record.headers))
                row_value.extend((timestamp, record.partition, record.offset))
                row_value.extend(key if key is not None else null_key)
                if windowed:
                    row_value.extend(window or (None, None))
            row = Row(key, row_value, timestamp, record.partition, record.offset, window, record.headers)
            if extract is not None and row_value is not None:
                try:
                    extracted = extract(row)
                    if extracted is None or extracted < 0:
                        raise ProcessingError(f"Invalid timestamp: {extracted}")
                except RUNTIME_ERRORS as error:
                    if throw_on_invalid:
                        raise TimestampError(
                            "Fatal user code error in TimestampExtractor callback for record "
                            f"{record.topic}-{record.partition}@{record.offset}: {error}") from error
                    logger.error(f"Failed to extract timestamp from row: {error}", error)
                    return
                row.timestamp = extracted
                row_value[len(values) + len(header_columns)] = extracted  # type: ignore[arg-type]
            if materialized is not None:
                row.old = materialized.update(row.key or [], row_value, row.timestamp, window)
            downstream(row)

        materialized = ctx.state.get_store(self.store_name, TableStore) if self.store_name is not None else None
        ctx.add_source(source.topic, handle)


# ----------------------------------------------------------------------------------------------- filter


@dataclass
class FilterStep(ExecutionStep):
    """WHERE: rows failing the predicate are dropped (tables forward a delete instead)."""

    parent: ExecutionStep
    predicate: ast.Expression
    qualifiers: tuple[str, ...] = ()
    schema: LogicalSchema = field(init=False)

    def __post_init__(self) -> None:
        self.schema = self.parent.schema
        self.is_table = self.parent.is_table

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        compiled = ctx.compiler(self.schema, self.qualifiers, "WhereFilter").compile(self.predicate)
        test, logger, is_table = compiled.evaluate, ctx.logger("WhereFilter"), self.is_table

        def passes(value: list[Any] | None) -> bool:
            if value is None:
                return False
            try:
                return bool(test(value))
            except RUNTIME_ERRORS as error:
                logger.error(f"Error evaluating predicate: {error}", error)
                return False

        def process_stream(row: Row) -> None:
            value = row.value
            if value is None:
                return
            try:
                passed = test(value)
            except RUNTIME_ERRORS as error:
                logger.error(f"Error evaluating predicate: {error}", error)
                return
            if passed:
                downstream(row)

        def process(row: Row) -> None:
            # Kafka Streams' KTableFilter over a materialized table (old values enabled): a change whose old
            # and new values both fail the predicate is not forwarded; a row that stops passing is deleted.
            new = row.value if passes(row.value) else None
            old = row.old if passes(row.old) else None
            if new is None and old is None:
                return
            downstream(row.derive(value=new, old=old))

        self.parent.build(ctx, process if is_table else process_stream)


# ------------------------------------------------------------------------------------------ select key


@dataclass
class SelectKeyStep(ExecutionStep):
    """PARTITION BY: a new key from expressions; new key columns are appended to the value.

    `key_only[i]` says expression i reads only key columns, so it is evaluated on the key even when
    the value is null (as ksqlDB does). An empty `expressions` list is PARTITION BY NULL.
    """

    parent: ExecutionStep
    expressions: tuple[ast.Expression, ...]
    schema: LogicalSchema
    appended: tuple[bool, ...]
    key_only: tuple[bool, ...]
    qualifiers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.is_table = self.parent.is_table

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        parent_schema = self.parent.schema
        key_schema = LogicalSchema((), tuple(type(c)(c.name, c.type) for c in parent_schema.key))
        evaluators: list[tuple[Compiled, bool]] = []
        for expression, key_only in zip(self.expressions, self.key_only):
            schema = key_schema if key_only else parent_schema
            evaluators.append((ctx.compiler(schema, self.qualifiers, "PartitionBy").compile(expression), key_only))
        appended = self.appended
        logger = ctx.logger("PartitionBy")
        null_key = [None] * len(parent_schema.key)

        def process(row: Row) -> None:
            new_key: list[Any] = []
            for compiled, key_only in evaluators:
                source = (row.key if row.key is not None else null_key) if key_only else row.value
                if source is None:
                    new_key.append(None)
                    continue
                try:
                    new_key.append(compiled.evaluate(source))
                except RUNTIME_ERRORS as error:
                    logger.error(f"Error computing new key from expression {compiled.expression}: {error}", error)
                    new_key.append(None)
            value = row.value
            if value is not None and any(appended):
                value = value + [k for k, add in zip(new_key, appended) if add]
            downstream(row.derive(key=new_key, value=value))

        self.parent.build(ctx, process)


# ---------------------------------------------------------------------------------------------- project


@dataclass
class ProjectStep(ExecutionStep):
    """SELECT: compute the value columns; the key is carried (a failing expression gives NULL)."""

    parent: ExecutionStep
    expressions: tuple[ast.Expression, ...]
    schema: LogicalSchema
    qualifiers: tuple[str, ...] = ()
    compiled: list[Compiled] | None = None

    def __post_init__(self) -> None:
        self.is_table = self.parent.is_table

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        compiler = ctx.compiler(self.parent.schema, self.qualifiers, "Project")
        evaluators = [compiler.compile(e).evaluate for e in self.expressions]
        logger = ctx.logger("Project")

        def process(row: Row) -> None:
            value = row.value
            if value is None:
                downstream(row)
                return
            out = []
            for evaluate in evaluators:
                try:
                    out.append(evaluate(value))
                except RUNTIME_ERRORS as error:
                    logger.error(f"Error computing expression: {error}", error)
                    out.append(None)
            downstream(Row(row.key, out, row.timestamp, row.partition, row.offset, row.window, row.headers))

        self.parent.build(ctx, process)


# ------------------------------------------------------------------------------------------------- sink


@dataclass
class SinkStep(ExecutionStep):
    """Serialize rows with the sink's formats and write them to its topic."""

    parent: ExecutionStep
    topic: str
    schema: LogicalSchema
    key_format: KeyFormat
    value_format: ValueFormat
    timestamp_column: str | None = None
    timestamp_format: str | None = None

    def __post_init__(self) -> None:
        self.is_table = self.parent.is_table

    def describe(self) -> str:
        return f"Sink({self.topic})"

    def build(self, ctx: BuildContext, downstream: Processor | None = None) -> None:
        serde = RecordSerde(self.schema, self.key_format, self.value_format, ctx.config)
        topic, emit, logger = self.topic, ctx.emit, ctx.logger("KsqlTopic.Sink")
        timestamp_index: int | None = None
        parse_timestamp = None
        timestamp_kind = ""
        if self.timestamp_column is not None:
            timestamp_index = self.schema.value_index(self.timestamp_column)
            column = self.schema.find(self.timestamp_column)
            timestamp_kind = column.type.base if column is not None else ""
            if timestamp_kind == "STRING":
                parse_timestamp = resolve("STRINGTOTIMESTAMP", [STRING, STRING]).call
        timestamp_format = self.timestamp_format
        key_names = [c.name for c in self.schema.key]
        key_index = key_names.index(self.timestamp_column) \
            if timestamp_index is None and self.timestamp_column in key_names else None

        def process(row: Row) -> None:
            timestamp = row.timestamp
            if self.timestamp_column is not None:
                raw = None
                if timestamp_index is not None and row.value is not None:
                    raw = row.value[timestamp_index]
                elif key_index is not None and row.key is not None:
                    raw = row.key[key_index]
                try:
                    if raw is None:
                        raise ProcessingError("Timestamp column is null")
                    if timestamp_kind == "TIMESTAMP":
                        raw = timestamp_to_millis(raw)
                    elif parse_timestamp is not None:
                        raw = parse_timestamp(raw, timestamp_format)
                    if raw < 0:
                        raise ProcessingError(f"Negative timestamp: {raw}")
                except RUNTIME_ERRORS as error:
                    logger.error(f"Failed to extract timestamp: {error}", error)
                    return
                timestamp = raw
            try:
                key = serde.serialize_key(row.key, topic, row.window)
                value = serde.serialize_value(row.value, topic)
            except SerdeError as error:
                logger.serialization_error(error.message, error, topic=topic, target="value")
                return
            emit(topic, key, value, timestamp, row.headers)

        self.parent.build(ctx, process)
