"""A broker-free driver of the engine for ksqlDB's query-validation tests (`make_driver`).

It behaves like ksqlDB's QTT harness around a TopologyTestDriver: topics named by CREATE statements with
columns are created first (PARTITIONS or 4 partitions), input records go to partition 0, every query
processes each record as soon as it is produced, INSERT VALUES uses a clock at 0, and the records of a
topic are returned query by query in creation order (the harness runs one topology after the other).
Records cross the boundary in the test files' representation: JSON as parsed JSON, DELIMITED as text,
KAFKA as a bare primitive, windowed keys with a `window`. With `kafka_partitioning` (the REST harness, which
runs on a real cluster) records go where Kafka puts them instead: inputs by murmur2 of the serialized key,
query outputs as a Kafka Streams sink partitions them (windowed keys by their key without the window).

    >>> driver = make_driver({"auto.offset.reset": "earliest"})
    >>> _ = driver.execute("CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');")
    >>> _ = driver.execute("CREATE STREAM T AS SELECT ID, UCASE(V) AS V FROM S;")
    >>> driver.produce(TestRecord("s", 1, {"V": "a"}, 10))
    >>> [(r.key, r.value, r.timestamp) for r in driver.produced("T")]
    [(1, {'V': 'A'}, 10)]
"""
from __future__ import annotations

import base64
import itertools
from decimal import Decimal
from typing import Any, Callable

from labkit.conformance.driver import ConformanceDriver, TestRecord
from labkit.engine.catalog import DataSource
from labkit.engine.engine import KsqlEngine
from labkit.engine.errors import KsqlStatementError
from labkit.engine.formats import RecordSerde
from labkit.engine.functions.jsontext import json_dumps, json_loads
from labkit.engine.properties import CREATE, WithClause
from labkit.engine.serde import SerdeError, to_topic_json
from labkit.engine.topics import Headers, InMemoryTopicStore, TopicRecord, murmur2_partition
from labkit.sql import SqlParseError, ast, parse, substitute_variables

__all__ = ["make_driver", "EngineDriver", "INFERRED_TOPIC_PARTITIONS"]

INFERRED_TOPIC_PARTITIONS = 4
"""Partitions of topics the QTT harness infers from CREATE statements (its Topic.DEFAULT_PARTITIONS)."""


def _to_json_value(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return _decimalize(json_loads(data))
    except Exception:  # noqa: BLE001 - not JSON: show the text
        return data.decode("utf-8", "replace")


def _decimalize(node: Any) -> Any:
    if isinstance(node, float):
        return Decimal(repr(node))
    if isinstance(node, list):
        return [_decimalize(v) for v in node]
    if isinstance(node, dict):
        return {k: _decimalize(v) for k, v in node.items()}
    return node


class _KafkaPartitionedStore(InMemoryTopicStore):
    """In-memory topics partitioned as a Kafka Streams sink does: murmur2 of the key, of the key without its
    window for windowed keys (WindowedStreamPartitioner)."""

    def __init__(self, window_bytes: Callable[[str], int]) -> None:
        super().__init__()
        self._window_bytes = window_bytes

    def append(self, topic: str, key: bytes | None, value: bytes | None, *, timestamp: int,
               partition: int | None = None, headers: Headers = ()) -> TopicRecord:
        if partition is None:
            description = self.describe_topic(topic)
            trim = self._window_bytes(topic) if key is not None else 0
            partition = murmur2_partition(key[:-trim] if trim else key, description.partitions if description else 1)
        return super().append(topic, key, value, timestamp=timestamp, partition=partition, headers=headers)


class EngineDriver:
    """ConformanceDriver over a KsqlEngine and an in-memory topic store."""

    def __init__(self, properties: dict[str, Any], *, kafka_partitioning: bool = False) -> None:
        # QTT: everything in partition 0 (TopologyTestDriver); RQTT: Kafka's default partitioner (murmur2 of key).
        self._kafka_partitioning = kafka_partitioning
        self.store = (_KafkaPartitionedStore(self._window_bytes) if kafka_partitioning
                      else InMemoryTopicStore(partitioner=lambda key, partitions: 0))
        self.engine = KsqlEngine(self.store, config=properties)
        self.engine.insert_clock = lambda: 0
        self.engine.query_counter = itertools.count().__next__  # type: ignore[attr-defined]  # queries 0, 1, ...
        self.session = self.engine.session()
        self._topic_formats: dict[str, tuple[str | None, str | None]] = {}
        self._written: dict[str, list[tuple[int, int, TopicRecord]]] = {}
        self._query_order: dict[str, int] = {}
        self._sequence = 0
        self._lines = 0
        self.store.add_listener(self._record_written)

    # --- bookkeeping --------------------------------------------------------------------------

    def _record_written(self, record: TopicRecord) -> None:
        current = getattr(self.engine.runtime, "current", None)
        writer = -1
        if current is not None:
            writer = self._query_order.setdefault(current.query_id, len(self._query_order))
        self._sequence += 1
        self._written.setdefault(record.topic, []).append((writer, self._sequence, record))

    def _window_bytes(self, topic: str) -> int:
        """How many bytes of window a key written to `topic` ends with (0: not windowed)."""
        source = self._source_for_topic(topic)
        window = source.key_format.window if source is not None else None
        return 0 if window is None else 16 if window.is_session else 8

    def _source_for_topic(self, topic: str) -> DataSource | None:
        sources = self.engine.catalog.sources_on_topic(topic)
        return sources[-1] if sources else None

    # --- ConformanceDriver ----------------------------------------------------------------------

    def create_topic(self, name: str, *, partitions: int = 1, key_format: str | None = None,
                     value_format: str | None = None) -> None:
        if self.store.describe_topic(name) is None:
            self.store.create_topic(name, partitions=partitions)
        self._topic_formats[name] = (key_format, value_format)

    def _infer_topic(self, statement: ast.Statement) -> None:
        """The harness creates the topic of a CREATE statement with columns before running it."""
        if not isinstance(statement, ast.CreateSource) or not statement.elements:
            return
        try:
            props = WithClause.parse(statement.properties, CREATE)
        except Exception:  # noqa: BLE001 - the statement itself reports the problem
            return
        topic = props.get("KAFKA_TOPIC")
        if topic is not None and self.store.describe_topic(topic) is None:
            self.store.create_topic(topic, partitions=props.get("PARTITIONS") or INFERRED_TOPIC_PARTITIONS,
                                    replicas=props.get("REPLICAS") or 1)

    def execute(self, statement: str) -> list[dict]:
        text = substitute_variables(statement, self.session.variables) if self.session.variables else statement
        # The harness parses all statements of a case as one script joined by newlines: keep its line numbers.
        offset, self._lines = self._lines, self._lines + statement.count("\n") + 1
        try:
            statements = parse("\n" * offset + text)
        except SqlParseError as error:
            raise KsqlStatementError(error.ksql_message, text.strip()) from None
        entities = []
        for parsed in statements:
            self._infer_topic(parsed)
            entity = self.engine.execute_statement(parsed, self.session)
            if entity is not None:
                entities.append(entity)
        self.engine.run_until_idle(raise_errors=True)
        return entities

    def _serialize(self, source: DataSource | None, record: TestRecord) -> tuple[bytes | None, bytes | None]:
        if source is None:
            key = None if record.key is None else json_dumps(record.key).encode()
            value = None if record.value is None else json_dumps(record.value).encode()
            return key, value
        serde = RecordSerde(source.schema, source.key_format, source.value_format, self.session.effective())
        window = None
        if record.window is not None:
            window = (int(record.window["start"]), int(record.window["end"]))
        key_bytes = self._encode(record.key, source.key_format.name, serde, True, record.topic)
        if source.key_format.window is not None and window is not None:
            body = key_bytes or b""
            if source.key_format.window.is_session:
                key_bytes = body + window[1].to_bytes(8, "big", signed=True) + window[0].to_bytes(8, "big", signed=True)
            else:
                key_bytes = body + window[0].to_bytes(8, "big", signed=True)
        value_bytes = self._encode(record.value, source.value_format.name, serde, False, record.topic)
        return key_bytes, value_bytes

    @staticmethod
    def _encode(data: Any, format_name: str, serde: RecordSerde, is_key: bool, topic: str) -> bytes | None:
        if data is None or format_name == "NONE":
            return None
        if format_name == "JSON":
            return json_dumps(data).encode()
        if format_name == "DELIMITED":
            return (data if isinstance(data, str) else json_dumps(data)).encode()
        columns = serde.schema.key if is_key else [c for c in serde.schema.value if c.namespace != "HEADERS"]
        inner = serde.key_serde if is_key else serde.value_serde
        if len(columns) == 1:
            try:
                if columns[0].type.base == "BYTES" and isinstance(data, str):
                    return base64.b64decode(data)
                if columns[0].type.base == "DOUBLE" and isinstance(data, (int, Decimal)):
                    data = float(data)
                return inner.serialize([data], topic)
            except (SerdeError, TypeError, ValueError):
                pass
        return (data if isinstance(data, str) else json_dumps(data)).encode()

    def produce(self, record: TestRecord) -> None:
        if self.store.describe_topic(record.topic) is None:
            self.store.create_topic(record.topic, partitions=INFERRED_TOPIC_PARTITIONS)
        source = self._source_for_topic(record.topic)
        key, value = self._serialize(source, record)
        headers = tuple((h.get("KEY"), None if h.get("VALUE") is None else base64.b64decode(h["VALUE"]))
                        for h in record.headers)
        partition = 0
        if self._kafka_partitioning:  # the harness's KafkaProducer: murmur2 of the whole serialized key
            description = self.store.describe_topic(record.topic)
            partition = murmur2_partition(key, description.partitions if description else 1)
        self.store.append(record.topic, key, value, timestamp=record.timestamp or 0, partition=partition,
                          headers=headers)
        self.engine.run_until_idle(raise_errors=True)

    def _decode(self, data: bytes | None, format_name: str, serde: RecordSerde | None, is_key: bool,
                topic: str) -> Any:
        if data is None or format_name == "NONE":
            return None
        if format_name == "JSON":
            return _to_json_value(data)
        if format_name == "DELIMITED" or serde is None:
            return data.decode("utf-8", "replace")
        columns = serde.schema.key if is_key else [c for c in serde.schema.value if c.namespace != "HEADERS"]
        inner = serde.key_serde if is_key else serde.value_serde
        try:
            values = inner.deserialize(data, topic)
        except SerdeError:
            return data.decode("utf-8", "replace")
        if not values or not columns:
            return None
        return _decimalize(to_topic_json(values[0], columns[0].type))

    def produced(self, topic: str) -> list[TestRecord]:
        source = self._source_for_topic(topic)
        serde = None
        if source is not None:
            serde = RecordSerde(source.schema, source.key_format, source.value_format, self.session.effective())
        entries = sorted(self._written.get(topic, []), key=lambda e: (e[0], e[1]))
        out = []
        for _, _, record in entries:
            key_data, window = record.key, None
            key_format = source.key_format.name if source is not None else "JSON"
            value_format = source.value_format.name if source is not None else "JSON"
            if source is not None and source.key_format.window is not None and key_data is not None:
                info = source.key_format.window
                if info.is_session:
                    end = int.from_bytes(key_data[-16:-8], "big", signed=True)
                    start = int.from_bytes(key_data[-8:], "big", signed=True)
                    key_data = key_data[:-16]
                    window = {"start": start, "end": end, "type": "session"}
                else:
                    start = int.from_bytes(key_data[-8:], "big", signed=True)
                    key_data = key_data[:-8]
                    window = {"start": start, "end": start + (info.size_ms or 0), "type": "time"}
            key = self._decode(key_data, key_format, serde, True, topic)
            value = self._decode(record.value, value_format, serde, False, topic)
            headers = [{"KEY": k, "VALUE": None if v is None else base64.b64encode(v).decode()}
                       for k, v in record.headers]
            out.append(TestRecord(topic, key, value, record.timestamp, window, headers))
        return out

    def source(self, name: str) -> dict | None:
        source = self.engine.catalog.source(name)
        if source is None:
            return None
        key_format: dict[str, Any] = {"format": source.key_format.name}
        if source.key_format.window is not None:
            key_format["windowType"] = source.key_format.window.type
            if source.key_format.window.size_ms is not None:
                key_format["windowSize"] = source.key_format.window.size_ms
        return {"name": source.name, "type": source.kind.lower(), "schema": source.schema.render(),
                "keyFormat": key_format, "valueFormat": source.value_format.name, "isSource": source.is_source}

    def topic_names(self) -> list[str]:
        return self.store.list_topics()

    def topic_info(self, name: str) -> dict | None:
        description = self.store.describe_topic(name)
        if description is None:
            return None
        source = self._source_for_topic(name)
        key_format, value_format = self._topic_formats.get(name, (None, None))
        if source is not None:
            key_format, value_format = source.key_format.name, source.value_format.name
        for query in self.engine.catalog.queries.values():
            if name in query.internal_topics:
                key_format, value_format = query.internal_topics[name]
        return {"name": name, "partitions": description.partitions, "keyFormat": key_format,
                "valueFormat": value_format}

    def close(self) -> None:
        self.engine.close()


def make_driver(properties: dict[str, Any], *, kafka_partitioning: bool = False) -> ConformanceDriver:
    """A fresh engine over in-memory topics configured with the case's properties.

    `kafka_partitioning` spreads records over partitions as Kafka's default partitioner does (RQTT runs on a
    real cluster); without it every record goes to partition 0, as with QTT's TopologyTestDriver.
    """
    return EngineDriver(dict(properties), kafka_partitioning=kafka_partitioning)
