"""Command-topic replay without topic checks, internal topics deleted with their query, EXPLAIN's topology."""
from __future__ import annotations

from labkit.engine.command_topic import CommandTopic
from labkit.engine.engine import KsqlEngine
from labkit.engine.server_adapter import ServerEngine
from labkit.engine.topics import InMemoryTopicStore

CREATE_S = ("CREATE STREAM S (ID INT KEY, CITY STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, REPLICAS=1, "
            "VALUE_FORMAT='JSON');")


class CountingStore(InMemoryTopicStore):
    """An in-memory store that counts topic creations and deletions."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []
        self.deleted: list[str] = []

    def create_topic(self, name, **kwargs):
        self.created.append(name)
        return super().create_topic(name, **kwargs)

    def delete_topic(self, name):
        self.deleted.append(name)
        return super().delete_topic(name)


def _server(store: InMemoryTopicStore) -> ServerEngine:
    return ServerEngine(KsqlEngine(store), commands=CommandTopic(store)).start()


def _run(server: ServerEngine, sql: str) -> list[dict]:
    return server.execute(sql, properties={}, variables={})


def test_replay_takes_topics_as_they_are_now():
    store = InMemoryTopicStore()
    server = _server(store)
    _run(server, CREATE_S + " CREATE STREAM O AS SELECT * FROM S;")
    server.close()
    store.delete_topic("s")
    store.create_topic("s", partitions=1, replicas=3)  # recreated by someone else with another replication
    restarted = _server(store)
    assert {"S", "O"} <= set(restarted.engine.catalog.sources)
    assert set(restarted.engine.runtime.queries) == {"CSAS_O_1"}
    assert restarted.statuses["stream/`S`/create"]["status"] == "SUCCESS"


def test_replay_does_not_create_topics_a_later_command_deletes():
    store = CountingStore()
    server = _server(store)
    _run(server, CREATE_S)
    _run(server, "CREATE TABLE T AS SELECT CITY, COUNT(*) AS N FROM S GROUP BY CITY;")
    _run(server, "DROP TABLE T DELETE TOPIC;")
    _run(server, "CREATE STREAM KEEP AS SELECT * FROM S;")
    server.close()
    store.created.clear()
    store.deleted.clear()
    _server(store)
    assert store.created == [] and store.deleted == []
    store.delete_topic("KEEP")
    store.created.clear()
    _server(store)
    assert store.created == ["KEEP"]  # still needed at the end of the log: created once


def test_terminate_and_drop_delete_the_query_internal_topics():
    store = InMemoryTopicStore()
    engine = KsqlEngine(store)
    engine.execute(CREATE_S + "CREATE TABLE A AS SELECT CITY, COUNT(*) AS N FROM S GROUP BY CITY;"
                              "CREATE TABLE B AS SELECT CITY, COUNT(*) AS N FROM S GROUP BY CITY;")

    def internal(query_id: str) -> set[str]:
        return {t for t in store.list_topics() if t.startswith(f"_confluent-ksql-default_query_{query_id}-")}

    assert {t.rsplit("-", 1)[-1] for t in internal("CTAS_A_1")} == {"repartition", "changelog"}
    engine.execute("TERMINATE CTAS_A_1;")
    assert internal("CTAS_A_1") == set() and internal("CTAS_B_2") != set()
    engine.execute("DROP TABLE B;")
    assert internal("CTAS_B_2") == set()
    assert "s" in store.list_topics() and "B" in store.list_topics()


def test_explain_answers_a_kafka_streams_topology():
    engine = KsqlEngine(InMemoryTopicStore())
    engine.execute(CREATE_S + "CREATE TABLE T (ID INT PRIMARY KEY, NAME STRING) WITH (KAFKA_TOPIC='t', "
                              "PARTITIONS=1, VALUE_FORMAT='JSON');"
                              "CREATE STREAM J AS SELECT S.ID, CITY, NAME FROM S JOIN T ON S.ID = T.ID;")
    [explained] = engine.execute("EXPLAIN CSAS_J_2;")
    topology = explained["queryDescription"]["topology"]
    lines = topology.splitlines()
    assert lines[:2] == ["Topologies:", "   Sub-topology: 0"]
    assert "Sub-topology: 1" not in topology  # the table's store joins both sources in one sub-topology
    assert "    Source: KSTREAM-SOURCE-0000000000 (topics: [s])" in lines
    assert any(line.startswith("    Source: ") and "(topics: [t])" in line for line in lines)
    assert "    Processor: Join (stores: [KafkaTopic_Right-Reduce])" in lines
    assert lines[-2].startswith("    Sink: KSTREAM-SINK-") and lines[-2].endswith("(topic: J)")
    assert lines[-1] == "      <-- Project"
