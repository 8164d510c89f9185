"""GROUP BY over streams and tables, HAVING, windows (tumbling, hopping, session) and EMIT FINAL."""
from __future__ import annotations

import pytest

from labkit.engine.errors import EngineError


def test_stream_aggregation_emits_every_update_with_the_latest_timestamp(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT K, COUNT(*) AS C, SUM(V) AS S FROM S GROUP BY K;")
    q.send("s", "a", {"V": 2}, 10)
    q.send("s", "a", {"V": 3}, 5)
    q.send("s", "b", {"V": 1}, 7)
    assert q.output() == [("a", {"C": 1, "S": 2}, 10), ("a", {"C": 2, "S": 5}, 10), ("b", {"C": 1, "S": 1}, 7)]
    assert [t.name for t in q.plan.internal_topics] == ["Aggregate-Aggregate-Materialize-changelog"]


def test_grouping_by_a_value_column_repartitions(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT N, COUNT(*) AS C FROM S GROUP BY N;")
    assert [t.name for t in q.plan.internal_topics] == ["Aggregate-GroupBy-repartition",
                                                       "Aggregate-Aggregate-Materialize-changelog"]
    q.send("s", "a", {"N": "x"}, 1)
    q.send("s", "b", {"N": None}, 2)  # a NULL grouping key excludes the row
    q.send("s", "c", {"N": "x"}, 3)
    assert q.output() == [("x", {"C": 1}, 1), ("x", {"C": 2}, 3)]


def test_table_aggregation_undoes_the_old_row_before_adding_the_new(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT C, COUNT(*) AS N FROM T GROUP BY C;")
    q.send("t", 1, {"C": "red"}, 1)
    q.send("t", 2, {"C": "red"}, 2)
    q.send("t", 1, {"C": "blue"}, 3)
    q.send("t", 2, None, 4)
    assert q.output() == [("red", {"N": 1}, 1), ("red", {"N": 2}, 2), ("red", {"N": 1}, 3), ("blue", {"N": 1}, 3),
                          ("red", {"N": 0}, 4)]


def test_having_deletes_groups_that_stop_matching(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT C, COUNT(*) AS N FROM T GROUP BY C HAVING COUNT(*) > 1;")
    q.send("t", 1, {"C": "red"}, 1)
    q.send("t", 2, {"C": "red"}, 2)
    q.send("t", 2, {"C": "blue"}, 3)
    assert q.output() == [("red", {"N": 2}, 2), ("red", None, 3)]


def test_tumbling_windows_drop_records_later_than_the_grace_period(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT K, COUNT(*) AS C FROM S WINDOW TUMBLING (SIZE 10 SECONDS, "
                   "GRACE PERIOD 1 SECOND) GROUP BY K;")
    assert q.plan.window is not None and q.plan.window.type == "TUMBLING"
    q.send("s", "a", {"V": 1}, 1_000)
    q.send("s", "a", {"V": 1}, 25_000)
    q.send("s", "a", {"V": 1}, 9_000)  # window [0, 10s) closed at 11s, stream time is 25s
    assert q.output() == [("a", {"C": 1}, 1_000, (0, 10_000)), ("a", {"C": 1}, 25_000, (20_000, 30_000))]


def test_hopping_windows_update_every_window_containing_the_record(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT K, COUNT(*) AS C FROM S WINDOW HOPPING (SIZE 10 SECONDS, "
                   "ADVANCE BY 5 SECONDS) GROUP BY K;")
    q.send("s", "a", {"V": 1}, 7_000)
    assert q.output() == [("a", {"C": 1}, 7_000, (0, 10_000)), ("a", {"C": 1}, 7_000, (5_000, 15_000))]


def test_session_windows_merge_and_delete_the_sessions_they_replace(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT K, COUNT(*) AS C FROM S WINDOW SESSION (20 SECONDS) GROUP BY K;")
    q.send("s", "a", {"V": 1}, 0)
    q.send("s", "a", {"V": 1}, 30_000)
    q.send("s", "a", {"V": 1}, 15_000)  # bridges both sessions
    assert q.output() == [
        ("a", {"C": 1}, 0, (0, 0)), ("a", {"C": 1}, 30_000, (30_000, 30_000)),
        ("a", None, 0, (0, 0)), ("a", None, 30_000, (30_000, 30_000)), ("a", {"C": 3}, 30_000, (0, 30_000))]


def test_emit_final_emits_each_window_once_after_it_closes(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT K, COUNT(*) AS C FROM S WINDOW TUMBLING (SIZE 2 MILLISECONDS, "
                   "GRACE PERIOD 1 MILLISECONDS) GROUP BY K EMIT FINAL;",
                   config={"ksql.streams.__emit.interval.ms.kstreams.windowed.aggregation__": 0})
    for timestamp in (0, 1, 2):
        q.send("s", "a", {"V": 1}, timestamp)
    assert q.output() == []
    q.send("s", "a", {"V": 1}, 3)  # stream time 3 = end 2 + grace 1: window [0, 2) is final
    assert q.output() == [("a", {"C": 2}, 1, (0, 2))]
    q.send("s", "a", {"V": 1}, 5)
    assert q.output() == [("a", {"C": 2}, 3, (2, 4))]
    q.send("s", "a", {"V": 1}, 9)  # window [4, 6) is past the store's retention (size + grace) when it closes
    assert q.output() == []


def test_window_bounds_are_selectable_when_aliased(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT K, WINDOWSTART AS WS, WINDOWEND AS WE, COUNT(*) AS C FROM S "
                   "WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY K;")
    q.send("s", "a", {"V": 1}, 1_500)
    assert q.output() == [("a", {"WS": 1_000, "WE": 2_000, "C": 1}, 1_500, (1_000, 2_000))]


@pytest.mark.parametrize("sql, message", [
    ("CREATE TABLE OUT AS SELECT K, N, COUNT(*) FROM S GROUP BY K;",
     "Non-aggregate SELECT expression(s) not part of GROUP BY: N"),
    ("CREATE TABLE OUT AS SELECT K FROM S GROUP BY K;",
     "GROUP BY requires aggregate functions in either the SELECT or HAVING clause."),
    ("CREATE TABLE OUT AS SELECT K, SUM(COUNT(*)) FROM S GROUP BY K;",
     "Aggregate functions can not be nested: SUM(COUNT())"),
    ("CREATE TABLE OUT AS SELECT C, LATEST_BY_OFFSET(C) AS L FROM T GROUP BY C;",
     "The aggregation function LATEST_BY_OFFSET cannot be applied to a table source, only to a stream source."),
    ("CREATE TABLE OUT AS SELECT K, COUNT(*) FROM S WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY K, WINDOWSTART;",
     "Window bounds column WINDOWSTART can only be used in the SELECT clause of windowed aggregations"),
    ("CREATE STREAM OUT AS SELECT * FROM S WINDOW TUMBLING (SIZE 1 SECOND);", "WINDOW clause requires a GROUP BY clause."),
    ("CREATE TABLE OUT AS SELECT K, TOPK(V, ABS(3)) FROM S GROUP BY K;",
     "Parameter 2 passed to function TOPK must be a literal constant, but was expression: 'ABS(3)'"),
])
def test_invalid_aggregations_fail_with_ksqldbs_messages(make_query, sql: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError) as raised:
        make_query(sql)
    assert message in raised.value.message


def test_grouping_keys_must_be_projected(make_query) -> None:  # type: ignore[no-untyped-def]
    from labkit.engine.planner import validate_key_present
    q = make_query("CREATE TABLE OUT AS SELECT COUNT(*) AS C FROM S GROUP BY N;")
    with pytest.raises(EngineError) as raised:
        validate_key_present(q.plan, "OUT")
    assert "must include the grouping expression N in its projection (eg, SELECT N...)." in raised.value.message
