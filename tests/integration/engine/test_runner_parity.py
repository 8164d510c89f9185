"""The same statements through the REST API on the real cluster give the same records as through the runner.

A sample of labkit's own conformance cases (tests/conformance/cases) runs twice: in the broker-free driver of
the conformance runner, and through a live engine's REST API over Kafka (topics prefixed so runs never meet).
The input records the driver serialized are produced to Kafka byte for byte; the output topics must then hold
the same keys, values and timestamps.
"""
from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from labkit.conformance.cases import discover, load_cases
from labkit.conformance.qtt import HARNESS_PROPERTIES, _record
from labkit.engine.server_adapter import create_engine
from labkit.engine.testing import make_driver
from labkit.ksql import KsqlClient
from labkit.server import BackgroundServer

CASES_DIR = Path(__file__).resolve().parents[2] / "conformance" / "cases"
SAMPLE = 6
_TOPIC = re.compile(r"(kafka_topic\s*=\s*')([^']+)(')", re.IGNORECASE)


def _eligible():
    cases = [c for path in discover([CASES_DIR]) for c in load_cases(path, "qtt")]
    cases = [c for c in cases if c.outputs and c.expected_exception is None and not c.skip_reason
             and not any("VALUES" in s.upper() or "HEADER" in s.upper() for s in c.statements)
             and not c.post]
    cases.sort(key=lambda c: c.full_name)
    step = max(1, len(cases) // SAMPLE)
    return cases[::step][:SAMPLE]


CASES = _eligible()


def _records(consumer: KafkaConsumer, topic: str, wanted: int, timeout: float = 30.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        consumer.topics()  # fresh metadata: the sink topic may be new
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if partitions and sum(consumer.end_offsets(partitions).values()) >= wanted or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    out: list[tuple] = []
    ends = consumer.end_offsets(partitions)
    while any(consumer.position(tp) < end for tp, end in ends.items()) and time.monotonic() < deadline + 10:
        for batch in consumer.poll(timeout_ms=300).values():
            out.extend((r.key, r.value, r.timestamp) for r in batch)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.full_name for c in CASES])
def test_rest_api_on_kafka_matches_the_runner(case, cluster, settings):
    driver = make_driver({**HARNESS_PROPERTIES, **case.properties})
    for topic in case.topics:
        driver.create_topic(topic["name"], partitions=topic.get("partitions", 1))
    for statement in case.statements:
        driver.execute(statement)
    for raw in case.inputs:
        driver.produce(_record(raw))
    store = driver.store
    output_topics = sorted({o["topic"] for o in case.outputs})
    expected = {t: sorted(((r.key, r.value, r.timestamp) for r in store.records(t)), key=repr) for t in output_topics}
    input_topics = sorted({r["topic"] for r in case.inputs} | {t["name"] for t in case.topics}
                          | {m.group(2) for s in case.statements for m in _TOPIC.finditer(s)})
    input_topics = [t for t in input_topics if t not in output_topics and store.describe_topic(t) is not None]
    inputs = [r for t in input_topics for r in store.records(t)]
    partitions = {t: store.describe_topic(t).partitions for t in input_topics}
    driver.close()

    prefix = f"parity_{uuid.uuid4().hex[:8]}_"
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="test-parity")
    try:
        admin.create_topics([NewTopic(prefix + t, n, 1) for t, n in partitions.items()])
    finally:
        admin.close()
    config = {"ksql.streams.auto.offset.reset": "earliest", "ksql.output.topic.name.prefix": prefix, **case.properties}
    live = create_engine(settings.with_overrides(ksql_service_id=f"{prefix}svc_"), config=config)
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None)
    try:
        with BackgroundServer(live) as server, KsqlClient(server.url) as client:
            for statement in case.statements:
                client.execute(_TOPIC.sub(lambda m: m.group(1) + prefix + m.group(2) + m.group(3), statement))
            for record in inputs:
                producer.send(prefix + record.topic, key=record.key, value=record.value, partition=record.partition,
                              timestamp_ms=record.timestamp, headers=list(record.headers) or None)
            producer.flush()
            for topic in output_topics:
                actual = _records(consumer, prefix + topic, len(expected[topic]))
                assert sorted(actual, key=repr) == expected[topic], topic
    finally:
        producer.close()
        consumer.close()
        live.close()
        admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="test-parity-cleanup")
        try:
            admin.delete_topics([t for t in admin.list_topics() if prefix in t])
        finally:
            admin.close()
