"""The engine's librdkafka clients on the real cluster: the kafka-python surface the runner relies on."""
from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from labkit.engine.rdkafka_clients import RdConsumer, RdProducer, delivery_errors_to
from labkit.engine.topics import murmur2_partition

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(cluster, settings):
    name = f"rdkafka_{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="test-rdkafka")
    admin.create_topics([NewTopic(name, 3, 3)])
    yield name
    admin.delete_topics([name])
    admin.close()


def _read_all(settings, topic: str, count: int) -> list:
    consumer = KafkaConsumer(**settings.kafka_client_config(), auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    consumer.subscribe([topic])
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= count:
            break
    consumer.close()
    return records


def test_the_producer_partitions_as_the_java_client_and_keeps_timestamps_and_headers(settings, topic):
    producer = RdProducer(settings.librdkafka_config(), client_id="test-rd-producer")
    errors: list[BaseException] = []
    keys = [f"user{n}".encode() for n in range(30)]
    for n, key in enumerate(keys):
        producer.send(topic, key, b"v%d" % n, 1_700_000_000_000 + n, headers=(("h", b"x"),),
                      on_delivery=delivery_errors_to(errors))
    assert producer.flush(30) == 0 and errors == []
    records = _read_all(settings, topic, len(keys))
    assert len(records) == len(keys)
    for record in records:
        assert record.partition == murmur2_partition(record.key, 3)  # Kafka's DefaultPartitioner
        assert record.timestamp == 1_700_000_000_000 + int(record.value[1:])
        assert list(record.headers) == [("h", b"x")]


def test_the_consumer_seeks_polls_commits_and_knows_its_positions(settings, topic):
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    for n in range(10):
        producer.send(topic, key=b"k", value=b"%d" % n, partition=1)
    producer.flush()
    producer.close()
    tp = TopicPartition(topic, 1)
    group = f"test-rd-{uuid.uuid4().hex[:6]}"
    consumer = RdConsumer(settings.librdkafka_config(), group_id=group, client_id="test-rd-consumer",
                          max_poll_records=4)
    try:
        assert consumer.partitions_for_topic(topic) == {0, 1, 2}
        assert consumer.committed(tp) is None
        assert consumer.beginning_offsets([tp]) == {tp: 0} and consumer.end_offsets([tp]) == {tp: 10}
        consumer.assign([tp])
        consumer.seek(tp, 3)
        assert consumer.position(tp) == 3
        first = consumer.poll(timeout_ms=5000)
        assert [r.offset for r in first[tp]] == [3, 4, 5, 6]  # at most max_poll_records
        assert consumer.position(tp) == 7 and consumer.highwater(tp) == 10
        consumer.seek(tp, 5)  # back: records fetched past 5 come again
        again = []
        deadline = time.monotonic() + 10
        while len(again) < 5 and time.monotonic() < deadline:
            again += [r.offset for r in consumer.poll(timeout_ms=500).get(tp, [])]
        assert again == [5, 6, 7, 8, 9]
        assert consumer.poll(timeout_ms=300) == {}  # nothing more: returns after the timeout, empty
        consumer.commit({tp: OffsetAndMetadata(10, "", -1)})
        assert consumer.committed(tp) == 10
    finally:
        consumer.close()


def test_asking_for_a_missing_topic_does_not_create_it(settings, cluster):
    missing = f"rdkafka_missing_{uuid.uuid4().hex[:8]}"
    consumer = RdConsumer(settings.librdkafka_config(), group_id="test-rd-missing", client_id="test-rd-missing")
    producer = RdProducer(settings.librdkafka_config(), client_id="test-rd-missing")
    try:
        assert consumer.partitions_for_topic(missing) is None
        assert producer.partitions_for(missing) is None
    finally:
        consumer.close()
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="test-rdkafka")
    try:
        assert missing not in admin.list_topics()
    finally:
        admin.close()
