"""Table-table joins (primary key and foreign key): either side triggers; deletes propagate."""
from __future__ import annotations

import pytest

from labkit.engine.errors import EngineError
from labkit.engine.types import BIGINT, INTEGER, STRING

from conftest import source  # type: ignore[import-not-found]


def test_inner_join_emits_when_both_sides_exist_and_deletes_on_tombstones(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT T.ID, C, D FROM T JOIN U ON T.ID = U.ID;")
    q.send("t", 1, {"C": "c"}, 0)
    q.send("u", 1, {"D": "d"}, 10)
    q.send("u", 1, None, 20)
    assert q.output() == [(1, {"C": "c", "D": "d"}, 10), (1, None, 20)]


def test_left_join_pads_missing_right_rows_and_updates_when_they_arrive(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT T.ID, C, D FROM T LEFT JOIN U ON T.ID = U.ID;")
    q.send("t", 1, {"C": "c"}, 0)
    q.send("u", 1, {"D": "d"}, 10)
    q.send("u", 1, None, 20)
    assert q.output() == [(1, {"C": "c", "D": None}, 0), (1, {"C": "c", "D": "d"}, 10),
                          (1, {"C": "c", "D": None}, 20)]


def test_right_join_runs_as_the_right_side_left_join(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT U.ID, C, D FROM T RIGHT JOIN U ON T.ID = U.ID;")
    q.send("u", 2, {"D": "d"}, 5)
    q.send("t", 3, {"C": "no right row"}, 6)
    assert q.output() == [(2, {"C": None, "D": "d"}, 5)]


def test_join_result_timestamp_is_the_later_of_the_two_rows(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT T.ID, C, D FROM T JOIN U ON T.ID = U.ID;")
    q.send("u", 1, {"D": "d"}, 100)
    q.send("t", 1, {"C": "c"}, 50)
    assert q.output() == [(1, {"C": "c", "D": "d"}, 100)]


def test_filter_after_a_table_join_forwards_no_tombstone_for_rows_that_never_passed(make_query) -> None:  # type: ignore[no-untyped-def]
    q = make_query("CREATE TABLE OUT AS SELECT T.ID, C, D FROM T JOIN U ON T.ID = U.ID WHERE D = 'yes';")
    q.send("t", 1, {"C": "c"}, 0)
    q.send("u", 1, {"D": "no"}, 1)
    q.send("u", 1, {"D": "yes"}, 2)
    q.send("u", 1, {"D": "no"}, 3)
    assert q.output() == [(1, {"C": "c", "D": "yes"}, 2), (1, None, 3)]


@pytest.mark.parametrize("sql, message", [
    ("CREATE STREAM OUT AS SELECT * FROM T JOIN L ON T.ID = L.ID;",
     "Invalid join order: table-stream joins are not supported; only stream-table joins. Got T [INNER] JOIN L."),
    ("CREATE STREAM OUT AS SELECT * FROM L FULL OUTER JOIN T ON L.ID = T.ID;",
     "Invalid join type: full-outer join not supported for stream-table join. Got L [FULL] OUTER JOIN T."),
    ("CREATE TABLE OUT AS SELECT * FROM T JOIN U ON T.ID = U.D;",
     "Invalid join condition: table-table joins require to join on the primary key of the right input table. "
     "Got T.ID = U.D."),
    ("CREATE STREAM OUT AS SELECT * FROM L JOIN R ON L.ID = R.ID;",
     "Stream-Stream joins must have a WITHIN clause specified."),
    ("CREATE STREAM OUT AS SELECT * FROM L JOIN T WITHIN 1 SECOND ON L.ID = T.ID;",
     "A window definition was provided for a Stream-Table join. These joins are not windowed."),
    ("CREATE STREAM OUT AS SELECT * FROM L RIGHT JOIN T ON L.ID = T.ID;",
     "Invalid join type encountered: RIGHT [OUTER] JOIN"),
    ("CREATE TABLE OUT AS SELECT * FROM T JOIN U WITHIN 1 SECOND ON T.ID = U.ID;",
     "A window definition was provided for a Table-Table join. These joins are not windowed."),
])
def test_invalid_joins_fail_with_ksqldbs_messages(make_query, sql: str, message: str) -> None:  # type: ignore[no-untyped-def]
    from labkit.engine.planner import validate_key_present
    with pytest.raises(EngineError) as raised:
        q = make_query(sql)
        validate_key_present(q.plan, "OUT")
    assert message in raised.value.message


def test_foreign_key_join_re_emits_every_left_row_of_a_changed_right_row(make_query) -> None:  # type: ignore[no-untyped-def]
    orders = source("O", "TABLE", ("OID", INTEGER), [("CUST", BIGINT), ("ITEM", STRING)])
    customers = source("C", "TABLE", ("CID", BIGINT), [("NAME", STRING)])
    q = make_query("CREATE TABLE OUT AS SELECT OID, ITEM, NAME FROM O JOIN C ON CUST = CID;",
                   sources=[orders, customers])
    assert [t.kind for t in q.plan.internal_topics].count("repartition") == 0
    q.send("c", 7, {"NAME": "ann"}, 1, long_key=True)
    q.send("o", 1, {"CUST": 7, "ITEM": "tea"}, 2)
    q.send("o", 2, {"CUST": 7, "ITEM": "cake"}, 3)
    q.send("c", 7, {"NAME": "anne"}, 4, long_key=True)
    q.send("c", 7, None, 5, long_key=True)
    assert q.output() == [(1, {"ITEM": "tea", "NAME": "ann"}, 2), (2, {"ITEM": "cake", "NAME": "ann"}, 3),
                          (1, {"ITEM": "tea", "NAME": "anne"}, 4), (2, {"ITEM": "cake", "NAME": "anne"}, 4),
                          (1, None, 5), (2, None, 5)]
