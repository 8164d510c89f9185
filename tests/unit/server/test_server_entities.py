"""The JSON shapes of labkit.server.entities against ksqlDB 0.29's (NOTES.md §1, ConsoleTest approved files)."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from labkit.server import entities
from labkit.server.protocol import QUERY_ENDPOINT_MESSAGE, NotAQueryError, QueryHeader, StatementError, Tombstone


def test_current_status_has_ksqldb_keys_in_order():
    entity = entities.current_status("CREATE STREAM S (ID INT KEY, V STRING) WITH (...);", "stream/`S`/create",
                                     "Stream created", command_sequence_number=4)
    assert json.loads(entities.dumps(entity)) == {
        "@type": "currentStatus", "statementText": "CREATE STREAM S (ID INT KEY, V STRING) WITH (...);",
        "commandId": "stream/`S`/create",
        "commandStatus": {"status": "SUCCESS", "message": "Stream created", "queryId": None},
        "commandSequenceNumber": 4, "warnings": []}
    assert list(entity) == ["@type", "statementText", "commandId", "commandStatus", "commandSequenceNumber",
                            "warnings"]


def test_current_status_of_csas_carries_query_id_and_warnings():
    entity = entities.current_status("CREATE STREAM OUT AS SELECT * FROM S;", "stream/`OUT`/create",
                                     "Created query with ID CSAS_OUT_7", query_id="CSAS_OUT_7",
                                     command_sequence_number=7, warnings=["careful"])
    assert entity["commandStatus"] == {"status": "SUCCESS", "message": "Created query with ID CSAS_OUT_7",
                                       "queryId": "CSAS_OUT_7"}
    assert entity["warnings"] == [{"message": "careful"}]


def test_streams_list_uses_key_and_value_format_not_format():
    entity = entities.streams_list("SHOW STREAMS;", [entities.source_info("PAGEVIEWS", "pageviews", "KAFKA", "JSON")])
    assert entity == {"@type": "streams", "statementText": "SHOW STREAMS;", "streams": [
        {"type": "STREAM", "name": "PAGEVIEWS", "topic": "pageviews", "keyFormat": "KAFKA", "valueFormat": "JSON",
         "isWindowed": False}], "warnings": []}


def test_tables_list_marks_type_table():
    table = entities.source_info("T", "t", "KAFKA", "JSON", kind="TABLE", is_windowed=True)
    assert entities.tables_list("SHOW TABLES;", [table])["tables"] == [table]
    assert table["type"] == "TABLE" and table["isWindowed"] is True


def test_queries_list_matches_console_test_sample():
    query = entities.running_query("select * from t1 emit changes", ["Test"], ["Test topic"], "0",
                                   query_type="PUSH", state="ERROR", status_count={"RUNNING": 1, "ERROR": 2})
    assert entities.queries_list("e", [query]) == {"@type": "queries", "statementText": "e", "queries": [{
        "queryString": "select * from t1 emit changes", "sinks": ["Test"], "sinkKafkaTopics": ["Test topic"],
        "id": "0", "statusCount": {"RUNNING": 1, "ERROR": 2}, "queryType": "PUSH", "state": "ERROR"}],
        "warnings": []}


def test_properties_list_is_a_list_with_string_values():
    entity = entities.properties_list("SHOW PROPERTIES;", [
        entities.property_entry("ksql.streams.auto.offset.reset", "earliest", editable=True, level="QUERY"),
        entities.property_entry("k1", 1)])
    assert entity["properties"] == [
        {"name": "ksql.streams.auto.offset.reset", "scope": "KSQL", "value": "earliest", "editable": True,
         "level": "QUERY"},
        {"name": "k1", "scope": "KSQL", "value": "1", "editable": False, "level": "SERVER"}]
    assert entity["overwrittenProperties"] == [] and entity["defaultProperties"] == []


def test_kafka_topics_lists_replicas_per_partition():
    assert entities.kafka_topics("SHOW TOPICS;", [entities.topic_info("pageviews", [1, 1])]) == {
        "@type": "kafka_topics", "statementText": "SHOW TOPICS;",
        "topics": [{"name": "pageviews", "replicaInfo": [1, 1]}], "warnings": []}


def test_source_description_marks_only_key_fields_and_nests_schemas():
    fields = [
        entities.field_info("ID", entities.schema_info("INTEGER"), "KEY"),
        entities.field_info("TAGS", entities.schema_info("ARRAY", member_schema=entities.schema_info("STRING"))),
        entities.field_info("PRICE", entities.schema_info("DECIMAL", parameters={"precision": 4, "scale": 2})),
        entities.field_info("ADDR", entities.schema_info("STRUCT", fields=[
            entities.field_info("CITY", entities.schema_info("STRING"))])),
    ]
    description = entities.source_description("S", kind="STREAM", fields=fields, topic="s", key_format="KAFKA",
                                              value_format="JSON", statement="CREATE STREAM S (...);")
    entity = entities.source_description_entity("DESCRIBE S;", description)
    body = entity["sourceDescription"]
    assert body["fields"][0] == {"name": "ID", "schema": {"type": "INTEGER", "fields": None, "memberSchema": None},
                                 "type": "KEY"}
    assert "type" not in body["fields"][1]
    assert body["fields"][1]["schema"]["memberSchema"] == {"type": "STRING", "fields": None, "memberSchema": None}
    assert body["fields"][2]["schema"]["parameters"] == {"precision": 4, "scale": 2}
    assert body["fields"][3]["schema"]["fields"][0]["name"] == "CITY"
    assert list(body) == ["name", "windowType", "readQueries", "writeQueries", "fields", "type", "timestamp",
                          "statistics", "errorStats", "extended", "keyFormat", "valueFormat", "topic", "partitions",
                          "replication", "statement", "queryOffsetSummaries", "sourceConstraints",
                          "clusterStatistics", "clusterErrorStats"]
    assert (body["windowType"], body["timestamp"], body["statistics"]) == (None, "", "")


def test_describe_function_matches_console_test_key_order():
    entity = entities.describe_function("DESCRIBE FUNCTION foo;", "FOO", description="d", author="Andy",
                                        version="v1.1.0", path="some.jar", functions=[entities.function_info(
                                            [entities.argument_info("arg1", "INT", "a", True)], "LONG", "f")])
    assert list(entity) == ["@type", "statementText", "name", "description", "author", "version", "path",
                            "functions", "type", "warnings"]
    assert entity["functions"][0] == {"arguments": [{"name": "arg1", "type": "INT", "description": "a",
                                                     "isVariadic": True}],
                                      "returnType": "LONG", "description": "f", "argumentTypes": ["INT"]}


def test_small_entities():
    assert entities.warning_entity("CREATE STREAM IF NOT EXISTS S ...;", "Cannot add stream `S`: exists.") == {
        "@type": "warning_entity", "statementText": "CREATE STREAM IF NOT EXISTS S ...;",
        "message": "Cannot add stream `S`: exists.", "warnings": []}
    assert entities.terminate_query("TERMINATE transient_X_1;", "transient_X_1") == {
        "@type": "terminate_query", "statementText": "TERMINATE transient_X_1;", "queryId": "transient_X_1",
        "wasTerminated": True, "warnings": []}
    assert entities.function_names("SHOW FUNCTIONS;", [entities.simple_function_info("ABS", "SCALAR", "MATHEMATICAL")]
                                   )["functions"] == [{"name": "ABS", "type": "SCALAR", "category": "MATHEMATICAL"}]
    assert entities.type_list("SHOW TYPES;", {"ADDRESS": entities.schema_info("STRING")})["types"] == {
        "ADDRESS": {"type": "STRING", "fields": None, "memberSchema": None}}
    assert entities.variables_list("SHOW VARIABLES;", {"x": 1})["variables"] == [{"name": "x", "value": "1"}]
    assert entities.entity_type(entities.kafka_topics("SHOW TOPICS;", [])) == "kafka_topics"


def test_error_envelopes_and_reading_them_back():
    generic = entities.generic_error(40000, "Invalid JSON in request: x")
    statement = entities.statement_error(40001, "bad", "DESCRIBE foo;")
    assert generic == {"@type": "generic_error", "error_code": 40000, "message": "Invalid JSON in request: x"}
    assert statement == {"@type": "statement_error", "error_code": 40001, "message": "bad",
                         "statementText": "DESCRIBE foo;", "entities": []}
    assert "stackTrace" not in statement
    read = entities.read_error(statement)
    assert (read.error_code, read.message, read.error_type, read.statement_text) == (
        40001, "bad", "statement_error", "DESCRIBE foo;")
    assert entities.read_error({"error_code": "x", "message": "m"}) is None
    assert entities.read_error([1, 2]) is None
    assert entities.read_error(entities.insert_error(3, 40000, "Invalid JSON in inserts stream")).error_code == 40000


@pytest.mark.parametrize("code, status", [(40001, 400), (40400, 404), (41700, 417), (50301, 503), (1, 500),
                                          (70000, 500)])
def test_status_for_error_code(code, status):
    assert entities.status_for(code) == status


def test_streaming_shapes():
    assert entities.query_header("q", ["A"], ["INTEGER"]) == {"queryId": "q", "columnNames": ["A"],
                                                              "columnTypes": ["INTEGER"]}
    assert entities.legacy_schema(["ID", "COUNT"], ["STRING", "BIGINT"], ["ID"]) == "`ID` STRING KEY, `COUNT` BIGINT"
    assert entities.legacy_schema(["a`b"], ["INTEGER"]) == "`a``b` INTEGER"
    assert entities.streamed_row([None, "k"], tombstone=True) == {"row": {"columns": [None, "k"], "tombstone": True}}
    assert entities.streamed_row([1]) == {"row": {"columns": [1]}}
    assert entities.insert_ack(0) == {"seq": 0, "status": "ok"}
    assert entities.insert_error(2, 40000, "Invalid JSON in inserts stream") == {
        "@type": "InsertError", "error_code": 40000, "message": "Invalid JSON in inserts stream",
        "status": "error", "seq": 2}


def test_server_info_and_health_check():
    assert entities.server_info("0.29.0", "c1", "default_", "RUNNING") == {"KsqlServerInfo": {
        "version": "0.29.0", "kafkaClusterId": "c1", "ksqlServiceId": "default_", "serverStatus": "RUNNING"}}
    assert entities.health_check(False, {"kafka": False}, "READY") == {
        "isHealthy": False, "details": {"kafka": {"isHealthy": False}}, "serverState": "READY"}


def test_dumps_is_compact_keeps_unicode_and_writes_decimals_plainly():
    assert entities.dumps({"a": [1, 2.0, "ü"]}) == '{"a":[1,2.0,"ü"]}'
    assert entities.dumps([Decimal("1.50"), Decimal("1E+3"), {"d": Decimal("-0.001")}]) == '[1.50,1000,{"d":-0.001}]'
    assert entities.dumps([float("nan"), float("inf"), float("-inf")]) == '["NaN","Infinity","-Infinity"]'


def test_protocol_records_and_errors():
    header = QueryHeader("q", ["A", "B"], ["INTEGER", "STRING"], is_pull=True, key_columns=["A"])
    assert header.column_names == ("A", "B") and header.key_columns == ("A",)
    with pytest.raises(ValueError):
        QueryHeader("q", ["A"], [])
    assert Tombstone([None, "k"]).columns == (None, "k")
    error = StatementError.query_endpoint("SELECT 1;")
    assert (error.error_code, error.message, error.statement_text, error.entities) == (
        40002, QUERY_ENDPOINT_MESSAGE, "SELECT 1;", [])
    assert QUERY_ENDPOINT_MESSAGE.splitlines() == [
        "The following statement types should be issued to the websocket endpoint '/query':", "\t* PRINT", "\t* SELECT"]
    not_query = NotAQueryError("SHOW STREAMS;")
    assert (not_query.error_code, not_query.message) == (40001, "Neither a query nor a print statement")


def test_fake_engine_implements_the_engine_protocol_signatures():
    import inspect

    from ksql_fake_engine import FakeEngine, FakePrint, FakeQuery, FakeSink

    from labkit.server import protocol

    def public_methods(cls):
        return {name: inspect.signature(member) for name, member in vars(cls).items()
                if callable(member) and not name.startswith("_")}

    for spec, implementation in [(protocol.Engine, FakeEngine), (protocol.PrintStream, FakePrint),
                                 (protocol.InsertSink, FakeSink)]:
        for name, signature in public_methods(spec).items():
            actual = inspect.signature(getattr(implementation, name))
            expected = [(p.name, p.kind) for p in signature.parameters.values()]
            assert [(p.name, p.kind) for p in actual.parameters.values()] == expected, name
    assert set(public_methods(protocol.Engine)) == {"execute", "open_query", "open_inserts", "info", "health",
                                                    "command_statuses"}
    query = FakeQuery(QueryHeader("q", ["A"], ["INTEGER"]), [[1]])
    assert isinstance(query, protocol.QueryStream) and not isinstance(query, protocol.PrintStream)
    assert isinstance(FakePrint([]), protocol.PrintStream)


def test_server_public_names_are_pinned():
    import labkit.server

    assert sorted(labkit.server.__all__) == sorted([
        "BackgroundServer", "DEFAULT_MAX_BODY_BYTES", "Engine", "HealthStatus", "InsertSink", "NotAQueryError",
        "PrintStream", "QueryHeader", "QueryStream", "ServerInfo", "StatementError", "Tombstone", "create_app",
        "serve"])
    assert all(hasattr(labkit.server, name) for name in labkit.server.__all__)
    assert all(hasattr(entities, name) for name in entities.__all__)
