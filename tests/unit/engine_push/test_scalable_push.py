"""Scalable push queries (ksql.query.push.v2.enabled), SHOW QUERIES listing push queries, pull SELECT * headers.

Runs on the broker-free conformance driver (in-memory topics, queries processed as records arrive).
"""
from __future__ import annotations

import pytest

from labkit.conformance.driver import TestRecord
from labkit.engine.errors import KsqlStatementError
from labkit.engine.scalable_push import QUERY_ID_PREFIX
from labkit.engine.testing import make_driver
from labkit.engine.topics import murmur2_partition

V2 = {"ksql.query.push.v2.enabled": True, "ksql.query.push.v2.registry.installed": True}
LATEST = {"auto.offset.reset": "latest"}


def _driver(config: dict | None = None, *, written: bool = True):  # type: ignore[no-untyped-def]
    driver = make_driver({**V2, **(config or {})})
    driver.execute("CREATE STREAM I (K INT KEY, ID INT) WITH (kafka_topic='i', value_format='JSON', partitions=1);")
    if written:
        driver.execute("CREATE STREAM S AS SELECT * FROM I;")
    return driver


def _rows(driver, transient) -> list:  # type: ignore[no-untyped-def]
    driver.engine.run_until_idle()
    return transient.poll()


def test_push_query_on_a_written_stream_taps_the_writer_from_latest() -> None:
    driver = _driver()
    driver.produce(TestRecord("i", 1, {"ID": 10}, 5))  # before the query: not seen
    query = driver.engine.query("SELECT K, ID FROM S WHERE ID > 0 EMIT CHANGES;", properties=LATEST)
    assert query.query_id.startswith(QUERY_ID_PREFIX)
    driver.produce(TestRecord("i", 2, {"ID": 20}, 6))
    driver.produce(TestRecord("i", 3, {"ID": -1}, 7))
    assert _rows(driver, query) == [[2, 20]]
    query.close()


def test_scalable_push_query_drops_rows_with_null_key_or_null_value() -> None:
    driver = _driver()
    query = driver.engine.query("SELECT * FROM S EMIT CHANGES;", properties=LATEST)
    driver.produce(TestRecord("i", None, {"ID": 1}, 1))
    driver.produce(TestRecord("i", 4, {"ID": 2}, 2))
    assert _rows(driver, query) == [[4, 2]]


@pytest.mark.parametrize("sql, properties, config", [
    ("SELECT * FROM S EMIT CHANGES;", LATEST, {"ksql.query.push.v2.enabled": False}),
    ("SELECT * FROM S EMIT CHANGES;", {"auto.offset.reset": "earliest"}, {}),
    ("SELECT K, COUNT(*) FROM S GROUP BY K EMIT CHANGES;", LATEST, {}),
    ("SELECT ROWPARTITION, K FROM S EMIT CHANGES;", LATEST, {}),
    ("SELECT * FROM S WHERE ROWOFFSET > 1 EMIT CHANGES;", LATEST, {}),
    ("SELECT * FROM I EMIT CHANGES;", LATEST, {}),  # nobody writes I
    ("SELECT * FROM S PARTITION BY ID EMIT CHANGES;", LATEST, {}),
])
def test_queries_v2_does_not_cover_run_as_classic_push_queries(sql: str, properties: dict, config: dict) -> None:
    driver = _driver(config)
    query = driver.engine.query(sql, properties=properties)
    assert query.query_id.startswith("transient_")
    query.close()


def test_scalable_push_query_needs_the_registry_and_a_lone_wildcard() -> None:
    driver = _driver({"ksql.query.push.v2.registry.installed": False})
    with pytest.raises(KsqlStatementError, match="ksql.query.push.v2.registry.installed is set to true"):
        driver.engine.query("SELECT * FROM S EMIT CHANGES;", properties=LATEST)
    driver = _driver()
    with pytest.raises(KsqlStatementError, match="only support wildcards in the projects if they are the only"):
        driver.engine.query("SELECT *, ID AS X FROM S EMIT CHANGES;", properties=LATEST)


def test_show_queries_lists_running_push_queries_until_they_end() -> None:
    driver = _driver({"ksql.query.push.v2.enabled": False})
    query = driver.engine.query("SELECT * FROM S EMIT CHANGES LIMIT 1;", properties=LATEST)
    (entity,) = driver.execute("SHOW QUERIES;")
    pushes = [q for q in entity["queries"] if q["queryType"] == "PUSH"]
    assert pushes == [{"queryString": "SELECT * FROM S EMIT CHANGES LIMIT 1;", "sinks": [], "sinkKafkaTopics": [],
                       "id": query.query_id, "statusCount": {"RUNNING": 1}, "queryType": "PUSH",
                       "state": "RUNNING"}]
    driver.produce(TestRecord("i", 1, {"ID": 1}, 1))  # LIMIT 1 reached: the query ends
    assert _rows(driver, query) == [[1, 1]] and query.closed
    (entity,) = driver.execute("SHOW QUERIES;")
    assert [q["queryType"] for q in entity["queries"]] == ["PERSISTENT"]


def test_pull_select_star_header_lists_header_columns_after_the_keys() -> None:
    driver = make_driver({})
    driver.execute("CREATE SOURCE TABLE T (K INT PRIMARY KEY, TEXT STRING, H BYTES HEADER('abc')) "
                   "WITH (kafka_topic='t', value_format='JSON');")
    driver.produce(TestRecord("t", 1, {"TEXT": "a"}, 1, headers=[{"KEY": "abc", "VALUE": "IQ=="}]))
    star = driver.engine.query("SELECT * FROM T;")
    assert star.legacy_schema == "`K` INTEGER KEY, `H` BYTES HEADER('abc'), `TEXT` STRING"
    assert star.poll() == [[1, "a", "IQ=="]]  # ksqlDB's rows keep the table's column order
    assert driver.engine.query("SELECT K, H FROM T;").legacy_schema is None


def test_rest_harness_driver_partitions_as_kafka_does() -> None:
    driver = make_driver({}, kafka_partitioning=True)
    driver.execute("CREATE STREAM W (K INT KEY, V INT) WITH (kafka_topic='w', value_format='JSON', "
                   "WINDOW_TYPE='TUMBLING', WINDOW_SIZE='2 SECONDS', partitions=4);")
    driver.execute("CREATE STREAM OUT AS SELECT * FROM W;")
    for start in (0, 2000, 4000):
        driver.produce(TestRecord("w", 1, {"V": start}, start, window={"start": start, "end": start + 2000}))
    base_key = (1).to_bytes(4, "big")
    inputs = [r for p in range(4) for r in driver.store.read("w", p, 0)]
    assert len(inputs) == 3 and len({r.partition for r in inputs}) > 1  # the window is part of the hashed key
    assert all(r.partition == murmur2_partition(r.key, 4) for r in inputs)
    outputs = [r for p in range(4) for r in driver.store.read("OUT", p, 0)]
    assert len(outputs) == 3 and {r.partition for r in outputs} == {murmur2_partition(base_key, 4)}
