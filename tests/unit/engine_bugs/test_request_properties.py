"""Unknown request properties are refused as ksqlDB 0.29's KsqlRequest.getConfigOverrides refuses them."""
from __future__ import annotations

import pytest

from labkit.engine.engine import KsqlEngine
from labkit.engine.server_adapter import ServerEngine
from labkit.engine.session import is_known_property
from labkit.engine.topics import InMemoryTopicStore
from labkit.server.protocol import StatementError

CREATE = "CREATE STREAM s (id INT) WITH (kafka_topic='s', value_format='json', partitions=1);"


def _server() -> ServerEngine:
    server = ServerEngine(KsqlEngine(InMemoryTopicStore())).start()
    server.execute(CREATE, properties={}, variables={})
    return server


def test_ksql_endpoint_refuses_an_unknown_property_with_ksqldbs_message() -> None:
    with pytest.raises(StatementError) as caught:
        _server().execute("SHOW STREAMS;", properties={"auto.offset.rest": "earliest"}, variables={})
    assert caught.value.error_code == 50000
    assert caught.value.message == ("Not recognizable as ksql, streams, consumer, or producer property: "
                                    "'auto.offset.rest'")
    assert caught.value.statement_text == "SHOW STREAMS;"


def test_query_endpoint_refuses_an_unknown_property_unless_told_not_to() -> None:
    server = _server()
    with pytest.raises(StatementError) as caught:
        server.open_query("SELECT * FROM s EMIT CHANGES;", properties={"no.such.thing": 1}, variables={})
    assert caught.value.error_code == 50000
    stream = server.open_query("SELECT * FROM s EMIT CHANGES;", properties={"no.such.thing": 1}, variables={},
                               strict_properties=False)
    assert stream.header.column_names == ("ID",) or list(stream.header.column_names) == ["ID"]
    stream.close()


@pytest.mark.parametrize("name", [
    "auto.offset.reset", "ksql.streams.auto.offset.reset", "cache.max.bytes.buffering", "commit.interval.ms",
    "consumer.max.poll.records", "producer.linger.ms", "ksql.streams.producer.acks", "max.poll.records",
    "ksql.query.pull.table.scan.enabled", "ksql.service.id", "ksql.functions.my_udf.key", "topic.retention.ms",
    "ksql.streams.topic.min.insync.replicas", "processing.guarantee", "request.ksql.query.pull.partition",
])
def test_properties_ksqldb_accepts_are_accepted(name: str) -> None:
    assert is_known_property(name)


@pytest.mark.parametrize("name", [
    "auto.offset.rest", "foo", "consumer.no.such", "producer.nothing", "ksql.streams.not.a.config",
    "ksql.streams.consumer.unknown", "main.consumer.max.poll.records", "topic.not.a.topic.config",
])
def test_unknown_properties_are_refused(name: str) -> None:
    assert not is_known_property(name)


def test_accepted_properties_still_apply() -> None:
    server = _server()
    [entity] = server.execute("SHOW PROPERTIES;", properties={"ksql.streams.auto.offset.reset": "earliest"},
                              variables={})
    values = {p["name"]: p["value"] for p in entity["properties"]}
    assert values.get("ksql.streams.auto.offset.reset") == "earliest"
