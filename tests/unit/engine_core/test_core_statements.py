"""Statements end to end through KsqlEngine over in-memory topics: entities, data flow, ksqlDB's errors."""
from __future__ import annotations

import json

import pytest

from labkit.engine.engine import KsqlEngine
from labkit.engine.errors import KsqlStatementError
from labkit.engine.topics import InMemoryTopicStore

CREATE_S = "CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');"


@pytest.fixture()
def engine() -> KsqlEngine:
    eng = KsqlEngine(InMemoryTopicStore(), {"auto.offset.reset": "earliest"})
    eng.insert_clock = lambda: 42
    return eng


def values(engine: KsqlEngine, topic: str) -> list[object]:
    engine.run_until_idle()
    store = engine.store
    assert isinstance(store, InMemoryTopicStore)
    return [None if r.value is None else json.loads(r.value) for r in store.records(topic)]


def error_of(engine: KsqlEngine, sql: str) -> KsqlStatementError:
    with pytest.raises(KsqlStatementError) as raised:
        engine.execute(sql)
    return raised.value


def test_create_stream_returns_current_status_and_creates_the_topic(engine: KsqlEngine) -> None:
    [entity] = engine.execute(CREATE_S)
    assert entity["@type"] == "currentStatus"
    assert entity["commandId"] == "stream/`S`/create"
    assert entity["commandStatus"] == {"status": "SUCCESS", "message": "Stream created", "queryId": None}
    assert engine.store.describe_topic("s").partitions == 1


def test_csas_runs_a_query_over_inserted_values(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    [entity] = engine.execute("CREATE STREAM T AS SELECT ID, UCASE(V) AS U FROM S WHERE ID > 1;")
    assert entity["commandStatus"]["message"] == "Created query with ID CSAS_T_1"
    assert engine.execute("INSERT INTO S (ID, V) VALUES (1, 'a'); INSERT INTO S (ID, V) VALUES (2, 'b');") == []
    assert values(engine, "T") == [{"U": "B"}]
    assert engine.store.records("T")[0].timestamp == 42


def test_insert_into_select_merges_a_second_stream(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    engine.execute("CREATE STREAM S2 (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s2', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    engine.execute("CREATE STREAM ALL_S AS SELECT * FROM S;")
    [entity] = engine.execute("INSERT INTO ALL_S SELECT * FROM S2;")
    assert entity["commandStatus"]["queryId"] == "INSERTQUERY_3"
    engine.execute("INSERT INTO S2 VALUES (5, 'from s2');")
    assert values(engine, "ALL_S") == [{"V": "from s2"}]


def test_ctas_over_table_forwards_tombstones(engine: KsqlEngine) -> None:
    engine.execute("CREATE TABLE T (K STRING PRIMARY KEY, V INT) WITH (KAFKA_TOPIC='t', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    engine.execute("CREATE TABLE BIG AS SELECT K, V FROM T WHERE V > 10;")
    engine.execute("INSERT INTO T (K, V) VALUES ('a', 20); INSERT INTO T (K, V) VALUES ('a', 5);")
    assert values(engine, "BIG") == [{"V": 20}, None]


@pytest.mark.parametrize("sql, message", [
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='nope', VALUE_FORMAT='JSON');",
     "Topic 'nope' does not exist. If you want to create a new topic for the stream/table please re-run the "
     "statement providing the required 'PARTITIONS' configuration in the WITH clause"),
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1);",
     "Statement is missing the 'VALUE_FORMAT' property from the WITH clause."),
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='FOO');", "Unknown format: FOO"),
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, FORMAT='JSON', KEY_FORMAT='KAFKA');",
     "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties"),
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON', BOGUS=1);",
     "Invalid config variable(s) in the WITH clause: BOGUS"),
    ("CREATE TABLE X (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "Tables require a PRIMARY KEY. Please define the PRIMARY KEY."),
    ("CREATE STREAM X (ROWTIME INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "'ROWTIME' is a reserved column name. You cannot use it as a name for a column."),
    ("CREATE STREAM X (K BOOLEAN KEY, A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');",
     "Key format does not support schema.\nformat: KAFKA\nschema: Persistence{columns=[`K` BOOLEAN KEY], "
     "features=[]}\nreason: The 'KAFKA' format does not support type 'BOOLEAN'"),
    ("CREATE STREAM X (A INT, B INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON', "
     "WRAP_SINGLE_VALUE=false);", "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"),
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON', TIMESTAMP='B');",
     "The TIMESTAMP column set in the WITH clause does not exist in the schema: 'B'"),
    ("CREATE STREAM X (A INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='DELIMITED', VALUE_DELIMITER='');",
     "Configuration VALUE_DELIMITER is invalid: Delimiter cannot be empty"),
])
def test_create_errors_use_ksqldb_wording(engine: KsqlEngine, sql: str, message: str) -> None:
    engine.store.create_topic("s", partitions=1)
    error = error_of(engine, sql)
    assert message in error.message
    assert error.error_code == 40001 and error.statement_text == sql


def test_duplicate_names_and_if_not_exists(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    assert "Cannot add stream 'S': A stream with the same name already exists" in error_of(engine, CREATE_S).message
    [warning] = engine.execute(CREATE_S.replace("CREATE STREAM S", "CREATE STREAM IF NOT EXISTS S"))
    assert warning["@type"] == "warning_entity"


def test_drop_refuses_sources_others_read_and_terminates_the_creating_query(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    engine.execute("CREATE STREAM T AS SELECT * FROM S;")
    assert error_of(engine, "DROP STREAM S;").message == (
        "Cannot drop S.\nThe following streams and/or tables read from this source: [T].\n"
        "You need to drop them before dropping S.")
    [dropped] = engine.execute("DROP STREAM T DELETE TOPIC;")
    assert dropped["commandStatus"]["message"] == "Source `T` (topic: T) was dropped."
    assert not engine.runtime.queries and engine.store.describe_topic("T") is None
    assert engine.execute("DROP STREAM IF EXISTS T;")[0]["commandStatus"]["message"] == "Source `T` does not exist."
    assert "Stream NOPE does not exist." in error_of(engine, "DROP STREAM NOPE;").message


def test_drop_refuses_sources_insert_queries_use(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    engine.execute("CREATE STREAM T AS SELECT * FROM S;")
    engine.execute("INSERT INTO T SELECT * FROM S;")
    message = error_of(engine, "DROP STREAM T;").message
    assert "The following queries write into this source: [INSERTQUERY_2]." in message
    engine.execute("TERMINATE INSERTQUERY_2;")
    engine.execute("DROP STREAM T;")


def test_insert_values_checks_columns_and_types(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    assert "Cannot insert values into an unknown stream/table: `NOPE`" in error_of(
        engine, "INSERT INTO NOPE VALUES (1, 'a');").message
    assert "Inserting into column `ROWOFFSET` is not allowed." in error_of(
        engine, "INSERT INTO S (ID, ROWOFFSET) VALUES (1, 2);").message
    assert "Expected type INTEGER for field ID but got STRING(x)" in error_of(
        engine, "INSERT INTO S (ID) VALUES ('x');").message
    engine.execute("INSERT INTO S (ROWTIME, ID) VALUES (7, 1);")
    record = engine.store.records("s")[0]
    assert (record.timestamp, json.loads(record.value)) == (7, {"V": None})


def test_source_streams_are_read_only(engine: KsqlEngine) -> None:
    engine.store.create_topic("src", partitions=1)
    engine.execute("CREATE SOURCE STREAM SRC (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='src', VALUE_FORMAT='JSON');")
    assert "Cannot insert values into read-only stream: SRC" in error_of(
        engine, "INSERT INTO SRC (ID) VALUES (1);").message
    assert "Cannot delete topic for read-only source: SRC" in error_of(engine, "DROP STREAM SRC DELETE TOPIC;").message


def test_show_and_describe_entities(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    engine.execute("CREATE STREAM T AS SELECT * FROM S;")
    streams, queries, description = engine.execute("SHOW STREAMS; SHOW QUERIES; DESCRIBE T;")
    assert [s["name"] for s in streams["streams"]] == ["S", "T"]
    assert queries["queries"][0]["id"] == "CSAS_T_1"
    fields = description["sourceDescription"]["fields"]
    assert fields[0] == {"name": "ID", "schema": {"type": "INTEGER", "fields": None, "memberSchema": None},
                         "type": "KEY"}
    assert description["sourceDescription"]["writeQueries"][0]["id"] == "CSAS_T_1"
    assert "Could not find STREAM/TABLE 'NOPE' in the Metastore" in error_of(engine, "DESCRIBE NOPE;").message


def test_set_define_and_variables_apply_to_later_statements(engine: KsqlEngine) -> None:
    session = engine.session()
    engine.execute("DEFINE topic = 's'; SET 'ksql.output.topic.name.prefix' = 'pre_';", session=session)
    engine.execute_text("CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='${topic}', PARTITIONS=1, "
                        "VALUE_FORMAT='JSON');", session)
    engine.execute("CREATE STREAM T AS SELECT * FROM S;", session=session)
    assert engine.catalog.source("T").topic == "pre_T"


def test_request_is_validated_whole_before_anything_runs(engine: KsqlEngine) -> None:
    error = error_of(engine, CREATE_S + " DROP STREAM NOPE;")
    assert error.entities == [] and engine.catalog.source("S") is None
    assert engine.store.describe_topic("s") is None
    entities = engine.execute(CREATE_S + " CREATE STREAM T AS SELECT * FROM S;")
    assert [e["commandId"] for e in entities] == ["stream/`S`/create", "stream/`T`/create"]


def test_without_validation_a_failure_reports_the_entities_of_earlier_statements(engine: KsqlEngine) -> None:
    with pytest.raises(KsqlStatementError) as raised:
        engine.execute(CREATE_S + " DROP STREAM NOPE;", validate=False)
    assert [e["commandId"] for e in raised.value.entities] == ["stream/`S`/create"]


def test_variables_defined_earlier_in_a_request_apply(engine: KsqlEngine) -> None:
    engine.execute("DEFINE name = 'S'; " + CREATE_S.replace("STREAM S ", "STREAM ${name} "))
    assert engine.catalog.source("S") is not None


def test_processing_log_stream_is_created_when_configured() -> None:
    engine = KsqlEngine(InMemoryTopicStore(), {"ksql.logging.processing.topic.auto.create": "true",
                                               "ksql.logging.processing.stream.auto.create": "true",
                                               "auto.offset.reset": "earliest"})
    assert engine.catalog.source("KSQL_PROCESSING_LOG").topic == "default_ksql_processing_log"
    engine.execute(CREATE_S)
    engine.execute("CREATE STREAM T AS SELECT ID, V FROM S;")
    engine.store.append("s", b"\x00\x00\x00\x01", b"not json", timestamp=0)
    engine.run_until_idle()
    [entry] = engine.store.records("default_ksql_processing_log")
    message = json.loads(entry.value)["MESSAGE"]
    assert message["TYPE"] == 0 and message["DESERIALIZATIONERROR"]["topic"] == "s"


def test_parse_errors_carry_ksqldb_text(engine: KsqlEngine) -> None:
    error = error_of(engine, "CREATE STREAM;")
    assert error.message.startswith("line 1:14: Syntax Error")


def test_select_is_refused_on_the_ksql_endpoint(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S)
    error = error_of(engine, "SELECT * FROM S EMIT CHANGES;")
    assert error.error_code == 40002 and "should be issued to the websocket endpoint '/query'" in error.message


def test_stream_pull_query_reads_everything_then_completes(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S + " INSERT INTO S (ID, V) VALUES (1, 'a'); INSERT INTO S (ID, V) VALUES (2, 'b');")
    query = engine.query("SELECT ID, UCASE(V) FROM S WHERE ID > 1;")
    assert query.column_names == ("ID", "KSQL_COL_0") and query.column_type_names == ("INTEGER", "STRING")
    assert query.poll() == [[2, "B"]] and query.finished
    assert not engine.runtime.queries


def test_push_query_sees_new_rows_until_its_limit(engine: KsqlEngine) -> None:
    engine.execute(CREATE_S + " INSERT INTO S (ID, V) VALUES (1, 'old');")
    query = engine.query("SELECT * FROM S EMIT CHANGES LIMIT 2;", properties={"auto.offset.reset": "latest"})
    assert query.poll() == [] and not query.finished
    engine.execute("INSERT INTO S (ID, V) VALUES (2, 'new'); INSERT INTO S (ID, V) VALUES (3, 'newer');")
    assert query.poll() == [[2, "new"], [3, "newer"]]
    assert query.limit_reached and query.finished


def test_query_endpoint_refuses_other_statements(engine: KsqlEngine) -> None:
    with pytest.raises(KsqlStatementError, match="Neither a query nor a print statement"):
        engine.query(CREATE_S)
