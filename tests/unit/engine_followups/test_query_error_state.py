"""SHOW QUERIES, DESCRIBE EXTENDED and EXPLAIN report a failed query as ksqlDB 0.29 does: statusCount
{"ERROR": 1}, state ERROR (and PAUSED only in statusCount: RunningQuery's state is ERROR or RUNNING)."""
from __future__ import annotations

import pytest

from labkit.engine.engine import KsqlEngine
from labkit.engine.errors import KsqlStatementError
from labkit.engine.topics import InMemoryTopicStore

THROWING = {"ksql.timestamp.throw.on.invalid": "true", "auto.offset.reset": "earliest"}


def _engine_with_failed_query() -> KsqlEngine:
    engine = KsqlEngine(InMemoryTopicStore())
    engine.execute("CREATE STREAM S (ID INT KEY, TS BIGINT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON',"
                   " TIMESTAMP='TS');")
    engine.execute("CREATE STREAM BAD AS SELECT * FROM S;", properties=THROWING)
    engine.execute("CREATE STREAM GOOD AS SELECT * FROM S;")
    engine.execute("INSERT INTO S (ID, TS) VALUES (1, NULL);")
    engine.run_until_idle()
    return engine


def _listed(engine: KsqlEngine) -> dict[str, dict]:
    [entity] = engine.execute("SHOW QUERIES;")
    return {q["id"]: q for q in entity["queries"]}


def test_show_queries_reports_a_failed_query_as_error_with_its_status_count() -> None:
    listed = _listed(_engine_with_failed_query())
    assert (listed["CSAS_BAD_1"]["state"], listed["CSAS_BAD_1"]["statusCount"]) == ("ERROR", {"ERROR": 1})
    assert (listed["CSAS_GOOD_2"]["state"], listed["CSAS_GOOD_2"]["statusCount"]) == ("RUNNING", {"RUNNING": 1})


def test_explain_and_describe_extended_report_the_error() -> None:
    engine = _engine_with_failed_query()
    [explained] = engine.execute("EXPLAIN CSAS_BAD_1;")
    description = explained["queryDescription"]
    assert description["state"] == "ERROR"
    assert [e["type"] for e in description["queryErrors"]] == ["UNKNOWN"]
    assert "TimestampExtractor" in description["queryErrors"][0]["errorMessage"]
    [described] = engine.execute("DESCRIBE S EXTENDED;")
    readers = {q["id"]: q["statusCount"] for q in described["sourceDescription"]["readQueries"]}
    assert readers == {"CSAS_BAD_1": {"ERROR": 1}, "CSAS_GOOD_2": {"RUNNING": 1}}


def test_a_paused_query_counts_as_paused_and_its_state_stays_running() -> None:
    engine = _engine_with_failed_query()
    engine.execute("PAUSE CSAS_GOOD_2;")
    listed = _listed(engine)
    assert (listed["CSAS_GOOD_2"]["state"], listed["CSAS_GOOD_2"]["statusCount"]) == ("RUNNING", {"PAUSED": 1})


def test_explain_of_an_unknown_query_id_words_the_error_as_0_29() -> None:
    with pytest.raises(KsqlStatementError) as raised:
        KsqlEngine(InMemoryTopicStore()).execute("EXPLAIN CSAS_NOPE_1;")
    assert raised.value.message == ("Query with id:CSAS_NOPE_1 does not exist, use SHOW QUERIES to view the full set "
                                    "of queries.")
