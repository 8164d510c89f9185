"""The embedded KRaft cluster: three unfenced brokers, produce/consume, a broker down and back."""
from __future__ import annotations

import json

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError


def _admin(settings):
    return KafkaAdminClient(**settings.kafka_client_config(), client_id="test-admin")


def test_three_brokers_are_unfenced_and_all_are_controllers(cluster, settings):
    status = cluster.status()
    assert status.healthy
    assert [n.port for n in status.nodes] == [9097, 9098, 9099]
    admin = _admin(settings)
    try:
        meta = admin.describe_cluster()
    finally:
        admin.close()
    brokers = sorted((b["broker_id"], b["port"], b["is_fenced"]) for b in meta["brokers"])
    assert brokers == [(1, 9097, False), (2, 9098, False), (3, 9099, False)]
    assert meta["controller_id"] in (1, 2, 3)


def test_auto_created_topic_has_one_partition_and_three_replicas(cluster, settings, topic_name):
    producer = KafkaProducer(**settings.kafka_client_config())
    producer.send(topic_name, b"hello").get(timeout=30)
    producer.close()
    admin = _admin(settings)
    try:
        (described,) = admin.describe_topics([topic_name])
    finally:
        admin.close()
    assert len(described["partitions"]) == 1
    assert sorted(described["partitions"][0]["replica_nodes"]) == [1, 2, 3]


def test_gzip_json_round_trip_like_the_lesson_material(cluster, topic_name):
    # The material's producer, unchanged apart from the topic: acks=0 is accepted (idempotence is switched
    # off with a warning), gzip is in the standard library.
    producer = KafkaProducer(acks=0, compression_type="gzip", bootstrap_servers=["localhost:9097"],
                             value_serializer=lambda x: json.dumps(x).encode("utf-8"))  # the material, verbatim
    for i in range(1, 6):
        producer.send(topic_name, value={"id": i, "name": f"user {i}"})
        producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic_name, bootstrap_servers=["localhost:9097"], auto_offset_reset="earliest",
                             consumer_timeout_ms=10000, value_deserializer=lambda b: json.loads(b))
    try:
        ids = [record.value["id"] for record in consumer]
    finally:
        consumer.close()
    assert ids == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("codec", ["lz4", "zstd", "snappy"])
def test_other_codecs_are_installed(cluster, settings, topic_name, codec):
    producer = KafkaProducer(**settings.kafka_client_config(), compression_type=codec)
    for i in range(20):
        producer.send(topic_name, key=str(i).encode(), value=(f"value {i} " * 20).encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic_name, **settings.kafka_client_config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=10000)
    try:
        keys = [int(r.key) for r in consumer]
    finally:
        consumer.close()
    assert keys == list(range(20))


def test_one_broker_down_acks_all_goes_on_and_nothing_is_lost(cluster, settings, topic_name):
    admin = _admin(settings)
    admin.create_topics({topic_name: {"num_partitions": 3, "replication_factor": 3}})
    admin.close()
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", request_timeout_ms=20000)
    sent = []
    try:
        for i in range(30):
            producer.send(topic_name, key=str(i).encode(), value=b"before")
            sent.append(i)
        producer.flush()
        cluster.stop_broker(3)
        assert cluster.pid(3) is None
        for i in range(30, 60):
            producer.send(topic_name, key=str(i).encode(), value=b"during").get(timeout=60)
            sent.append(i)
    finally:
        producer.close()
        cluster.start_broker(3)
    assert cluster.status().healthy
    consumer = KafkaConsumer(topic_name, **settings.kafka_client_config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=15000)
    try:
        received = sorted(int(r.key) for r in consumer)
    finally:
        consumer.close()
    assert received == sent


def test_two_brokers_down_gives_not_enough_replicas(cluster, settings, topic_name):
    admin = _admin(settings)
    admin.create_topics({topic_name: {"num_partitions": 1, "replication_factor": 3}})
    admin.close()
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", request_timeout_ms=5000,
                             delivery_timeout_ms=15000, retries=1)
    producer.send(topic_name, b"first").get(timeout=30)
    survivor = None
    try:
        cluster.stop_broker(2)
        cluster.stop_broker(3)
        with pytest.raises(KafkaError) as failure:
            producer.send(topic_name, b"second").get(timeout=60)
        assert "NotEnoughReplicas" in type(failure.value).__name__ or "NotEnoughReplicas" in str(failure.value) \
            or "Timeout" in type(failure.value).__name__
        survivor = failure.value
    finally:
        producer.close(timeout=5)
        cluster.start_broker(2)
        cluster.start_broker(3)
    assert cluster.status().healthy
    assert survivor is not None
