"""The live engine over the session's cluster: windowed sinks partitioned as Kafka Streams does, TERMINATE of a
push query ending its HTTP stream, restart replay that leaves out queries terminated later in the log.

Engine processes of the tests' own (service id, port; see conftest.py); every name carries a random suffix.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from labkit.cluster.engine_process import EngineProcess
from labkit.engine.topics import murmur2_partition
from labkit.ksql import KsqlClient


@pytest.fixture
def name() -> str:
    return f"FU_{uuid.uuid4().hex[:8].upper()}"


def _client(process: EngineProcess) -> KsqlClient:
    return KsqlClient(process.settings.ksql_url, timeout=60)


def _read(settings, topic: str, expected: int, timeout: float = 60.0) -> list:
    """The records of a topic, read until `expected` of them arrived (or the timeout passed)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None, enable_auto_commit=False)
    records: list = []
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def test_windowed_sink_records_are_partitioned_by_their_key_without_the_window(live_engine, settings, name):
    with _client(live_engine) as client:
        client.execute(f"CREATE STREAM {name} (K STRING KEY, V INT) WITH (KAFKA_TOPIC='{name.lower()}', "
                       "PARTITIONS=4, VALUE_FORMAT='JSON');")
        client.execute(f"CREATE TABLE {name}_W AS SELECT K, COUNT(*) AS N FROM {name} "
                       "WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY K;", properties={"auto.offset.reset": "earliest"})
    keys = [f"key-{i}" for i in range(12)]
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    try:
        for window in range(3):  # three windows per key: 36 aggregate rows
            for key in keys:
                producer.send(name.lower(), key=key.encode(), value=json.dumps({"V": 1}).encode(),
                              timestamp_ms=1_700_000_000_000 + window * 1000)
        producer.flush()
    finally:
        producer.close()
    records = _read(settings, f"{name}_W", 36)
    assert len(records) >= 36
    by_inner = {(r.key[:-8], r.partition) for r in records}  # TimeWindowedSerializer: key bytes + 8-byte start
    assert {inner.decode() for inner, _ in by_inner} == set(keys)
    assert all(partition == murmur2_partition(inner, 4) for inner, partition in by_inner)
    assert len({inner for inner, _ in by_inner}) == len(by_inner)  # every window of a key in one partition


def test_terminate_push_query_ends_its_stream(live_engine, name):
    with _client(live_engine) as client:
        client.execute(f"CREATE STREAM {name} (K STRING KEY, V INT) WITH (KAFKA_TOPIC='{name.lower()}', "
                       "PARTITIONS=1, VALUE_FORMAT='JSON');")
        with client.push(f"SELECT * FROM {name} EMIT CHANGES;", timeout=60) as query:
            listed = {q["id"]: q for q in client.execute("SHOW QUERIES;")[0]["queries"]}
            assert listed[query.query_id]["queryType"] == "PUSH"
            [entity] = client.execute(f"TERMINATE {query.query_id};")
            assert (entity["@type"], entity["queryId"], entity["wasTerminated"]) == (
                "terminate_query", query.query_id.upper(), True)
            assert list(query) == [] and not query.timed_out  # the server ended the stream
        listed = {q["id"] for q in client.execute("SHOW QUERIES;")[0]["queries"]}
        assert query.query_id not in listed


def test_restart_leaves_out_terminated_queries_and_keeps_their_sinks(engine_process, name):
    with _client(engine_process) as client:
        client.execute(f"CREATE STREAM {name} (K STRING KEY, V INT) WITH (KAFKA_TOPIC='{name.lower()}', "
                       "PARTITIONS=1, VALUE_FORMAT='JSON');")
        ended = client.execute(f"CREATE STREAM {name}_A AS SELECT * FROM {name};")[0]["commandStatus"]["queryId"]
        kept = client.execute(f"CREATE STREAM {name}_B AS SELECT * FROM {name};")[0]["commandStatus"]["queryId"]
        client.execute(f"TERMINATE {ended};")
    engine_process.down()
    engine_process.up(timeout=120)
    with _client(engine_process) as client:
        queries = {q["id"]: q for q in client.execute("SHOW QUERIES;")[0]["queries"]}
        streams = {s["name"] for s in client.execute("SHOW STREAMS;")[0]["streams"]}
        described = client.execute(f"DESCRIBE {name}_A;")[0]["sourceDescription"]
    assert set(queries) == {kept} and queries[kept]["statusCount"] == {"RUNNING": 1}
    assert {f"{name}_A", f"{name}_B"} <= streams
    assert [f["name"] for f in described["fields"]] == ["K", "V"] and described["writeQueries"] == []
