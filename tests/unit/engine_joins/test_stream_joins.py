"""Stream-stream and stream-table joins, fed record by record (Kafka Streams 3.5 semantics)."""
from __future__ import annotations


def test_inner_join_emits_a_row_per_match_within_the_window(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT L.ID, A, B FROM L JOIN R WITHIN 10 SECONDS ON L.ID = R.ID;")
    q.send("l", 1, {"A": "a"}, 0)
    q.send("r", 1, {"B": "b"}, 5_000)
    q.send("r", 1, {"B": "late"}, 20_000)
    assert q.output() == [(1, {"A": "a", "B": "b"}, 5_000)]


def test_within_before_and_after_bound_each_side(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT L.ID, A, B FROM L JOIN R WITHIN (1 SECOND, 5 SECONDS) ON L.ID = R.ID;")
    q.send("l", 1, {"A": "a"}, 10_000)
    q.send("r", 1, {"B": "too early"}, 8_000)
    q.send("r", 1, {"B": "after"}, 14_000)
    assert q.output() == [(1, {"A": "a", "B": "after"}, 14_000)]


def test_left_join_without_grace_emits_null_padded_row_immediately(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT L.ID, A, B FROM L LEFT JOIN R WITHIN 10 SECONDS ON L.ID = R.ID;")
    q.send("l", 1, {"A": "a"}, 0)
    q.send("r", 1, {"B": "b"}, 1_000)
    assert q.output() == [(1, {"A": "a", "B": None}, 0), (1, {"A": "a", "B": "b"}, 1_000)]


def test_left_join_with_grace_emits_null_padded_row_after_window_closes(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT L.ID, A, B FROM L LEFT JOIN R WITHIN 1 SECOND GRACE PERIOD 1 SECOND "
                   "ON L.ID = R.ID;")
    q.send("l", 1, {"A": "unmatched"}, 0)
    q.send("l", 2, {"A": "matched"}, 100)
    q.send("r", 2, {"B": "b"}, 200)
    assert q.output() == [(2, {"A": "matched", "B": "b"}, 200)]
    q.send("l", 3, {"A": "later"}, 5_000)  # stream time passes 0 + 1s + 1s: the window of key 1 has closed
    assert q.output() == [(1, {"A": "unmatched", "B": None}, 0)]


def test_full_outer_join_keys_by_the_synthetic_rowkey(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT ROWKEY AS K, A, B FROM L FULL OUTER JOIN R WITHIN 1 SECOND "
                   "ON L.ID = R.ID;")
    assert [c.name for c in q.plan.schema.key] == ["K"]
    q.send("r", 7, {"B": "right only"}, 0)
    assert q.output() == [(7, {"A": None, "B": "right only"}, 0)]


def test_join_on_a_value_column_repartitions_through_an_internal_topic(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT A, L.ID, B FROM L JOIN R WITHIN 1 SECOND ON L.A = R.B;")
    assert [t.name for t in q.plan.internal_topics if t.kind == "repartition"] == [
        "Join-left-repartition", "Join-right-repartition"]
    assert [c.name for c in q.plan.schema.key] == ["A"]  # the key takes its alias in the projection
    q.send("l", 1, {"A": "x"}, 0)
    q.send("r", 2, {"B": "x"}, 10)
    assert q.output() == [("x", {"L_ID": 1, "B": "x"}, 10)]


def test_stream_stream_join_stores_are_named_as_kafka_streams_names_them(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT L.ID, A, B FROM L JOIN R WITHIN 1 SECOND ON L.ID = R.ID;")
    assert [t.name for t in q.plan.internal_topics] == ["KSTREAM-JOINTHIS-0000000008-store-changelog",
                                                       "KSTREAM-JOINOTHER-0000000009-store-changelog"]


def test_stream_table_join_only_stream_records_trigger_output(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT L.ID, A, C FROM L LEFT JOIN T ON L.ID = T.ID;")
    q.send("l", 1, {"A": "before"}, 0)
    q.send("t", 1, {"C": "c1"}, 10)
    q.send("l", 1, {"A": "after"}, 20)
    q.send("t", 1, None, 30)
    q.send("l", 1, {"A": "deleted"}, 40)
    assert q.output() == [(1, {"A": "before", "C": None}, 0), (1, {"A": "after", "C": "c1"}, 20),
                          (1, {"A": "deleted", "C": None}, 40)]


def test_stream_table_inner_join_drops_unmatched_stream_records(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE STREAM OUT AS SELECT L.ID, A, C FROM L JOIN T ON L.ID = T.ID;")
    q.send("l", 1, {"A": "no table row"}, 0)
    q.send("l", None, {"A": "null key"}, 0)
    assert q.output() == []


def test_missing_join_key_in_projection_names_the_viable_columns(make_query) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from labkit.engine.errors import EngineError
    from labkit.engine.planner import validate_key_present
    q = make_query("CREATE STREAM OUT AS SELECT A, B FROM L JOIN R WITHIN 1 SECOND ON L.ID = R.ID;")
    with pytest.raises(EngineError) as raised:
        validate_key_present(q.plan, "OUT")
    assert "must include the join expressions L.ID or R.ID in its projection (eg, SELECT L.ID...)" \
        in raised.value.message
