"""labkit.data.produce on the real cluster: every record acknowledged and readable, keyed as asked."""
import json

from kafka import KafkaConsumer

from labkit import data


def test_produce_users_keyed_by_id(cluster, settings, topic_name):
    assert data.produce(topic_name, data.users(5), key="id", settings=settings) == 5
    consumer = KafkaConsumer(topic_name, **settings.kafka_client_config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=10000)
    try:
        records = [(r.key.decode(), json.loads(r.value)) for r in consumer]
    finally:
        consumer.close()
    assert [k for k, _ in records] == ["1", "2", "3", "4", "5"]
    assert [v for _, v in records] == data.users(5)
