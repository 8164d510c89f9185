"""KafkaTopicStore against the real cluster: the TopicStore calls the engine relies on."""
from __future__ import annotations

import pytest

from labkit.engine.kafka_store import KafkaTopicStore
from labkit.engine.topics import TopicStoreError, murmur2_partition


@pytest.fixture(scope="module")
def store(cluster, settings):
    store = KafkaTopicStore(settings, client_id="test-kafka-store")
    yield store
    store.close()


def test_create_describe_list_delete(store, topic_name):
    assert store.describe_topic(topic_name) is None
    store.create_topic(topic_name, partitions=3, replicas=3, config={"cleanup.policy": "compact"})
    described = store.describe_topic(topic_name)
    assert (described.partitions, described.replicas) == (3, 3)
    assert described.config.get("cleanup.policy") == "compact"
    assert topic_name in store.list_topics()
    with pytest.raises(TopicStoreError, match="already exists"):
        store.create_topic(topic_name, partitions=1)
    store.delete_topic(topic_name)
    store.delete_topic(topic_name)  # absent now: no error
    assert topic_name not in store.list_topics()


def test_append_read_and_end_offset_keep_keys_values_timestamps_headers(store, topic_name):
    store.create_topic(topic_name, partitions=2, replicas=3)
    written = [store.append(topic_name, f"k{i}".encode(), f"v{i}".encode(), timestamp=1000 + i,
                            headers=(("h", b"x"),)) for i in range(6)]
    for record in written:  # the Java client's partitioner, as ksqlDB's producers use it
        assert record.partition == murmur2_partition(record.key, 2)
    for partition in (0, 1):
        mine = [r for r in written if r.partition == partition]
        assert store.end_offset(topic_name, partition) == len(mine)
        read = store.read(topic_name, partition, 0)
        assert [(r.key, r.value, r.timestamp, r.offset) for r in read] == \
            [(r.key, r.value, r.timestamp, r.offset) for r in mine]
        assert all(r.headers == (("h", b"x"),) for r in read)
        assert store.read(topic_name, partition, len(mine)) == []


def test_tombstone_round_trip(store, topic_name):
    store.create_topic(topic_name, partitions=1, replicas=3)
    store.append(topic_name, b"k", None, timestamp=5)
    (record,) = store.read(topic_name, 0, 0)
    assert record.key == b"k" and record.value is None
