"""The live engine through ksqlDB's REST API on the real cluster: DDL, CSAS, push, pull, INSERT, PRINT, DROP, errors."""
from __future__ import annotations

import json
import time

import pytest
import requests
from kafka import KafkaAdminClient, KafkaProducer

from labkit.ksql import KsqlResponseError


def _ready(value) -> bool:
    return (not value.empty) if hasattr(value, "empty") else bool(value)


def _wait_for(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None and _ready(value):
            return value
        time.sleep(interval)
    return predicate()


def test_stream_csas_insert_pull_push_print_and_drop_delete_topic(client, unique, settings):
    source, out = f"CLICKS_{unique}", f"BIG_CLICKS_{unique}"
    created = client.execute(f"CREATE STREAM {source} (ID INT KEY, USERNAME STRING, N INT) WITH "
                             f"(KAFKA_TOPIC='{source.lower()}', PARTITIONS=2, VALUE_FORMAT='JSON');")
    assert created[0]["commandStatus"] == {"status": "SUCCESS", "message": "Stream created", "queryId": None}
    csas = client.execute(f"CREATE STREAM {out} AS SELECT ID, UCASE(USERNAME) AS USERNAME, N FROM {source} "
                          "WHERE N >= 10;", properties={"auto.offset.reset": "earliest"})
    query_id = csas[0]["commandStatus"]["queryId"]
    assert query_id == f"CSAS_{out}_{csas[0]['commandSequenceNumber']}"

    assert client.insert(source, [{"ID": i, "USERNAME": f"user{i}", "N": i * 5} for i in range(6)]) == 6
    pulled = client.pull(f"SELECT * FROM {source};")
    assert sorted(pulled["ID"]) == list(range(6))

    rows = _wait_for(lambda: (lambda r: r if len(r) == 4 else None)(client.pull(f"SELECT * FROM {out};")))
    assert sorted(rows["USERNAME"]) == ["USER2", "USER3", "USER4", "USER5"]

    pushed = list(client.push(f"SELECT ID, USERNAME FROM {out} EMIT CHANGES LIMIT 4;",
                              properties={"auto.offset.reset": "earliest"}, timeout=30))
    assert sorted(r["ID"] for r in pushed) == [2, 3, 4, 5]

    lines = list(client.print_topic(f"PRINT '{out}' FROM BEGINNING LIMIT 2;", timeout=20))
    assert lines[0] == "Key format: KAFKA_INT or KAFKA_STRING"
    assert lines[1] == "Value format: JSON or KAFKA_STRING"
    assert all(line.startswith("rowtime: ") and ", partition: " in line for line in lines[2:4])

    queries = client.execute("SHOW QUERIES;")[0]["queries"]
    assert any(q["id"] == query_id and q["state"] == "RUNNING" for q in queries)
    dropped = client.execute(f"DROP STREAM {out} DELETE TOPIC;")
    assert dropped[0]["commandStatus"]["message"] == f"Source `{out}` (topic: {out}) was dropped."
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="test-live-rest")
    try:
        assert _wait_for(lambda: out not in admin.list_topics())
    finally:
        admin.close()
    assert not any(q["id"] == query_id for q in client.execute("SHOW QUERIES;")[0]["queries"])


def test_push_query_from_latest_sees_only_rows_written_after_it_started(client, unique):
    name = f"EVENTS_{unique}"
    client.execute(f"CREATE STREAM {name} (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='{name}', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    client.insert(name, [{"ID": 1, "V": "before"}])
    with client.push(f"SELECT * FROM {name} EMIT CHANGES;", timeout=30) as rows:
        client.insert(name, [{"ID": 2, "V": "after"}])
        first = next(iter(rows))
    assert first == {"ID": 2, "V": "after"}


def test_bad_requests_get_ksqldb_errors_and_the_server_stays_healthy(client, live_engine, unique):
    url = live_engine.settings.ksql_url
    with pytest.raises(KsqlResponseError) as syntax:
        client.execute("CREATE STREAM (;")
    assert syntax.value.error_code == 40001 and "Syntax Error" in syntax.value.message
    with pytest.raises(KsqlResponseError) as unknown:
        client.pull(f"SELECT * FROM NOPE_{unique};")
    assert f"NOPE_{unique} does not exist" in unknown.value.message
    invalid = requests.post(url + "/ksql", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert invalid.status_code == 400
    assert invalid.json()["error_code"] == 40000 and invalid.json()["message"].startswith("Invalid JSON in request")
    with pytest.raises(KsqlResponseError) as select_on_ksql:
        client.execute(f"SELECT * FROM NOPE_{unique};")
    assert select_on_ksql.value.error_code == 40002
    with pytest.raises(KsqlResponseError) as missing_topic:
        list(client.print_topic(f"PRINT 'missing_{unique}';", timeout=5))
    assert "Could not find topic" in missing_topic.value.message
    assert client.healthy()


def test_poison_record_is_logged_to_the_processing_log_and_the_query_goes_on(client, unique, settings):
    source, out = f"POISON_{unique}", f"CLEAN_{unique}"
    client.execute(f"CREATE STREAM {source} (ID INT KEY, N INT) WITH (KAFKA_TOPIC='{source}', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    csas = client.execute(f"CREATE STREAM {out} AS SELECT ID, N * 2 AS N2 FROM {source};")
    query_id = csas[0]["commandStatus"]["queryId"]
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    try:
        producer.send(source, key=(1).to_bytes(4, "big"), value=b"{this is not json")
        producer.send(source, key=(2).to_bytes(4, "big"), value=json.dumps({"N": 21}).encode())
        producer.flush()
    finally:
        producer.close()
    rows = _wait_for(lambda: client.pull(f"SELECT * FROM {out};").to_dict("records"))
    assert rows == [{"ID": 2, "N2": 42}]

    def logged():
        log = client.pull("SELECT LOGGER, MESSAGE FROM KSQL_PROCESSING_LOG;")
        return [m for logger, m in zip(log["LOGGER"], log["MESSAGE"]) if query_id in logger]
    entries = _wait_for(logged)
    assert entries and entries[0]["TYPE"] == 0
    assert entries[0]["DESERIALIZATIONERROR"]["topic"] == source
    assert client.healthy()


def test_info_status_and_healthcheck(client, live_engine, settings, unique):
    info = client.info()
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="test-live-info")
    try:
        assert info["kafkaClusterId"] == admin.describe_cluster()["cluster_id"]
    finally:
        admin.close()
    assert info["ksqlServiceId"] == live_engine.settings.ksql_service_id
    name = f"STATUS_{unique}"
    created = client.execute(f"CREATE STREAM {name} (ID INT KEY) WITH (KAFKA_TOPIC='{name}', PARTITIONS=1, "
                             "VALUE_FORMAT='JSON');")
    command_id = created[0]["commandId"]
    statuses = requests.get(live_engine.settings.ksql_url + "/status", timeout=10).json()
    assert statuses[command_id] == "SUCCESS"
    health = requests.get(live_engine.settings.ksql_url + "/healthcheck", timeout=10).json()
    assert health["isHealthy"] is True and health["serverState"] == "READY"


def test_paused_query_processes_nothing_until_resumed(client, unique):
    source, out = f"PAUSE_IN_{unique}", f"PAUSE_OUT_{unique}"
    client.execute(f"CREATE STREAM {source} (ID INT KEY, N INT) WITH (KAFKA_TOPIC='{source}', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    query_id = client.execute(f"CREATE STREAM {out} AS SELECT * FROM {source};")[0]["commandStatus"]["queryId"]
    assert client.execute(f"PAUSE {query_id};")[0]["commandStatus"]["message"] == "Query paused."
    client.insert(source, [{"ID": 1, "N": 1}])
    time.sleep(1.5)
    assert client.pull(f"SELECT * FROM {out};").empty
    assert client.execute(f"RESUME {query_id};")[0]["commandStatus"]["message"] == "Query resumed."
    rows = _wait_for(lambda: client.pull(f"SELECT * FROM {out};").to_dict("records"))
    assert rows == [{"ID": 1, "N": 1}]
