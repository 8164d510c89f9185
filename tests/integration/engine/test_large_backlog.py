"""A persistent query over a backlog larger than its per-partition buffer reads every record.

Regression: the runner paused partitions whose buffer was full; kafka-python 3.0.12 can keep a resumed
partition's parked fetch for ever, so a CSAS from earliest over 20,000 records in 2 partitions stopped for good
with ~1,000 records of one partition unread (bench/engine.py hung on it).
"""
from __future__ import annotations

import json
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from labkit.ksql import KsqlClient, quote_literal

RECORDS = 20_000


def _read_ids(settings, topic: str, expected: int, timeout: float = 120.0) -> list[int]:
    consumer = KafkaConsumer(**settings.kafka_client_config(), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=2000)
    consumer.subscribe([topic])
    ids: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(ids) < expected and time.monotonic() < deadline:
            for message in consumer:
                ids.append(json.loads(message.value)["ID"])
    finally:
        consumer.close()
    return ids


def test_csas_from_earliest_over_a_two_partition_backlog_reads_every_record(engine_process, settings):
    tag = uuid.uuid4().hex[:8]
    source, sink = f"backlog_in_{tag}", f"BACKLOG_OUT_{tag.upper()}"
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="test-backlog")
    admin.create_topics([NewTopic(source, 2, 3)])
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=20)
    for i in range(RECORDS):
        producer.send(source, key=str(i).encode(), value=json.dumps({"ID": i, "AMOUNT": i % 20}).encode())
    producer.flush()
    producer.close()
    expected = sorted(i for i in range(RECORDS) if i % 20 >= 10)
    try:
        with KsqlClient(engine_process.settings.ksql_url, timeout=60) as client:
            client.execute(f"CREATE STREAM {source} (ID INT, AMOUNT INT) "
                           f"WITH (kafka_topic={quote_literal(source)}, value_format='json');")
            client.execute(f"CREATE STREAM {sink} AS SELECT ID, AMOUNT FROM {source} WHERE AMOUNT >= 10;",
                           properties={"auto.offset.reset": "earliest"})
            ids = _read_ids(settings, sink, len(expected))
            assert len(ids) == len(expected), f"{len(expected) - len(set(ids))} records never reached {sink}"
            assert sorted(ids) == expected
            client.execute(f"DROP STREAM {sink} DELETE TOPIC;")
            client.execute(f"DROP STREAM {source} DELETE TOPIC;")
    finally:
        admin.close()
