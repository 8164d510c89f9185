"""Restart replay leaves out queries that later commands end (ksqlDB's RestoreCommandsCompactor) and keeps the
DDL of their CREATE ... AS SELECT. In-memory topics and command topic, the in-process runtime."""
from __future__ import annotations

import pytest

from labkit.engine import queries
from labkit.engine.command_topic import Command, CommandTopic, compact_commands
from labkit.engine.engine import KsqlEngine
from labkit.engine.server_adapter import ServerEngine
from labkit.engine.topics import InMemoryTopicStore

CREATE_S = "CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');"


def _server(store: InMemoryTopicStore) -> ServerEngine:
    return ServerEngine(KsqlEngine(store), commands=CommandTopic(store)).start()


def _run(server: ServerEngine, sql: str) -> list[dict]:
    return server.execute(sql, properties={}, variables={})


@pytest.fixture
def started(monkeypatch) -> list[str]:
    """The ids of the queries the engine builds and starts (recorded around queries.start_query)."""
    ids: list[str] = []
    original = queries.start_query

    def recording(engine, query_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        ids.append(query_id)
        return original(engine, query_id, *args, **kwargs)

    monkeypatch.setattr(queries, "start_query", recording)
    return ids


def test_replay_does_not_plan_queries_terminated_later_but_keeps_their_sinks(started) -> None:
    store = InMemoryTopicStore()
    server = _server(store)
    _run(server, CREATE_S)
    _run(server, "CREATE STREAM A AS SELECT * FROM S;")                                  # CSAS_A_1, terminated
    _run(server, "INSERT INTO A SELECT * FROM S;")                                        # INSERTQUERY_2, terminated
    _run(server, "CREATE STREAM B AS SELECT ID, UCASE(V) AS U FROM S;")                   # CSAS_B_3, dropped
    _run(server, "CREATE STREAM C AS SELECT * FROM S;")                                   # CSAS_C_4, runs
    _run(server, "PAUSE INSERTQUERY_2;")
    _run(server, "TERMINATE INSERTQUERY_2; TERMINATE CSAS_A_1; DROP STREAM B;")
    server.close()
    started.clear()
    restarted = _server(store)
    assert started == ["CSAS_C_4"]
    engine = restarted.engine
    assert {"S", "A", "C"} <= set(engine.catalog.sources) and "B" not in engine.catalog.sources
    assert [c.name for c in engine.catalog.source("A").schema.value] == ["V"]
    assert set(engine.catalog.queries) == {"CSAS_C_4"}
    assert restarted.statuses["terminate/CSAS_A_1/execute"]["status"] == "SUCCESS"
    assert all(status["status"] == "SUCCESS" for status in restarted.statuses.values())
    [created] = _run(restarted, "CREATE STREAM D AS SELECT * FROM A;")  # numbering continues after the log
    assert created["commandStatus"]["queryId"] == f"CSAS_D_{restarted.commands.end_offset() - 1}"


def test_create_or_replace_leaves_out_the_replaced_query(started) -> None:
    store = InMemoryTopicStore()
    server = _server(store)
    _run(server, CREATE_S + "CREATE STREAM A AS SELECT * FROM S;")
    _run(server, "CREATE OR REPLACE STREAM A AS SELECT * FROM S WHERE ID > 0;")
    server.close()
    started.clear()
    restarted = _server(store)
    assert started == ["CSAS_A_2"] and set(restarted.engine.catalog.queries) == {"CSAS_A_2"}


def _command(offset: int, sql: str) -> Command:
    return Command(offset, "id", sql, {}, {})


def test_compaction_keeps_terminate_all_and_the_ddl_of_every_query_before_it() -> None:
    log = [_command(0, CREATE_S), _command(1, "CREATE STREAM A AS SELECT * FROM S;"),
           _command(2, "INSERT INTO A WITH (QUERY_ID='mine') SELECT * FROM S;"), _command(3, "TERMINATE ALL;"),
           _command(4, "CREATE STREAM B AS SELECT * FROM S;"), _command(5, "CREATE STREAM IF NOT EXISTS B AS "
                                                                          "SELECT * FROM S;"),
           _command(6, "TERMINATE CSAS_B_5;")]  # IF NOT EXISTS on B started no query: CSAS_B_4 keeps running
    kept, dropped = compact_commands(log)
    assert [(i.command.offset, i.ddl_only) for i in kept] == [(0, False), (1, True), (3, False), (4, False),
                                                              (5, False), (6, False)]
    assert [c.offset for c in dropped] == [2]
