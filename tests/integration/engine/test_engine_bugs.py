"""Engine bugs found by the lesson and reliability engineers, against the session's real cluster (3 brokers).

A CREATE whose topic Kafka refuses never comes back after a restart; unknown request properties and connector
statements answer as ksqlDB 0.29 does; a pooled reader that restored a since-deleted changelog topic can be
reused. Engine processes of the tests' own (service id, port; see conftest.py); names carry random suffixes.
"""
from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
import requests
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from labkit.cluster.engine_process import EngineProcess
from labkit.engine.kafka_runtime import read_to_end
from labkit.engine.kafka_store import forget_topics
from labkit.ksql import KsqlClient, KsqlResponseError


@pytest.fixture
def name() -> str:
    return f"EB_{uuid.uuid4().hex[:8].upper()}"


def _client(process: EngineProcess) -> KsqlClient:
    return KsqlClient(process.settings.ksql_url, timeout=60)


def _post(process: EngineProcess, path: str, body: dict) -> requests.Response:
    return requests.post(process.settings.ksql_url + path, data=json.dumps(body), timeout=60,
                         headers={"Content-Type": "application/vnd.ksql.v1+json",
                                  "Accept": "application/vnd.ksql.v1+json"})


def test_create_refused_by_kafka_is_not_listed_after_a_restart(engine_process, name):
    with _client(engine_process) as client:
        with pytest.raises(KsqlResponseError) as caught:
            client.execute(f"CREATE STREAM {name} (id INT) WITH (kafka_topic='{name.lower()}-x', "
                           "value_format='json', partitions=1, replicas=5);")
        assert caught.value.status_code == 400
        assert "InvalidReplicationFactor" in caught.value.message
        client.execute(f"CREATE STREAM {name}_OK (id INT) WITH (kafka_topic='{name.lower()}-ok', "
                       "value_format='json', partitions=1);")
    engine_process.down()
    engine_process.up(timeout=120)
    with _client(engine_process) as client:
        streams = {s["name"] for s in client.execute("SHOW STREAMS;")[0]["streams"]}
    assert f"{name}_OK" in streams
    assert name not in streams


def test_unknown_request_property_is_refused_as_ksqldb_does(live_engine):
    response = _post(live_engine, "/ksql", {"ksql": "SHOW STREAMS;", "streamsProperties": {"auto.offset.rest": "x"}})
    assert response.status_code == 500
    body = response.json()
    assert (body["@type"], body["error_code"]) == ("statement_error", 50000)
    assert body["message"] == "Not recognizable as ksql, streams, consumer, or producer property: 'auto.offset.rest'"
    accepted = _post(live_engine, "/ksql", {"ksql": "SHOW STREAMS;", "streamsProperties": {
        "auto.offset.reset": "earliest", "ksql.streams.cache.max.bytes.buffering": 0,
        "consumer.max.poll.records": 10}})
    assert accepted.status_code == 200


def test_unknown_property_on_query_endpoint_is_refused(live_engine, name):
    with _client(live_engine) as client:
        client.execute(f"CREATE STREAM {name} (id INT) WITH (kafka_topic='{name.lower()}', value_format='json', "
                       "partitions=1);")
    response = _post(live_engine, "/query", {"ksql": f"SELECT * FROM {name};",
                                             "streamsProperties": {"no.such.property": 1}})
    assert response.status_code == 500
    assert response.json()["message"] == ("Not recognizable as ksql, streams, consumer, or producer property: "
                                          "'no.such.property'")


def test_show_connectors_without_a_connect_cluster(live_engine):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    response = _post(live_engine, "/ksql", {"ksql": "SHOW CONNECTORS;",
                                            "streamsProperties": {"ksql.connect.url": f"http://127.0.0.1:{port}"}})
    assert response.status_code == 500
    body = response.json()
    assert (body["@type"], body["error_code"], body["statementText"]) == ("statement_error", 50000,
                                                                          "SHOW CONNECTORS;")
    assert body["message"].startswith("io.confluent.ksql.util.KsqlServerException: org.apache.hc.client5.http."
                                      f"HttpHostConnectException: Connect to http://127.0.0.1:{port} ")
    assert "Caused by: Could not connect to the server." in body["message"]


def test_reader_that_restored_a_deleted_changelog_can_be_reused(cluster, settings, name):
    """A reader restores a changelog, the topic is deleted (DROP), then the reader serves the next query."""
    conf = settings.kafka_client_config()
    changelog, other = f"{name.lower()}-changelog", f"{name.lower()}-next"
    admin = KafkaAdminClient(**conf, client_id="test-engine-bugs")
    reader = KafkaConsumer(**conf, group_id=None, enable_auto_commit=False)
    try:
        admin.create_topics([NewTopic(changelog, 1, 1), NewTopic(other, 1, 1)])
        producer = KafkaProducer(**conf, acks="all")
        for i in range(5):
            producer.send(changelog, key=str(i).encode(), value=b"state")
            producer.send(other, key=str(i).encode(), value=b"row")
        producer.flush()
        producer.close()
        assert read_to_end(reader, changelog, lambda record: None) == 5
        forget_topics(reader)  # what the reader pool does when the restore gives the reader back
        admin.delete_topics([changelog])
        deadline = time.monotonic() + 30
        while changelog in admin.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        refresh = reader._cluster.request_update()  # a metadata wait the next user may join (partitions_for_topic)
        reader._net.run(reader._manager.wait_for, refresh, None)  # raised UnknownTopicOrPartitionError before
        assert read_to_end(reader, other, lambda record: None) == 5
    finally:
        reader.close()
        admin.delete_topics([t for t in (changelog, other) if t in admin.list_topics()])
        admin.close()
