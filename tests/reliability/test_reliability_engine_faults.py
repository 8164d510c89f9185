"""Engine faults: kill -9 during writes, then restart; poison commands in the command topic.

An engine process of the test's own (port, service id, run dir) over the shared cluster is killed with
SIGKILL while a producer keeps writing. The restarted engine replays its command topic: the stream, the
derived stream, the table and their queries are back, the queries resume from their committed offsets, and
the output topics hold every result (duplicates are counted: at-least-once allows them). Before one restart,
records the engine cannot read are appended to its command topic: it logs them, skips them and starts.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from labkit.engine.command_topic import command_topic_name
from labkit.ksql import KsqlClient

from reliability_support import delete_topics_containing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def read_values(settings, topic: str, until, timeout: float = 120.0) -> list[dict]:
    """Every JSON value in `topic`, re-read from the start until `until(values)` holds (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            ends = consumer.end_offsets(partitions)
            values: list[dict] = []
            while any(consumer.position(tp) < end for tp, end in ends.items()):
                for records in consumer.poll(timeout_ms=500).values():
                    values.extend(json.loads(r.value) for r in records if r.value is not None)
        finally:
            consumer.close()
        if until(values) or time.monotonic() > deadline:
            return values
        time.sleep(1)


class Writer:
    """Writes N = 0, 1, 2, … (acks=all) until stopped; remembers the acknowledged ones."""

    def __init__(self, settings, topic: str) -> None:
        self.producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=5)
        self.topic, self.acked, self.next = topic, set(), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            n = self.next
            self.next += 1
            self.producer.send(self.topic, key=(n % 10).to_bytes(4, "big"),
                               value=json.dumps({"N": n}).encode()).add_callback(lambda _, n=n: self.acked.add(n))
            self._stop.wait(0.005)
        self.producer.flush(60)

    def start(self) -> "Writer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self.producer.close(10)


def state_of(process) -> dict:
    with KsqlClient(process.settings.ksql_url, timeout=60) as client:
        streams, tables, queries = client.execute("SHOW STREAMS; SHOW TABLES; SHOW QUERIES;")
    return {"streams": sorted(s["name"] for s in streams["streams"]),
            "tables": sorted(t["name"] for t in tables["tables"]),
            "queries": sorted((q["id"], q["state"]) for q in queries["queries"])}


def test_kill_9_during_writes_then_replay_restores_everything(engine_factory, settings):
    process = engine_factory.start()
    name = f"KILL_{uuid.uuid4().hex[:6].upper()}"
    try:
        with KsqlClient(process.settings.ksql_url, timeout=60) as client:
            client.execute(f"CREATE STREAM {name}_IN (ID INT KEY, N INT) WITH (KAFKA_TOPIC='{name.lower()}_in', "
                           "PARTITIONS=2, VALUE_FORMAT='JSON');")
            client.execute(f"CREATE STREAM {name}_EVEN AS SELECT ID, N FROM {name}_IN WHERE N % 2 = 0;",
                           properties={"auto.offset.reset": "earliest"})
            client.execute(f"CREATE TABLE {name}_COUNT AS SELECT ID, COUNT(*) AS C FROM {name}_IN GROUP BY ID;",
                           properties={"auto.offset.reset": "earliest"})
        before = state_of(process)
        writer = Writer(settings, f"{name.lower()}_in").start()
        time.sleep(4)
        written_before_kill = writer.next
        os.kill(process.pid(), signal.SIGKILL)  # mid-batch: records were read, some outputs sent, not committed
        time.sleep(3)  # writes go on while the engine is down
        engine_factory.start(process=process)
        time.sleep(3)
        writer.stop()
        after = state_of(process)
        acked = set(writer.acked)
        evens = {n for n in acked if n % 2 == 0}
        out = read_values(settings, f"{name}_EVEN", lambda values: evens <= {v["N"] for v in values})
        seen = Counter(v["N"] for v in out)
        per_key = Counter(n % 10 for n in acked)
        def counted_all(values: list[dict]) -> bool:
            latest = _latest_counts(values, settings, f"{name}_COUNT")
            return all(latest[key] >= wanted for key, wanted in per_key.items())

        latest = _latest_counts(read_values(settings, f"{name}_COUNT", counted_all), settings, f"{name}_COUNT")
        duplicates = sum(c - 1 for c in seen.values())
        overcount = sum(latest.values()) - sum(per_key.values())
        print(f"\nkill -9 during writes: {len(acked)} written ({written_before_kill} before the kill), "
              f"{len(evens)} even; output has {len(set(seen))} distinct, {duplicates} duplicates; table counts "
              f"{overcount} over the {sum(per_key.values())} written (records counted twice after the replay)"
              f"; queries before {before['queries']}, after {after['queries']}")
        assert after == before
        assert all(state == "RUNNING" for _, state in after["queries"]), after
        assert evens <= set(seen), f"lost: {sorted(evens - set(seen))[:20]}"
        assert set(seen) <= evens
        assert duplicates <= len(evens)  # at-least-once: at most the replayed batches again
        # At-least-once (ksqlDB's default processing.guarantee): every record is counted, and the records of the
        # batch that was processed but not committed when the engine died may be counted twice.
        assert all(latest[key] >= wanted for key, wanted in per_key.items()), (latest, per_key)
        assert 0 <= overcount <= written_before_kill, (overcount, written_before_kill)
    finally:
        with KsqlClient(process.settings.ksql_url, timeout=60) as client:
            for query_id, _ in state_of(process)["queries"]:
                client.execute(f"TERMINATE {query_id};")
        delete_topics_containing(settings, name)


def _latest_counts(values: list[dict], settings, topic: str) -> Counter:
    """The table topic's latest C per key (keys are read again with the values)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None, enable_auto_commit=False)
    latest: dict[bytes, int] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    if r.value is not None:
                        latest[r.key] = json.loads(r.value)["C"]
    finally:
        consumer.close()
    return Counter({int.from_bytes(key, "big"): count for key, count in latest.items()})


POISON = [
    (b'"stream/`X`/create"', b"this is not json"),
    (b'"stream/`X`/create"', b'{"statement": "CREATE STREAM ;;; garbage", "streamsProperties": {}, '
                             b'"originalProperties": {}, "version": 1}'),
    (b'"stream/`X`/create"', b'{"statement": "CREATE STREAM FUTURE (A INT) WITH (KAFKA_TOPIC=\'f\', '
                             b'VALUE_FORMAT=\'JSON\');", "streamsProperties": {}, "originalProperties": {}, '
                             b'"version": 99}'),
    (b"not-a-json-key", b'{"statement": 42}'),
    (b'"terminate/NO_SUCH_QUERY/execute"', b'{"statement": "TERMINATE NO_SUCH_QUERY;", "streamsProperties": {}, '
                                           b'"originalProperties": {}, "version": 1}'),
    (b'"stream/`X`/create"', None),  # a tombstone
    (b'"stream/`X`/create"', b"\xff\xfe\x00\x01"),
    (b'"stream/`X`/create"', b"[]"),
]


def test_poison_commands_are_logged_and_skipped(engine_factory, settings):
    process = engine_factory.start()
    name = f"POISON_{uuid.uuid4().hex[:6].upper()}"
    topic = command_topic_name(process.settings.ksql_service_id)
    try:
        with KsqlClient(process.settings.ksql_url, timeout=60) as client:
            client.execute(f"CREATE STREAM {name}_A (ID INT KEY, N INT) WITH (KAFKA_TOPIC='{name.lower()}_a', "
                           "PARTITIONS=1, VALUE_FORMAT='JSON');")
        producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
        for key, value in POISON:
            producer.send(topic, key=key, value=value)
        producer.flush(30)
        producer.close()
        with KsqlClient(process.settings.ksql_url, timeout=60) as client:  # a good command after the poison
            client.execute(f"CREATE STREAM {name}_B AS SELECT ID, N FROM {name}_A;")
        before = state_of(process)
        process.down()
        engine_factory.start(process=process, timeout=120)
        after = state_of(process)
        log = process.log_path.read_text(errors="replace")
        print(f"\npoison commands: engine restarted with {after['streams']}, {len(after['queries'])} queries")
        assert after == before
        assert f"{name}_B" in after["streams"] and all(state == "RUNNING" for _, state in after["queries"])
        skipped = [line for line in log.splitlines() if "skip" in line.lower()]
        assert len(skipped) >= len(POISON), log[-3000:]
    finally:
        with KsqlClient(process.settings.ksql_url, timeout=60) as client:
            for query_id, _ in state_of(process)["queries"]:
                client.execute(f"TERMINATE {query_id};")
        delete_topics_containing(settings, name)
