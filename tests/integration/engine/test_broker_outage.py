"""The live engine survives broker outages: its process, /healthcheck and persistent queries outlast them.

Brokers are stopped, so this module starts a 3-broker cluster of its own (temporary run dir, free ports)
and an engine process over it; the session's cluster and the workbook's engine are never touched.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest
import requests
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from labkit.cluster import EmbeddedCluster
from labkit.cluster.engine_process import EngineProcess
from labkit.ksql import KsqlClient

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def own_cluster(settings, tmp_path_factory):
    """A 3-broker cluster of this module's own, stopped (and its data deleted) afterwards."""
    own = settings.with_overrides(run_dir=tmp_path_factory.mktemp("outage-cluster"), bootstrap=None,
                                  broker_ports=tuple(free_port() for _ in range(3)),
                                  controller_ports=tuple(free_port() for _ in range(3)),
                                  ksql_url=f"http://127.0.0.1:{free_port()}",
                                  ksql_service_id=f"outage{uuid.uuid4().hex[:6]}_")
    cluster = EmbeddedCluster(own, brokers=3)
    cluster.up()
    yield cluster
    cluster.down()


@pytest.fixture(scope="module")
def own_engine(own_cluster):
    process = EngineProcess(own_cluster.settings)
    process.up(timeout=120)
    yield process
    process.down()


def _produce(settings, topic: str, numbers: range) -> None:
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=5, request_timeout_ms=10000)
    try:
        for n in numbers:
            producer.send(topic, key=n.to_bytes(4, "big"), value=json.dumps({"N": n}).encode())
        producer.flush(timeout=120)
    finally:
        producer.close()


def _outputs(settings, topic: str, wanted: set[int], timeout: float = 120.0) -> set[int]:
    """The N values in a topic, read until every wanted one is there (or the timeout passes)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None, enable_auto_commit=False)
    seen: set[int] = set()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout
        while not wanted <= seen and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.update(json.loads(r.value)["N"] for r in records)
        return seen
    finally:
        consumer.close()


def _health(process: EngineProcess) -> dict:
    reply = requests.get(f"{process.settings.ksql_url}/healthcheck", timeout=10)
    return reply.json()


def _wait_healthy(process: EngineProcess, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        health = _health(process)
        if health.get("isHealthy") or time.monotonic() > deadline:
            return health
        time.sleep(1)


def _query_states(process: EngineProcess) -> dict[str, str]:
    with KsqlClient(process.settings.ksql_url, timeout=60) as client:
        [listing] = client.execute("SHOW QUERIES;")
    return {q["id"]: q["state"] for q in listing["queries"]}


def _produce_in_background(settings, topic: str, numbers: range) -> threading.Thread:
    thread = threading.Thread(target=_produce, args=(settings, topic, numbers), daemon=True)
    thread.start()
    return thread


def test_queries_and_healthcheck_outlast_stopped_brokers(own_cluster, own_engine):
    settings = own_cluster.settings
    name = f"OUTAGE_{uuid.uuid4().hex[:6].upper()}"
    with KsqlClient(settings.ksql_url, timeout=60) as client:
        client.execute(f"CREATE STREAM {name}_IN (ID INT KEY, N INT) WITH (KAFKA_TOPIC='{name}_in', PARTITIONS=1, "
                       "REPLICAS=3, VALUE_FORMAT='JSON');")
        created = client.execute(f"CREATE STREAM {name}_OUT AS SELECT ID, N FROM {name}_IN;",
                                 properties={"auto.offset.reset": "earliest"})
        client.execute(f"CREATE TABLE {name}_COUNT AS SELECT ID, COUNT(*) AS C FROM {name}_IN GROUP BY ID;",
                       properties={"auto.offset.reset": "earliest"})
    query_id = created[0]["commandStatus"]["queryId"]
    _produce(settings, f"{name}_in", range(0, 50))
    assert _outputs(settings, f"{name}_OUT", set(range(50))) >= set(range(50))

    own_cluster.stop_broker(1, kill=True)  # a crash: clients find out by timeouts and refused connections
    try:
        assert _wait_healthy(own_engine)["isHealthy"] is True
        time.sleep(10)  # the killed broker is fenced by now
        samples = []
        for _ in range(6):  # past the engine's health cache each time: every answer asks Kafka again
            samples.append(_health(own_engine)["isHealthy"])
            time.sleep(3.5)
        assert samples == [True] * 6
        _produce(settings, f"{name}_in", range(50, 100))
        assert _outputs(settings, f"{name}_OUT", set(range(100))) >= set(range(100))

        own_engine.down()  # an engine (re)started while a broker is down connects to the others
        own_engine.up(timeout=180)
        _produce(settings, f"{name}_in", range(100, 150))
        assert _outputs(settings, f"{name}_OUT", set(range(150))) >= set(range(150))

        own_cluster.stop_broker(2, kill=True)  # two of three down: nothing can be written for a while
        writer = _produce_in_background(settings, f"{name}_in", range(150, 200))
        time.sleep(20)
        assert own_engine.pid() is not None, "the engine process exited while brokers were down"
        assert "isHealthy" in _health(own_engine)
    finally:
        own_cluster.start_broker(2, timeout=120)
        own_cluster.start_broker(1, timeout=120)
    writer.join(timeout=180)

    assert _wait_healthy(own_engine)["isHealthy"] is True
    _produce(settings, f"{name}_in", range(200, 250))
    assert _outputs(settings, f"{name}_OUT", set(range(250))) >= set(range(250))
    assert own_engine.pid() is not None
    assert _query_states(own_engine)[query_id] == "RUNNING"
    with KsqlClient(settings.ksql_url, timeout=60) as client:
        counts = client.pull(f"SELECT ID, C FROM {name}_COUNT WHERE ID = 7;")
    assert list(counts["ID"]) == [7] and int(counts["C"].iloc[0]) >= 1
