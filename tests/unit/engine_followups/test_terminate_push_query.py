"""TERMINATE <push query id> closes a running push query (ksqlDB's TerminateQueryExecutor); TERMINATE ALL
ends persistent queries only. In-memory topics, the in-process runtime, the REST adapter's command log."""
from __future__ import annotations

import pytest

from labkit.engine.command_topic import CommandTopic
from labkit.engine.engine import KsqlEngine
from labkit.engine.errors import KsqlStatementError
from labkit.engine.server_adapter import ServerEngine
from labkit.engine.topics import InMemoryTopicStore
from labkit.errors import KsqlError

CREATE_S = ("CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');")


def _server() -> tuple[ServerEngine, InMemoryTopicStore]:
    store = InMemoryTopicStore()
    server = ServerEngine(KsqlEngine(store), commands=CommandTopic(store)).start()
    server.execute(CREATE_S + "CREATE STREAM O AS SELECT * FROM S;", properties={}, variables={})
    return server, store


def _push_ids(server: ServerEngine) -> list[str]:
    [listed] = server.execute("SHOW QUERIES;", properties={}, variables={})
    return [q["id"] for q in listed["queries"] if q["queryType"] == "PUSH"]


def test_terminate_push_query_closes_it_and_answers_terminate_query_entity() -> None:
    server, store = _server()
    stream = server.open_query("SELECT * FROM S EMIT CHANGES;", properties={}, variables={})
    query_id = stream.header.query_id
    assert _push_ids(server) == [query_id]
    commands_before = server.commands.end_offset()
    sql = f"TERMINATE {query_id.lower()};"
    [entity] = server.execute(sql, properties={}, variables={})
    assert entity == {"@type": "terminate_query", "statementText": sql, "queryId": query_id.upper(),
                      "wasTerminated": True, "warnings": []}
    # unquoted ids are upper-cased by the parser, as ksqlDB's; ids compare case-insensitively
    assert stream.next_rows(1.0) is None  # the HTTP stream ends
    assert _push_ids(server) == []
    assert query_id not in server.engine.runtime.queries
    assert server.commands.end_offset() == commands_before  # not a command: nothing to replay


def test_terminate_all_ends_persistent_queries_and_leaves_push_queries_running() -> None:
    server, _ = _server()
    stream = server.open_query("SELECT * FROM S EMIT CHANGES;", properties={}, variables={})
    [entity] = server.execute("TERMINATE ALL;", properties={}, variables={})
    assert entity["commandStatus"]["message"] == "Query terminated."
    assert "CSAS_O_1" not in server.engine.catalog.queries
    assert _push_ids(server) == [stream.header.query_id]
    server.execute("INSERT INTO S (ID, V) VALUES (1, 'a');", properties={}, variables={})
    assert stream.next_rows(1.0) == [[1, "a"]]


def test_terminate_unknown_transient_id_fails_as_ksqldb_does() -> None:
    server, _ = _server()
    with pytest.raises(KsqlError) as raised:
        server.execute("TERMINATE transient_S_42;", properties={}, variables={})
    assert not isinstance(raised.value, KsqlStatementError)  # a generic_error, as KsqlException
    assert (raised.value.error_code, raised.value.message) == (
        40000, "Failed to terminate query with query ID: 'TRANSIENT_S_42'")


def test_terminate_unknown_non_transient_id_is_unknown_query_id() -> None:
    engine = KsqlEngine(InMemoryTopicStore())
    engine.execute(CREATE_S)
    with pytest.raises(KsqlStatementError, match="Unknown queryId: CSAS_NOPE_9"):
        engine.execute("TERMINATE CSAS_NOPE_9;")
