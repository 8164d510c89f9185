"""State stores (indexes survive a changelog restore), internal topic names, and pull queries."""
from __future__ import annotations

import pytest

from labkit.conformance.driver import TestRecord
from labkit.engine.changelog import decode_state, encode_state
from labkit.engine.errors import KsqlStatementError
from labkit.engine.state import StateStores
from labkit.engine.state_stores import JoinWindowStore, TableStore, WindowStore, freeze, thaw
from labkit.engine.testing import make_driver


def test_join_window_store_fetches_by_key_and_time_and_expires_by_retention() -> None:
    store = JoinWindowStore("s")
    store.retention = 100
    key = ((1,), None)
    store.add(key, 10, ["a"])
    store.add(key, 50, ["b"])
    assert [t for t, _ in store.fetch(key, 0, 60)] == [10, 50]
    store.add(((2,), None), 200, ["c"])  # stream time 200: records at or before 100 are gone
    assert list(store.fetch(key, 0, 300)) == []


def test_restoring_a_store_from_its_changelog_rebuilds_its_index() -> None:
    changes: list[tuple[object, object]] = []
    original = WindowStore("agg")
    original.add_listener(lambda name, key, value: changes.append((key, value)))
    original.put(((1,), 0, 10), [[3], 5])
    original.put(((1,), 10, 20), [[4], 15])
    restored = WindowStore("agg")
    for key, value in changes:  # what a runtime reads back from the changelog topic
        restored.restore(decode_state(encode_state(key)), decode_state(encode_state(value)))
    assert restored.windows((1,)) == [(0, 10), (10, 20)]


def test_state_stores_create_typed_stores_and_report_them() -> None:
    stores = StateStores()
    created: list[str] = []
    stores.on_create(lambda store: created.append(store.name))
    table = stores.get_store("KsqlTopic-Reduce", TableStore)
    assert isinstance(table, TableStore) and created == ["KsqlTopic-Reduce"]
    assert table.update([1], ["row"], 5) is None and table.update([1], None, 6) == ["row"]


def test_freeze_makes_array_and_map_keys_hashable_and_reversible() -> None:
    value = [1, {"a": [2, 3]}]
    assert thaw(freeze(value)) == value and hash(freeze(value))


@pytest.fixture
def engine():  # type: ignore[no-untyped-def]
    driver = make_driver({"auto.offset.reset": "earliest"})
    driver.execute("CREATE STREAM S (ID STRING KEY, V INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);")
    driver.execute("CREATE TABLE COUNTS AS SELECT ID, COUNT(*) AS N, SUM(V) AS TOTAL FROM S GROUP BY ID;")
    driver.execute("CREATE TABLE PER_SECOND AS SELECT ID, COUNT(*) AS N FROM S WINDOW TUMBLING (SIZE 1 SECOND) "
                   "GROUP BY ID;")
    for key, value, timestamp in (("a", 1, 100), ("b", 2, 1_500), ("a", 3, 2_200)):
        driver.produce(TestRecord("s", key, {"V": value}, timestamp))
    yield driver.engine
    driver.close()


def pull(engine, sql: str):  # type: ignore[no-untyped-def]
    query = engine.query(sql)
    return query.column_names, query.key_columns, query.poll()


def test_pull_query_key_lookup_and_table_scan(engine) -> None:  # type: ignore[no-untyped-def]
    assert pull(engine, "SELECT * FROM COUNTS WHERE ID = 'a';") == (("ID", "N", "TOTAL"), ("ID",), [["a", 2, 4]])
    assert pull(engine, "SELECT ID, TOTAL FROM COUNTS WHERE TOTAL > 2;")[2] == [["a", 4]]
    assert pull(engine, "SELECT * FROM COUNTS LIMIT 1;")[2] == [["a", 2, 4]]


def test_pull_query_on_windowed_table_with_window_bounds(engine) -> None:  # type: ignore[no-untyped-def]
    names, keys, rows = pull(engine, "SELECT * FROM PER_SECOND WHERE ID = 'a' AND WINDOWSTART >= 1000;")
    assert names == ("ID", "WINDOWSTART", "WINDOWEND", "N") and keys == ("ID", "WINDOWSTART", "WINDOWEND")
    assert rows == [["a", 2000, 3000, 1]]


def test_pull_query_errors_are_ksqldbs(engine) -> None:  # type: ignore[no-untyped-def]
    engine.execute("CREATE TABLE PLAIN (ID STRING PRIMARY KEY, V INT) WITH (kafka_topic='p', value_format='JSON', "
                   "partitions=1);")
    with pytest.raises(KsqlStatementError, match="The `PLAIN` table isn't queryable"):
        engine.query("SELECT * FROM PLAIN;")
    with pytest.raises(KsqlStatementError, match="WHERE clause missing key column for disjunct: \\(N = 1\\)"):
        engine.query("SELECT * FROM COUNTS WHERE N = 1;",
                     properties={"ksql.query.pull.table.scan.enabled": False})
    with pytest.raises(KsqlStatementError, match="Pull queries don't support GROUP BY clauses."):
        engine.query("SELECT ID, COUNT(*) FROM COUNTS GROUP BY ID;")
    with pytest.raises(KsqlStatementError, match="Pull queries don't support GROUP BY clauses."):
        engine.query("SELECT COUNT(*) FROM COUNTS;")  # an aggregate gets ksqlDB's dummy GROUP BY
    with pytest.raises(KsqlStatementError, match="Invalid expression: Cannot compare ID \\(STRING\\) to 1 "
                                                  "\\(INTEGER\\) with GREATER_THAN_OR_EQUAL"):
        engine.query("SELECT * FROM COUNTS WHERE ID BETWEEN 1 AND 'z';")
    with pytest.raises(KsqlStatementError, match="Error in WHERE expression: Cannot compare ID"):
        engine.query("SELECT * FROM COUNTS WHERE ID = 1;")


def test_pull_query_window_bounds_accept_partial_datetimes(engine) -> None:  # type: ignore[no-untyped-def]
    rows = pull(engine, "SELECT * FROM PER_SECOND WHERE ID = 'a' AND WINDOWSTART < '1970-01-01T24';")[2]
    assert rows == [["a", 0, 1000, 1], ["a", 2000, 3000, 1]]  # hour 24 is the next midnight, as in java.time


def test_create_source_table_is_materialized_by_a_hidden_query(engine) -> None:  # type: ignore[no-untyped-def]
    engine.execute("CREATE SOURCE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='u', "
                   "value_format='JSON', partitions=1);")
    engine.store.append("u", b"u1", b'{"NAME": "ann"}', timestamp=1)
    engine.run_until_idle()
    assert any(q.startswith("CST_USERS_") for q in engine.catalog.queries)
    assert pull(engine, "SELECT * FROM USERS WHERE ID = 'u1';")[2] == [["u1", "ann"]]


def test_internal_topics_are_created_with_ksqldbs_names(engine) -> None:  # type: ignore[no-untyped-def]
    topics = [t for t in engine.store.list_topics() if t.startswith("_confluent-ksql-")]
    assert "_confluent-ksql-default_query_CTAS_COUNTS_0-Aggregate-Aggregate-Materialize-changelog" in topics
