"""The live engine over the session's cluster: join order over existing data, replay, topics it leaves behind,
pull queries after a topic is recreated, EXPLAIN's topology.

Engine processes of the tests' own (service id, port; see conftest.py); every name carries a random suffix.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from labkit.cluster.engine_process import EngineProcess
from labkit.ksql import KsqlClient


@pytest.fixture
def engine(live_engine):
    """The session's engine process of the tests (own service id and port; see conftest.py)."""
    return live_engine


@pytest.fixture
def name() -> str:
    return f"FIX_{uuid.uuid4().hex[:8].upper()}"


def _client(process: EngineProcess) -> KsqlClient:
    return KsqlClient(process.settings.ksql_url, timeout=60)


def _admin(settings) -> KafkaAdminClient:
    return KafkaAdminClient(**settings.kafka_client_config(), client_id="test-engine-fixes")


def _topics(settings) -> set[str]:
    admin = _admin(settings)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def _wait_until(check, timeout: float = 60.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


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


def _produce(settings, topic: str, rows: list[tuple[int, dict, int]]) -> None:
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=5)
    try:
        for key, value, timestamp in rows:
            producer.send(topic, key=key.to_bytes(4, "big"), value=json.dumps(value).encode(), timestamp_ms=timestamp)
        producer.flush()
    finally:
        producer.close()


def _create_topic(settings, topic: str, partitions: int = 1, replicas: int = 1) -> None:
    admin = _admin(settings)
    try:
        admin.create_topics([NewTopic(topic, partitions, replicas)])
    finally:
        admin.close()


# ------------------------------------------------------------------------------------------------ 1. join order


def test_stream_table_join_from_earliest_joins_every_stream_row_after_its_table_row(engine, settings, name):
    t0 = int(time.time() * 1000) - 60_000
    users, clicks = f"{name.lower()}_users", f"{name.lower()}_clicks"
    _create_topic(settings, users)
    _create_topic(settings, clicks)
    _produce(settings, users, [(user, {"NAME": f"user{user}"}, t0) for user in range(20)])
    _produce(settings, clicks, [(n % 20, {"PAGE": f"p{n}"}, t0 + 1 + n) for n in range(2000)])
    with _client(engine) as client:
        client.execute(f"CREATE TABLE {name}_USERS (ID INT PRIMARY KEY, NAME STRING) WITH (KAFKA_TOPIC='{users}', "
                       "VALUE_FORMAT='JSON');"
                       f"CREATE STREAM {name}_CLICKS (ID INT KEY, PAGE STRING) WITH (KAFKA_TOPIC='{clicks}', "
                       "VALUE_FORMAT='JSON');")
        client.execute(f"CREATE STREAM {name}_ENRICHED AS SELECT C.ID, C.PAGE, U.NAME FROM {name}_CLICKS C "
                       f"JOIN {name}_USERS U ON C.ID = U.ID;", properties={"auto.offset.reset": "earliest"})
    joined = _read(settings, f"{name}_ENRICHED", 2000)
    values = [json.loads(r.value) for r in joined]
    assert len(values) == 2000
    assert {v["PAGE"] for v in values} == {f"p{n}" for n in range(2000)}
    assert all(v["NAME"] == f"user{int(v['PAGE'][1:]) % 20}" for v in values)


# ------------------------------------------------------------------------------- 4. deleted topics stay deleted


def test_a_sink_topic_deleted_by_drop_does_not_come_back_and_can_be_created_again(engine, settings, name):
    with _client(engine) as client:
        client.execute(f"CREATE STREAM {name}_IN (ID INT KEY, V INT) WITH (KAFKA_TOPIC='{name.lower()}_in', "
                       "PARTITIONS=1, REPLICAS=1, VALUE_FORMAT='JSON');")
        client.execute(f"CREATE STREAM {name}_OUT AS SELECT * FROM {name}_IN;")
        client.execute(f"INSERT INTO {name}_IN (ID, V) VALUES (1, 1);")
        assert len(_read(settings, f"{name}_OUT", 1)) == 1
        client.execute(f"DROP STREAM {name}_OUT DELETE TOPIC;")
        # the engine's producer now writes to a new topic: its metadata request must not revive the old one
        client.execute(f"CREATE STREAM {name}_OTHER AS SELECT * FROM {name}_IN;")
        client.execute(f"INSERT INTO {name}_IN (ID, V) VALUES (2, 2);")
        assert len(_read(settings, f"{name}_OTHER", 1)) == 1
        time.sleep(2)
        assert f"{name}_OUT" not in _topics(settings)
        again = client.execute(f"CREATE STREAM {name}_OUT AS SELECT * FROM {name}_IN;")
        assert again[0]["commandStatus"]["status"] == "SUCCESS"
    admin = _admin(settings)
    try:
        [described] = admin.describe_topics([f"{name}_OUT"])
    finally:
        admin.close()
    assert len(described["partitions"]) == 1 and len(described["partitions"][0]["replica_nodes"]) == 1


# ------------------------------------------------------------------------- 5. pull query after a recreated topic


def test_pull_query_on_a_stream_whose_topic_was_dropped_and_created_again(engine, settings, name):
    topic = f"{name.lower()}_events"
    create = (f"CREATE STREAM {name} (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='{topic}', PARTITIONS={{}}, "
              "REPLICAS={}, VALUE_FORMAT='JSON');")
    with _client(engine) as client:
        client.execute(create.format(2, 1))
        client.execute(f"INSERT INTO {name} (ID, V) VALUES (1, 'first');")
        assert list(client.pull(f"SELECT V FROM {name};")["V"]) == ["first"]
        for cycle, (partitions, replicas) in enumerate([(2, 3), (1, 1), (3, 3)]):
            client.execute(f"DROP STREAM {name} DELETE TOPIC;")
            client.execute(create.format(partitions, replicas))  # at once: the engine waits for the deletion
            client.execute(f"INSERT INTO {name} (ID, V) VALUES ({cycle}, 'cycle{cycle}');")
            started = time.monotonic()
            rows = client.pull(f"SELECT V FROM {name};")
            assert list(rows["V"]) == [f"cycle{cycle}"]
            assert time.monotonic() - started < 20, "the pull query waited for a timeout of stale metadata"


# -------------------------------------------------------------------------------------- 6. internal topics


def _internal(settings, engine: EngineProcess, query_id: str) -> set[str]:
    prefix = f"_confluent-ksql-{engine.settings.ksql_service_id}query_{query_id}-"
    return {t for t in _topics(settings) if t.startswith(prefix)}


def test_terminate_and_drop_delete_the_query_internal_topics(engine, settings, name):
    with _client(engine) as client:
        client.execute(f"CREATE STREAM {name}_IN (ID INT KEY, CITY STRING) WITH (KAFKA_TOPIC='{name.lower()}_in', "
                       "PARTITIONS=2, VALUE_FORMAT='JSON');")
        first = client.execute(f"CREATE TABLE {name}_BY_CITY AS SELECT CITY, COUNT(*) AS N FROM {name}_IN "
                               "GROUP BY CITY;")[0]["commandStatus"]["queryId"]
        second = client.execute(f"CREATE TABLE {name}_BY_CITY2 AS SELECT CITY, COUNT(*) AS N FROM {name}_IN "
                                "GROUP BY CITY;")[0]["commandStatus"]["queryId"]
        client.execute(f"INSERT INTO {name}_IN (ID, CITY) VALUES (1, 'Oslo');")
        for query_id in (first, second):
            topics = _wait_until(lambda q=query_id: len(_internal(settings, engine, q)) >= 2 and
                                 _internal(settings, engine, q))
            assert any(t.endswith("-repartition") for t in topics) and any(t.endswith("-changelog") for t in topics)
        client.execute(f"TERMINATE {first};")
        assert _wait_until(lambda: not _internal(settings, engine, first), timeout=30) is True
        client.execute(f"DROP TABLE {name}_BY_CITY2;")
        assert _wait_until(lambda: not _internal(settings, engine, second), timeout=30) is True


# ---------------------------------------------------------------------------------------------- 7. EXPLAIN


def test_explain_describes_the_query_topology(engine, name):
    with _client(engine) as client:
        client.execute(f"CREATE STREAM {name}_IN (ID INT KEY, CITY STRING) WITH (KAFKA_TOPIC='{name.lower()}_in', "
                       "PARTITIONS=1, VALUE_FORMAT='JSON');")
        query_id = client.execute(f"CREATE TABLE {name}_COUNTS AS SELECT CITY, COUNT(*) AS N FROM {name}_IN "
                                  "GROUP BY CITY;")[0]["commandStatus"]["queryId"]
        [explained] = client.execute(f"EXPLAIN {query_id};")
    topology = explained["queryDescription"]["topology"]
    assert topology.startswith("Topologies:")
    assert f"(topics: [{name.lower()}_in])" in topology
    assert "Sub-topology: 1" in topology  # the GROUP BY repartition splits it
    assert "Sink: Aggregate-GroupBy-repartition-sink (topic: Aggregate-GroupBy-repartition)" in topology
    assert "(stores: [Aggregate-Aggregate-Materialize])" in topology
    assert f"(topic: {name}_COUNTS)" in topology


# ----------------------------------------------------------------------------------------------- 2. replay


def test_restart_replays_commands_whose_topics_changed_since(engine_process, settings, name):
    """A command accepted once is not validated again on replay (the topic was recreated with other replicas)."""
    topic = f"{name.lower()}_in"
    with _client(engine_process) as client:
        client.execute(f"CREATE STREAM {name}_IN (ID INT KEY, V INT) WITH (KAFKA_TOPIC='{topic}', PARTITIONS=1, "
                       "REPLICAS=1, VALUE_FORMAT='JSON');")
        query_id = client.execute(f"CREATE STREAM {name}_OUT AS SELECT * FROM {name}_IN;",
                                  properties={"auto.offset.reset": "earliest"})[0]["commandStatus"]["queryId"]
    engine_process.down()
    admin = _admin(settings)
    try:
        admin.delete_topics([topic])
        _wait_until(lambda: topic not in _topics(settings))
        _wait_until(lambda: _try_create(admin, topic))
    finally:
        admin.close()
    engine_process.up(timeout=120)
    with _client(engine_process) as client:
        streams = {s["name"] for s in client.execute("SHOW STREAMS;")[0]["streams"]}
        queries = {q["id"] for q in client.execute("SHOW QUERIES;")[0]["queries"]}
        assert {f"{name}_IN", f"{name}_OUT"} <= streams
        assert query_id in queries
        client.execute(f"INSERT INTO {name}_IN (ID, V) VALUES (5, 5);")
    assert [json.loads(r.value) for r in _read(settings, f"{name}_OUT", 1)] == [{"V": 5}]
    log = engine_process.log_path.read_text()
    assert "failed on replay" not in log


def _try_create(admin: KafkaAdminClient, topic: str) -> bool:
    try:
        admin.create_topics([NewTopic(topic, 1, 3)])
        return True
    except Exception:  # noqa: BLE001 - the deletion is still being applied: try again
        return False
