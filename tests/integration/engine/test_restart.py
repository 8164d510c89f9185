"""A restarted engine replays its command topic and its queries resume from their committed offsets."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from labkit.cluster.engine_process import EngineProcess
from labkit.engine.command_topic import command_topic_name
from labkit.ksql import KsqlClient


@pytest.fixture
def engine(engine_process):
    return engine_process


def _client(process: EngineProcess) -> KsqlClient:
    return KsqlClient(process.settings.ksql_url, timeout=30)


def _produce(settings, topic: str, numbers: range) -> None:
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=5)
    try:
        for n in numbers:
            producer.send(topic, key=n.to_bytes(4, "big"), value=json.dumps({"N": n}).encode())
        producer.flush()
    finally:
        producer.close()


def _read_all(settings, topic: str) -> list[int]:
    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        values = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end for tp, end in ends.items()) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(json.loads(r.value)["N"] for r in records)
        return values
    finally:
        consumer.close()


def _wait_for_outputs(settings, topic: str, wanted: set[int], timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        values = _read_all(settings, topic)
        if wanted <= set(values) or time.monotonic() > deadline:
            return values
        time.sleep(0.5)


def _create_pipeline(process: EngineProcess, name: str) -> str:
    with _client(process) as client:
        client.execute(f"CREATE STREAM {name}_IN (ID INT KEY, N INT) WITH (KAFKA_TOPIC='{name}_in', PARTITIONS=2, "
                       "VALUE_FORMAT='JSON');")
        created = client.execute(f"CREATE STREAM {name}_OUT AS SELECT ID, N FROM {name}_IN WHERE N >= 0;",
                                 properties={"auto.offset.reset": "earliest"})
    return created[0]["commandStatus"]["queryId"]


def _restart_and_check(engine: EngineProcess, settings, unique: str, stop: str) -> tuple[list[int], str]:
    name = f"RESTART_{unique}"
    query_id = _create_pipeline(engine, name)
    _produce(settings, f"{name}_in", range(0, 100))
    assert set(_wait_for_outputs(settings, f"{name}_OUT", set(range(100)))) == set(range(100))
    if stop == "kill":
        os.kill(engine.pid(), signal.SIGKILL)
        time.sleep(0.5)
    else:
        engine.down()
    _produce(settings, f"{name}_in", range(100, 200))
    engine.up(timeout=120)
    with _client(engine) as client:
        streams = {s["name"] for s in client.execute("SHOW STREAMS;")[0]["streams"]}
        assert {f"{name}_IN", f"{name}_OUT"} <= streams
        queries = {q["id"]: q["state"] for q in client.execute("SHOW QUERIES;")[0]["queries"]}
        assert queries.get(query_id) == "RUNNING"
    values = _wait_for_outputs(settings, f"{name}_OUT", set(range(200)))
    assert set(values) == set(range(200)), f"missing after restart: {sorted(set(range(200)) - set(values))[:10]}"
    return values, query_id


def test_graceful_restart_replays_sources_and_resumes_from_committed_offsets(engine, settings, unique):
    values, _ = _restart_and_check(engine, settings, unique, "graceful")
    assert len(values) == 200  # committed after every flushed batch: nothing processed twice


def test_kill_9_restart_loses_nothing_and_at_most_reprocesses_the_last_batch(engine, settings, unique):
    values, _ = _restart_and_check(engine, settings, unique, "kill")
    duplicates = len(values) - len(set(values))
    assert 0 <= duplicates <= 100, duplicates  # at-least-once: only records after the last commit come again


def test_terminated_query_is_not_restarted(engine, settings, unique):
    name = f"TERM_{unique}"
    query_id = _create_pipeline(engine, name)
    with _client(engine) as client:
        client.execute(f"TERMINATE {query_id};")
    engine.down()
    engine.up(timeout=120)
    _produce(settings, f"{name}_in", range(5))
    with _client(engine) as client:
        assert query_id not in {q["id"] for q in client.execute("SHOW QUERIES;")[0]["queries"]}
        assert f"{name}_OUT" in {s["name"] for s in client.execute("SHOW STREAMS;")[0]["streams"]}
    time.sleep(2)
    assert _read_all(settings, f"{name}_OUT") == []


def test_corrupted_and_unknown_commands_are_skipped_on_replay(engine, settings, unique):
    with _client(engine) as client:
        client.execute(f"CREATE STREAM BEFORE_{unique} (ID INT KEY) WITH (KAFKA_TOPIC='before_{unique}', "
                       "PARTITIONS=1, VALUE_FORMAT='JSON');")
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    try:
        topic = command_topic_name(engine.settings.ksql_service_id)
        producer.send(topic, key=b'"stream/`X`/create"', value=b"{this is not a command", partition=0)
        producer.send(topic, key=b'"stream/`Y`/create"', partition=0,
                      value=json.dumps({"statement": "CREATE STREAM Y (A INT) WITH (KAFKA_TOPIC='y', "
                                        "VALUE_FORMAT='JSON');", "version": 999}).encode())
        producer.send(topic, key=b'"stream/`Z`/create"', partition=0,
                      value=json.dumps({"statement": "CREATE STREAM Z (;", "version": 1}).encode())
        producer.flush()
    finally:
        producer.close()
    with _client(engine) as client:
        client.execute(f"CREATE STREAM AFTER_{unique} (ID INT KEY) WITH (KAFKA_TOPIC='after_{unique}', "
                       "PARTITIONS=1, VALUE_FORMAT='JSON');")
    engine.down()
    engine.up(timeout=120)
    with _client(engine) as client:
        assert client.healthy()
        streams = {s["name"] for s in client.execute("SHOW STREAMS;")[0]["streams"]}
    assert {f"BEFORE_{unique}", f"AFTER_{unique}"} <= streams
    assert "Y" not in streams and "Z" not in streams
