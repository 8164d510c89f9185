"""Poison records in the topics the engine and the pizza services read: logged or set aside, never fatal.

A persistent query, a push query and a table read a topic that also receives records they cannot read
(not JSON, wrong types, empty values, huge values); each such record goes to the processing log and the
queries go on with the next good record. The pizza services send records they cannot read to
`pizza-errors` and keep cooking the orders around them.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from labkit.ksql import KsqlClient
from labkit.pizza import Pipeline, PizzaTopics
from labkit.pizza.topics import ERRORS, PIZZA, WITH_CHEESE

from reliability_support import delete_topics_containing, free_port

pytestmark = pytest.mark.timeout(600)

# Values the JSON format cannot turn into a row (ID INT KEY, N INT): each goes to the processing log.
POISON_VALUES = [b"not json", b"{", b'{"N": "not a number"}', b'{"N": {"nested": [1, 2]}}', b"\xff\xfe\x00"]
# Values ksqlDB reads anyway (null and empty values, numbers Jackson narrows to INT the way Java does, a big
# record): they must not break anything, whatever row they become.
EDGE_VALUES = [b"", b"null", b"[1, 2, 3]", b'{"N": 1e999}', b'{"N": ' + b"9" * 40 + b"}",
               json.dumps({"N": 7, "PAD": "x" * 500_000}).encode()]


def is_subsequence(wanted: list, values: list) -> bool:
    it = iter(values)
    return all(any(v == w for v in it) for w in wanted)


def read_topic(settings, topic: str, at_least: int, timeout: float = 60.0, last: bytes | None = None) -> list:
    """Records of `topic` from the start, once there are `at_least` of them (or one whose value is `last`)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None, enable_auto_commit=False)
    found: list = []
    try:
        deadline = time.monotonic() + timeout
        def done() -> bool:
            return len(found) >= at_least or (last is not None and any(r.value == last for r in found))

        while not done() and time.monotonic() < deadline:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not partitions:
                time.sleep(0.5)
                continue
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            found = []
            end = time.monotonic() + 3
            while time.monotonic() < end and not done():
                for records in consumer.poll(timeout_ms=300).values():
                    found.extend(records)
        return found
    finally:
        consumer.close()


def test_poison_in_a_query_source_goes_to_the_processing_log_and_queries_go_on(own_engine, settings):
    name = f"POISONREC_{uuid.uuid4().hex[:6].upper()}"
    topic = name.lower()
    url = own_engine.settings.ksql_url
    try:
        with KsqlClient(url, timeout=60) as client:
            client.execute(f"CREATE STREAM {name} (ID INT KEY, N INT) WITH (KAFKA_TOPIC='{topic}', PARTITIONS=1, "
                           "VALUE_FORMAT='JSON');")
            client.execute(f"CREATE STREAM {name}_OUT AS SELECT ID, N * 2 AS D FROM {name};",
                           properties={"auto.offset.reset": "earliest"})
            client.execute(f"CREATE TABLE {name}_T AS SELECT ID, SUM(N) AS S FROM {name} GROUP BY ID;",
                           properties={"auto.offset.reset": "earliest"})
            push = client.push(f"SELECT ID, N FROM {name} EMIT CHANGES;", timeout=60)
            producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
            producer.send(topic, key=(1).to_bytes(4, "big"), value=b'{"N": 1}')
            for value in POISON_VALUES + EDGE_VALUES:
                producer.send(topic, key=(1).to_bytes(4, "big"), value=value)
            producer.send(topic, key=b"\x01", value=b'{"N": 5}')  # a key that is not a 4-byte INT
            producer.send(topic, key=(1).to_bytes(4, "big"), value=b'{"N": 2}')
            producer.send(topic, key=(2).to_bytes(4, "big"), value=b'{"N": 3}')
            producer.flush(30)
            producer.close()
            pushed = []
            with push:
                for row in push:
                    pushed.append(row["N"])
                    if row["N"] == 3:
                        break
            outputs = read_topic(settings, f"{name}_OUT", 100, last=b'{"D":6}')
            [listing] = client.execute("SHOW QUERIES;")
            table = client.pull(f"SELECT * FROM {name}_T WHERE ID = 2;")
        states = {q["id"]: q["state"] for q in listing["queries"] if name in q["id"]}
        log_topic = f"{own_engine.settings.ksql_service_id}ksql_processing_log"
        logged = [json.loads(r.value) for r in read_topic(settings, log_topic, 10)
                  if r.value and topic.upper() in r.value.decode("utf-8", "replace").upper()]
        print(f"\npoison records: push rows {pushed}, outputs {[r.value for r in outputs]}, "
              f"{len(logged)} processing-log entries, query states {states}")
        doubled = [json.loads(r.value)["D"] for r in outputs if r.value and json.loads(r.value)]
        assert is_subsequence([1, 2, 3], pushed), pushed  # the push query went on past the poison
        assert is_subsequence([2, 4, 6], doubled), doubled  # and so did the persistent query
        assert set(states.values()) == {"RUNNING"} and len(states) == 2, states
        assert table.to_dict("records") == [{"ID": 2, "S": 3}]
        assert len(logged) >= len(POISON_VALUES) + 1, logged  # the undecodable values and the bad key
    finally:
        delete_topics_containing(settings, topic)


def test_poison_in_the_pizza_topics_goes_to_pizza_errors_and_orders_complete(cluster, settings):
    topics = PizzaTopics(prefix=f"rel-{uuid.uuid4().hex[:6]}-")
    pipeline = Pipeline(seed=9, topics=topics, settings=settings, port=free_port(), fresh=True).start()
    try:
        producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
        poison = [b"not json", b'{"order_id": "", "number": 1}', b'{"order_id": "x", "number": "one"}', b"[]",
                  b"\xff", None]
        for topic in (PIZZA, WITH_CHEESE):
            for value in poison:
                producer.send(topics.name(topic), key=b"poison", value=value)
        producer.flush(30)
        producer.close()
        shop = pipeline.client
        order_id = shop.order(3)
        view = shop.wait(order_id, 60)
        errors = read_topic(settings, topics.name(ERRORS), 8)
        print(f"\npizza poison: order complete={view.complete}, {len(errors)} records in pizza-errors")
        assert view.complete and len(view.pizzas) == 3
        assert len(errors) >= 8  # 5 readable-as-bad values on each of two topics (tombstones may be skipped)
        assert all(pipeline.services[name].running for name in pipeline.services)
    finally:
        pipeline.stop()
        pipeline.delete_topics()
