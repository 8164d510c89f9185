"""The broker-free parts of the live engine: changelog encoding, PRINT formats, command ids, the command log and
its replay, and the REST adapter over in-memory topics (through the real HTTP app)."""
from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from labkit.engine.changelog import StateCodecError, changelog_topic, decode_state, encode_state
from labkit.engine.command_topic import (
    CommandDecodeError,
    CommandTopic,
    command_id,
    command_topic_name,
    decode_command,
)
from labkit.engine.engine import KsqlEngine
from labkit.engine.print_topic import NO_DATA, RecordFormatter, format_rowtime
from labkit.engine.server_adapter import ServerEngine
from labkit.engine.state import InMemoryKeyValueStore, StateStores
from labkit.engine.topics import InMemoryTopicStore, TopicRecord
from labkit.server import create_app
from labkit.server.protocol import StatementError
from labkit.sql import parse

LEGACY = {"Accept": "application/vnd.ksql.v1+json"}
CREATE_S = "CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');"


# ------------------------------------------------------------------------------------------- changelog


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "text", Decimal("1.50"), [1, "a", None], (1, (2, "b")), {"A": 1, "B": [Decimal("2")]},
    {(1, "k"): "tuple key"}, {"$weird": 1}, b"\x00\xff", {1, 2}, frozenset({"x"}), float("nan"),
    datetime.date(2024, 1, 2), datetime.time(10, 30), datetime.datetime(2024, 1, 2, 3, 4, 5),
])
def test_changelog_encoding_round_trips_engine_values(value):
    decoded = decode_state(encode_state(value))
    if isinstance(value, float) and value != value:
        assert decoded != decoded
    else:
        assert decoded == value and type(decoded) is type(value)


def test_changelog_encoding_refuses_unknown_types_and_names_topics_as_ksqldb():
    with pytest.raises(StateCodecError):
        encode_state(object())
    assert changelog_topic("default_", "CTAS_T_3", "Aggregate-Materialize") == \
        "_confluent-ksql-default_query_CTAS_T_3-Aggregate-Materialize-changelog"
    assert changelog_topic("default_", "Q", "a/b c") == "_confluent-ksql-default_query_Q-a_b_c-changelog"


def test_state_stores_report_existing_and_new_stores_to_on_create():
    stores = StateStores()
    early = stores.get("early")
    seen: list[InMemoryKeyValueStore] = []
    stores.on_create(seen.append)
    late = stores.get("late")
    stores.get("late")
    assert seen == [early, late]


# ------------------------------------------------------------------------------------------- PRINT


def test_print_formats_narrow_as_records_are_seen():
    formatter = RecordFormatter()
    assert formatter.key_formats() == [NO_DATA]
    assert formatter.format_key((18).to_bytes(4, "big")) == "18"
    assert formatter.key_formats() == ["KAFKA_INT", "KAFKA_STRING"]
    assert formatter.format_value(b'{"A":1}') == '{"A":1}'
    assert formatter.format_value(b"plain text") == "plain text"
    assert formatter.value_formats() == ["KAFKA_STRING"]
    assert formatter.format_value(b"\xff\x00\\") == "\\xFF\\x00\\x5C"
    assert formatter.value_formats() == []
    assert formatter.format_key(None) == "<null>"


def test_print_shows_windowed_keys_and_rowtime_like_ksqldb():
    formatter = RecordFormatter()
    key = b"abc" + (1000).to_bytes(8, "big")
    assert formatter.format_key(key) == "[abc@1000/-]"
    assert formatter.key_formats() == ["HOPPING(KAFKA_STRING)", "TUMBLING(KAFKA_STRING)"]
    session = RecordFormatter()  # ksqlDB's quirk, kept: 20 bytes also read as a session-windowed INT
    assert session.format_key(b"user" + (5).to_bytes(8, "big") + (1).to_bytes(8, "big")) == "[1970496882@1/5]"
    assert formatter.line(1669999322556, None, b"1", 2) == \
        "rowtime: 2022/12/02 16:42:02.556 Z, key: <null>, value: 1, partition: 2"
    assert format_rowtime(-1) == "N/A"


# ------------------------------------------------------------------------------------------- command ids


@pytest.mark.parametrize("sql, expected", [
    (CREATE_S, "stream/`S`/create"),
    ("CREATE TABLE T (ID INT PRIMARY KEY) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');", "table/`T`/create"),
    ("CREATE STREAM O AS SELECT * FROM S;", "stream/`O`/create"),
    ("CREATE TABLE O AS SELECT * FROM T;", "table/`O`/create"),
    ("INSERT INTO O SELECT * FROM S;", "stream/`O`/create"),
    ("DROP STREAM S;", "stream/S/drop"),
    ("DROP TABLE IF EXISTS T DELETE TOPIC;", "table/T/drop"),
    ("TERMINATE CSAS_O_1;", "terminate/CSAS_O_1/execute"),
    ("TERMINATE ALL;", "terminate/ALL/execute"),
    ("PAUSE CSAS_O_1;", "pause/CSAS_O_1/execute"),
    ("RESUME ALL;", "resume/ALL/execute"),
    ("CREATE TYPE ADDRESS AS STRUCT<CITY STRING>;", "type/ADDRESS/create"),
    ("DROP TYPE ADDRESS;", "type/ADDRESS/drop"),
    ("SHOW STREAMS;", None),
    ("INSERT INTO S (ID, V) VALUES (1, 'a');", None),
    ("SET 'auto.offset.reset'='earliest';", None),
])
def test_command_ids_are_ksqldbs(sql, expected):
    [statement] = parse(sql)
    assert command_id(statement) == expected


def test_decode_command_rejects_what_cannot_be_replayed():
    def record(key, value):
        return TopicRecord("t", 0, 7, 0, key, value)

    good = decode_command(record(b'"stream/`S`/create"', json.dumps({"statement": CREATE_S,
                                                                   "streamsProperties": {"a": "b"}}).encode()))
    assert (good.offset, good.command_id, good.statement, good.streams_properties) == \
        (7, "stream/`S`/create", CREATE_S, {"a": "b"})
    for value in (b"{not json", b"[]", json.dumps({"statement": CREATE_S, "version": 99}).encode(),
                  json.dumps({"statement": CREATE_S, "streamsProperties": []}).encode(), None):
        with pytest.raises(CommandDecodeError):
            decode_command(record(b'"x"', value))
    assert command_topic_name("default_") == "_confluent-ksql-default__command_topic"


# ------------------------------------------------------------------------------------------- command log + replay


def _server(store: InMemoryTopicStore) -> ServerEngine:
    engine = KsqlEngine(store, {"ksql.streams.auto.offset.reset": "earliest"})
    return ServerEngine(engine, commands=CommandTopic(store)).start()


def _run(server: ServerEngine, sql: str) -> list[dict]:
    return server.execute(sql, properties={}, variables={})


def test_commands_are_logged_before_they_run_and_numbered_by_offset():
    store = InMemoryTopicStore()
    server = _server(store)
    first = _run(server, CREATE_S)
    second = _run(server, "SHOW STREAMS; CREATE STREAM O AS SELECT ID, UCASE(V) AS V FROM S;")
    assert first[0]["commandSequenceNumber"] == 0
    assert second[1]["commandSequenceNumber"] == 1
    assert second[1]["commandStatus"]["queryId"] == "CSAS_O_1"
    log = [json.loads(r.value) for r in store.records("_confluent-ksql-default__command_topic")]
    assert [entry["statement"] for entry in log] == [CREATE_S, "CREATE STREAM O AS SELECT ID, UCASE(V) AS V FROM S;"]
    assert log[1]["streamsProperties"] == {} and log[1]["version"] == 1
    assert server.command_statuses()["stream/`O`/create"]["status"] == "SUCCESS"


def test_a_statement_that_fails_validation_writes_nothing():
    store = InMemoryTopicStore()
    server = _server(store)
    with pytest.raises(StatementError) as failure:
        _run(server, CREATE_S + " CREATE STREAM O AS SELECT NOPE FROM S;")
    assert failure.value.entities == []
    assert store.records("_confluent-ksql-default__command_topic") == []
    assert server.engine.catalog.source("S") is None


def test_replay_rebuilds_sources_skips_bad_commands_and_keeps_terminated_queries_stopped():
    store = InMemoryTopicStore()
    server = _server(store)
    _run(server, CREATE_S)
    _run(server, "CREATE STREAM A AS SELECT * FROM S; CREATE STREAM B AS SELECT * FROM S;")
    _run(server, "TERMINATE CSAS_A_1;")
    store.append("_confluent-ksql-default__command_topic", b'"junk"', b"{not a command", timestamp=0)
    _run(server, "CREATE STREAM C (ID INT KEY) WITH (KAFKA_TOPIC='c', PARTITIONS=1, VALUE_FORMAT='JSON');"
                 " DROP STREAM C DELETE TOPIC;")
    store.create_topic("c", partitions=1)  # written by someone else after the DROP: replay must not delete it
    restarted = _server(store)
    catalog = restarted.engine.catalog
    assert set(catalog.sources) >= {"S", "A", "B"} and "C" not in catalog.sources
    assert set(restarted.engine.runtime.queries) == {"CSAS_B_2"}
    assert store.describe_topic("c") is not None
    entity = _run(restarted, "CREATE STREAM D AS SELECT * FROM S;")
    assert entity[0]["commandSequenceNumber"] == 7 and entity[0]["commandStatus"]["queryId"] == "CSAS_D_7"


# ------------------------------------------------------------------------------------------- the adapter over HTTP


def test_rest_api_over_the_in_memory_engine():
    server = _server(InMemoryTopicStore())
    with TestClient(create_app(server)) as http:
        created = http.post("/ksql", json={"ksql": CREATE_S})
        assert created.status_code == 200 and created.json()[0]["commandId"] == "stream/`S`/create"
        assert http.post("/ksql", json={"ksql": "INSERT INTO S (ID, V) VALUES (1, 'a');"}).json() == []
        pulled = http.post("/query-stream", json={"sql": "SELECT * FROM S;"}).text.splitlines()
        assert json.loads(pulled[0])["columnNames"] == ["ID", "V"] and pulled[1:] == ['[1,"a"]']
        legacy = http.post("/query", json={"ksql": "SELECT * FROM S;"}, headers=LEGACY).json()
        assert legacy[-1] == {"finalMessage": "Query Completed"}
        limited = http.post("/query-stream", json={"sql": "SELECT * FROM S EMIT CHANGES LIMIT 1;"})
        assert limited.text.splitlines()[1:] == ['[1,"a"]']
        zero = http.post("/query", json={"ksql": "SELECT * FROM S EMIT CHANGES LIMIT 0;"}, headers=LEGACY).json()
        assert zero[-1] == {"finalMessage": "Limit Reached"}
        syntax = http.post("/query", json={"ksql": "SELECT * FROM S ORDER BY ID;"})
        assert syntax.status_code == 400 and "\nStatement: SELECT * FROM S ORDER BY ID;" in syntax.json()["message"]
        printed = http.post("/query", json={"ksql": "PRINT 's' FROM BEGINNING LIMIT 1;"}).text.splitlines()
        assert printed[:2] == ["Key format: KAFKA_INT or KAFKA_STRING", "Value format: JSON or KAFKA_STRING"]
        assert printed[2].endswith('key: 1, value: {"V":"a"}, partition: 0')
        assert http.get("/status").json() == {"stream/`S`/create": "SUCCESS"}
        health = http.get("/healthcheck").json()
        assert health["isHealthy"] is True and health["serverState"] == "READY"
        assert http.get("/info").json()["KsqlServerInfo"]["ksqlServiceId"] == "default_"


def test_not_ready_server_answers_50302():
    engine = KsqlEngine(InMemoryTopicStore())
    server = ServerEngine(engine, commands=None)
    with TestClient(create_app(server)) as http:
        reply = http.post("/ksql", json={"ksql": "SHOW STREAMS;"})
    assert reply.status_code == 503 and reply.json()["error_code"] == 50302


def test_cli_starts_and_stops_the_engine_with_kafka_unless_told_otherwise():
    from labkit.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["up"]).no_engine is False
    assert parser.parse_args(["up", "--no-engine"]).no_engine is True
    assert parser.parse_args(["down", "--engine-only"]).engine_only is True
    assert parser.parse_args(["down"]).engine_only is False


def test_engine_process_passes_its_settings_to_the_child(tmp_path):
    from labkit import config
    from labkit.cluster.engine_process import EngineProcess

    settings = config.settings({}).with_overrides(run_dir=tmp_path, ksql_url="http://127.0.0.1:18123",
                                                  ksql_service_id="lesson_")
    process = EngineProcess(settings)
    env = process.environment()
    assert env["LABKIT_KSQL_SERVICE_ID"] == "lesson_" and env["LABKIT_KSQL_URL"] == "http://127.0.0.1:18123"
    assert process.command()[-4:] == ["--port", "18123", "--host", "127.0.0.1"]
