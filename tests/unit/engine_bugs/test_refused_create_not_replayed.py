"""A CREATE whose topic Kafka refuses must not come back when the engine restarts (ksqlDB creates topics first)."""
from __future__ import annotations

from typing import Mapping

import pytest

from labkit.engine.command_topic import CommandTopic
from labkit.engine.engine import KsqlEngine
from labkit.engine.server_adapter import ServerEngine
from labkit.engine.topics import InMemoryTopicStore, TopicStoreError
from labkit.server.protocol import StatementError

BROKERS = 3


class ThreeBrokerStore(InMemoryTopicStore):
    """An in-memory store that refuses replication factors above its broker count, as Kafka does."""

    def create_topic(self, name: str, *, partitions: int = 1, replicas: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        if replicas > BROKERS:
            raise TopicStoreError(f"Could not create topic '{name}': [Error 38] InvalidReplicationFactorError")
        super().create_topic(name, partitions=partitions, replicas=replicas, config=config)


def _server(store: InMemoryTopicStore) -> ServerEngine:
    return ServerEngine(KsqlEngine(store), commands=CommandTopic(store)).start()


def _stream_names(server: ServerEngine) -> set[str]:
    [listing] = server.execute("SHOW STREAMS;", properties={}, variables={})
    return {s["name"] for s in listing["streams"]}


def test_create_refused_by_kafka_is_not_in_command_topic_and_not_replayed() -> None:
    store = ThreeBrokerStore()
    server = _server(store)
    with pytest.raises(StatementError) as caught:
        server.execute("CREATE STREAM b (id INT) WITH (kafka_topic='b-x', value_format='json', partitions=1, "
                       "replicas=5);", properties={}, variables={})
    assert caught.value.error_code == 40001
    assert "InvalidReplicationFactor" in caught.value.message
    assert store.end_offset(server.commands.topic, 0) == 0
    restarted = _server(store)
    assert "B" not in _stream_names(restarted)


def test_accepted_create_still_replays_and_its_topic_exists_before_the_command() -> None:
    store = ThreeBrokerStore()
    server = _server(store)
    server.execute("CREATE STREAM ok_s (id INT) WITH (kafka_topic='ok-x', value_format='json', partitions=2, "
                   "replicas=3);", properties={}, variables={})
    description = store.describe_topic("ok-x")
    assert description is not None and (description.partitions, description.replicas) == (2, 3)
    assert store.end_offset(server.commands.topic, 0) == 1
    assert "OK_S" in _stream_names(_server(store))


def test_refused_sink_of_create_as_select_is_not_replayed() -> None:
    store = ThreeBrokerStore()
    server = _server(store)
    server.execute("CREATE STREAM src (id INT) WITH (kafka_topic='src-x', value_format='json', partitions=1);",
                   properties={}, variables={})
    with pytest.raises(StatementError):
        server.execute("CREATE STREAM sink WITH (kafka_topic='sink-x', replicas=4) AS SELECT * FROM src;",
                       properties={}, variables={})
    assert store.end_offset(server.commands.topic, 0) == 1
    assert _stream_names(_server(store)) >= {"SRC"}
    assert "SINK" not in _stream_names(_server(store))
