"""Execution steps, the runtime loop, the in-memory topic store and state stores (no broker)."""
from __future__ import annotations

import json
import struct

import pytest

from labkit.engine.catalog import DataSource
from labkit.engine.formats import FormatSpec, KeyFormat, ValueFormat, WindowInfo
from labkit.engine.processing_log import DESERIALIZATION_ERROR, ProcessingLog
from labkit.engine.runtime import PersistentQuery, QueryFailedError, QueryRuntime
from labkit.engine.schema import LogicalSchema
from labkit.engine.state import InMemoryKeyValueStore, StateStores
from labkit.engine.steps import FilterStep, ProjectStep, SelectKeyStep, SinkStep, SourceStep
from labkit.engine.topics import InMemoryTopicStore, TopicStoreError, murmur2_partition
from labkit.engine.types import INTEGER, STRING
from labkit.sql import ast, parse_expression

KAFKA, JSON = KeyFormat(FormatSpec("KAFKA")), ValueFormat(FormatSpec("JSON"))
SCHEMA = LogicalSchema.of(key=[("ID", INTEGER)], value=[("NAME", STRING), ("AGE", INTEGER)])


def source(kind: str = "STREAM", **extra: object) -> DataSource:
    return DataSource("INPUT", kind, SCHEMA, "input", KAFKA, JSON, **extra)  # type: ignore[arg-type]


def int_key(value: int) -> bytes:
    return struct.pack(">i", value)


class Harness:
    """A query built from steps over an in-memory store."""

    def __init__(self, build, kind: str = "STREAM", **extra: object) -> None:  # type: ignore[no-untyped-def]
        self.store = InMemoryTopicStore()
        self.store.create_topic("input")
        self.store.create_topic("output")
        self.log = ProcessingLog()
        src = SourceStep(source(kind, **extra), "INPUT")
        sink = build(src)

        def emit(topic, key, value, timestamp, headers):  # type: ignore[no-untyped-def]
            self.store.append(topic, key, value, timestamp=timestamp, headers=headers)

        self.query = PersistentQuery.build("Q1", "", sink, config={}, processing_log=self.log, emit=emit)
        self.runtime = QueryRuntime(self.store)
        self.runtime.start(self.query)

    def send(self, key: int | None, value: dict | None, timestamp: int = 0) -> None:
        self.store.append("input", None if key is None else int_key(key),
                          None if value is None else json.dumps(value).encode(), timestamp=timestamp)
        self.runtime.run_until_idle()

    def output(self) -> list[tuple[object, object, int]]:
        return [(None if r.key is None else struct.unpack(">i", r.key)[0],
                 None if r.value is None else json.loads(r.value), r.timestamp) for r in self.store.records("output")]


def projection(parent, expressions, names):  # type: ignore[no-untyped-def]
    schema = LogicalSchema(SCHEMA.key, tuple(type(SCHEMA.value[0])(n, STRING if n == "NAME" else INTEGER)
                                             for n in names))
    return ProjectStep(parent, tuple(parse_expression(e) for e in expressions), schema, ("INPUT",))


def sink(parent, schema: LogicalSchema) -> SinkStep:  # type: ignore[no-untyped-def]
    return SinkStep(parent, "output", schema, KAFKA, JSON)


def test_filter_project_sink_pipeline_keeps_key_and_timestamp() -> None:
    def build(src):  # type: ignore[no-untyped-def]
        filtered = FilterStep(src, parse_expression("AGE > 18"), ("INPUT",))
        project = projection(filtered, ["UCASE(NAME)", "AGE + 1"], ["NAME", "AGE"])
        return sink(project, project.schema)

    harness = Harness(build)
    harness.send(1, {"name": "ann", "age": 30}, timestamp=5)
    harness.send(2, {"name": "bob", "age": 10}, timestamp=6)
    assert harness.output() == [(1, {"NAME": "ANN", "AGE": 31}, 5)]


def test_stream_filter_drops_null_values_but_projection_forwards_them() -> None:
    filtered = Harness(lambda src: sink(FilterStep(src, parse_expression("AGE > 1")), SCHEMA))
    filtered.send(1, None)
    assert filtered.output() == []
    projected = Harness(lambda src: sink(projection(src, ["NAME"], ["NAME"]), SCHEMA))
    projected.send(1, None)
    assert projected.output() == [(1, None, 0)]


def test_table_filter_deletes_rows_that_stop_passing_and_skips_rows_that_never_passed() -> None:
    def build(src):  # type: ignore[no-untyped-def]
        return sink(projection(FilterStep(src, parse_expression("AGE > 18")), ["NAME", "AGE"], ["NAME", "AGE"]),
                    SCHEMA)

    harness = Harness(build, kind="TABLE")
    harness.send(1, {"NAME": "a", "AGE": 10})
    harness.send(None, {"NAME": "no key", "AGE": 40})
    assert harness.output() == []
    harness.send(1, {"NAME": "a", "AGE": 20})
    harness.send(1, {"NAME": "a", "AGE": 11})
    assert harness.output() == [(1, {"NAME": "a", "AGE": 20}, 0), (1, None, 0)]


def test_undecodable_record_is_logged_and_skipped() -> None:
    harness = Harness(lambda src: sink(projection(src, ["NAME", "AGE"], ["NAME", "AGE"]), SCHEMA))
    harness.store.append("input", int_key(1), b"{not json", timestamp=0)
    harness.runtime.run_until_idle()
    harness.send(2, {"NAME": "ok", "AGE": 1})
    assert [r[0] for r in harness.output()] == [2]
    assert harness.log.entries[0].type == DESERIALIZATION_ERROR


def test_failing_expression_nulls_the_column_and_logs() -> None:
    harness = Harness(lambda src: sink(projection(src, ["NAME", "AGE / 0"], ["NAME", "AGE"]), SCHEMA))
    harness.send(1, {"NAME": "x", "AGE": 3})
    assert harness.output() == [(1, {"NAME": "x", "AGE": None}, 0)]
    assert harness.log.messages()


def test_timestamp_column_sets_rowtime_and_record_timestamp() -> None:
    def build(src):  # type: ignore[no-untyped-def]
        return sink(projection(src, ["NAME", "ROWTIME"], ["NAME", "AGE"]), SCHEMA)

    harness = Harness(build, timestamp_column="AGE")
    harness.send(1, {"NAME": "x", "AGE": 1234}, timestamp=99)
    assert harness.output() == [(1, {"NAME": "x", "AGE": 1234}, 1234)]


def test_select_key_rekeys_and_evaluates_key_only_expressions_on_null_values() -> None:
    def build(src):  # type: ignore[no-untyped-def]
        new_schema = LogicalSchema.of(key=[("K", INTEGER)], value=[(c.name, c.type) for c in src.schema.value] +
                                      [("K", INTEGER)])
        rekey = SelectKeyStep(src, (parse_expression("ID * 10"),), new_schema, (True,), (True,), ("INPUT",))
        return sink(projection(rekey, ["NAME", "AGE"], ["NAME", "AGE"]), SCHEMA)

    harness = Harness(build)
    harness.send(3, {"NAME": "x", "AGE": 1})
    harness.send(4, None)
    assert harness.output() == [(30, {"NAME": "x", "AGE": 1}, 0), (40, None, 0)]


def test_throwing_timestamp_extractor_fails_the_query() -> None:
    store = InMemoryTopicStore()
    store.create_topic("input")
    src = SourceStep(source(timestamp_column="AGE"), "INPUT")
    query = PersistentQuery.build("Q", "", SinkStep(src, "input", SCHEMA, KAFKA, JSON),
                                  config={"ksql.timestamp.throw.on.invalid": "true"}, processing_log=ProcessingLog(),
                                  emit=lambda *args: None)
    runtime = QueryRuntime(store)
    runtime.start(query)
    store.append("input", int_key(1), b'{"NAME": "x", "AGE": null}', timestamp=0)
    with pytest.raises(QueryFailedError, match="Fatal user code error in TimestampExtractor"):
        runtime.run_until_idle(raise_errors=True)
    assert query.status == "ERROR"


def test_latest_offset_reset_skips_existing_records() -> None:
    store = InMemoryTopicStore()
    store.create_topic("input")
    store.append("input", int_key(1), b'{"NAME": "old"}', timestamp=0)
    seen = []
    src = SourceStep(source(), "INPUT")
    query = PersistentQuery.build("Q", "", src, config={}, processing_log=ProcessingLog(), emit=lambda *a: None,
                                  offset_reset="latest", downstream=lambda row: seen.append(row.value[0]))
    runtime = QueryRuntime(store)
    runtime.start(query)
    store.append("input", int_key(2), b'{"NAME": "new"}', timestamp=1)
    runtime.run_until_idle()
    assert seen == ["new"]


def test_windowed_keys_carry_their_window_through() -> None:
    windowed = KeyFormat(FormatSpec("KAFKA"), WindowInfo("SESSION"))
    store = InMemoryTopicStore()
    store.create_topic("input")
    store.create_topic("output")
    src = SourceStep(DataSource("W", "STREAM", SCHEMA, "input", windowed, JSON), "W")
    query = PersistentQuery.build("Q", "", SinkStep(projection(src, ["NAME", "AGE"], ["NAME", "AGE"]), "output",
                                                    SCHEMA, windowed, JSON), config={},
                                  processing_log=ProcessingLog(),
                                  emit=lambda t, k, v, ts, h: store.append(t, k, v, timestamp=ts))
    runtime = QueryRuntime(store)
    runtime.start(query)
    key = int_key(7) + struct.pack(">qq", 20, 10)  # session windows: end, then start
    store.append("input", key, b'{"NAME": "x"}', timestamp=0)
    runtime.run_until_idle()
    assert store.records("output")[0].key == key


def test_in_memory_store_partitions_like_kafka_and_rejects_duplicates() -> None:
    store = InMemoryTopicStore()
    store.create_topic("t", partitions=3)
    with pytest.raises(TopicStoreError):
        store.create_topic("t")
    record = store.append("t", b"21", b"v", timestamp=1)
    assert record.partition == murmur2_partition(b"21", 3) == (-973932308 & 0x7FFFFFFF) % 3
    assert store.end_offset("t", record.partition) == 1
    assert store.read("t", record.partition, 0) == [record]
    store.delete_topic("t")
    assert store.describe_topic("t") is None


def test_state_stores_report_changes_for_a_changelog() -> None:
    changes = []
    store = StateStores().get("agg")
    assert isinstance(store, InMemoryKeyValueStore)
    store.add_listener(lambda name, key, value: changes.append((name, key, value)))
    store.put(("a",), 1)
    store.put(("a",), None)
    assert changes == [("agg", ("a",), 1), ("agg", ("a",), None)] and len(store) == 0


def test_source_step_exposes_the_processing_schema() -> None:
    step = SourceStep(source(), "INPUT")
    assert [c.name for c in step.schema.value] == ["NAME", "AGE", "ROWTIME", "ROWPARTITION", "ROWOFFSET", "ID"]
    assert isinstance(step.schema.value[0].type, type(STRING)) and ast is not None
