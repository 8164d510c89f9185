"""Kafka Streams' record order within a task, fed through the live runtime's query runner without a broker."""
from __future__ import annotations

import json
from types import SimpleNamespace

from kafka import TopicPartition

from labkit.engine.engine import KsqlEngine
from labkit.engine.kafka_runtime import _PersistentRunner
from labkit.engine.partition_group import PartitionGroups
from labkit.engine.topics import InMemoryTopicStore


class ScriptedConsumer:
    """The KafkaConsumer calls a runner makes, answered from a script of polls (no broker)."""

    def __init__(self, polls: list[dict], ends: dict[TopicPartition, int]) -> None:
        self.polls = list(polls)
        self.ends = ends
        self.fetched: dict[TopicPartition, int] = {}
        self.assigned: set[TopicPartition] = set()
        self.paused_set: set[TopicPartition] = set()
        self.committed_offsets: dict[TopicPartition, int] = {}

    def assign(self, partitions):
        self.assigned = set(partitions)

    def assignment(self):
        return set(self.assigned)

    def poll(self, timeout_ms=0):
        batch = self.polls.pop(0) if self.polls else {}
        for tp, records in batch.items():
            self.fetched[tp] = records[-1].offset + 1
        return batch

    def highwater(self, tp):
        return self.ends[tp] if tp in self.fetched else None

    def end_offsets(self, partitions):
        return {tp: self.ends[tp] for tp in partitions}

    def position(self, tp):
        return self.fetched.get(tp, 0)

    def paused(self):
        return set(self.paused_set)

    def pause(self, *partitions):
        self.paused_set |= set(partitions)

    def resume(self, *partitions):
        self.paused_set -= set(partitions)

    def commit(self, offsets):
        self.committed_offsets.update({tp: meta.offset for tp, meta in offsets.items()})

    def partitions_for_topic(self, topic):
        return {tp.partition for tp in self.assigned if tp.topic == topic}


class FakeRuntime:
    """What a runner needs from KafkaRuntime: ids, poll timeout, flush and the thread-local runner slot."""

    service_id = "test_"
    poll_timeout_ms = 0
    max_poll_records = 1000
    commit_interval_s = 2.0

    def __init__(self) -> None:
        self._local = SimpleNamespace()

    def flush(self) -> None:
        return None


def _engine_with_join() -> tuple[KsqlEngine, InMemoryTopicStore]:
    store = InMemoryTopicStore()
    engine = KsqlEngine(store)
    engine.execute("CREATE TABLE USERS (ID INT PRIMARY KEY, NAME STRING) WITH (KAFKA_TOPIC='users', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');"
                   "CREATE STREAM CLICKS (ID INT KEY, PAGE STRING) WITH (KAFKA_TOPIC='clicks', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    for user in range(3):
        engine.execute(f"INSERT INTO USERS (ROWTIME, ID, NAME) VALUES (1000, {user}, 'user{user}');")
    for user in range(3):
        engine.execute(f"INSERT INTO CLICKS (ROWTIME, ID, PAGE) VALUES ({1001 + user}, {user}, 'p{user}');")
    engine.execute("CREATE STREAM ENRICHED AS SELECT C.ID, C.PAGE, U.NAME FROM CLICKS C JOIN USERS U ON C.ID = U.ID;",
                   properties={"auto.offset.reset": "earliest"})
    return engine, store


def test_stream_records_fetched_before_the_table_rows_still_join_them():
    engine, store = _engine_with_join()
    [query] = [q for q in engine.runtime.queries.values() if q.sink_topic == "ENRICHED"]
    users, clicks = TopicPartition("users", 0), TopicPartition("clicks", 0)
    consumer = ScriptedConsumer(polls=[{clicks: list(store.records("clicks"))}, {users: list(store.records("users"))}],
                                ends={users: 3, clicks: 3})
    runner = _PersistentRunner(FakeRuntime(), query)
    runner.consumer = consumer
    consumer.assign([users, clicks])
    runner.groups.assign([users, clicks])

    assert runner._poll_once(consumer)  # only the clicks arrived: the users partition lags, so nothing runs
    assert store.records("ENRICHED") == [] and consumer.committed_offsets == {}
    assert runner._poll_once(consumer)
    joined = [json.loads(r.value) for r in store.records("ENRICHED")]
    assert joined == [{"PAGE": f"p{n}", "NAME": f"user{n}"} for n in range(3)]
    assert consumer.committed_offsets == {users: 3, clicks: 3}


def test_a_caught_up_partition_does_not_hold_back_the_others():
    engine, store = _engine_with_join()
    [query] = [q for q in engine.runtime.queries.values() if q.sink_topic == "ENRICHED"]
    users, clicks = TopicPartition("users", 0), TopicPartition("clicks", 0)
    consumer = ScriptedConsumer(polls=[{users: list(store.records("users"))}, {clicks: list(store.records("clicks"))}],
                                ends={users: 3, clicks: 3})
    runner = _PersistentRunner(FakeRuntime(), query)
    runner.consumer = consumer
    consumer.assign([users, clicks])
    runner.groups.assign([users, clicks])
    assert runner._poll_once(consumer)  # users (timestamp 1000) come first while clicks lag: they wait
    assert consumer.committed_offsets == {}
    assert runner._poll_once(consumer)
    assert len(store.records("ENRICHED")) == 3


def _record(topic: str, partition: int, offset: int, timestamp: int) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, timestamp=timestamp)


def test_tasks_are_partitions_of_one_number_and_each_is_ordered_by_timestamp():
    lags = {}
    group = PartitionGroups(lambda tp: lags.get(tp, 0))
    a0, a1, b0, b1 = (TopicPartition(t, p) for t, p in (("a", 0), ("a", 1), ("b", 0), ("b", 1)))
    group.assign([a0, a1, b0, b1])
    group.add(a0, [_record("a", 0, 0, 30), _record("a", 0, 1, 40)])
    group.add(b0, [_record("b", 0, 0, 10), _record("b", 0, 1, 35)])
    group.add(a1, [_record("a", 1, 0, 5)])
    lags[b1] = 2  # task 1 waits for b-1; task 0 goes on
    order = [(r.topic, r.partition, r.timestamp) for r in group.drain()]
    assert order == [("b", 0, 10), ("a", 0, 30), ("b", 0, 35), ("a", 0, 40)]
    assert group.next_offset(a1) == 0
    lags[b1] = 0
    assert [(r.topic, r.partition) for r in group.drain()] == [("a", 1)]


def test_a_task_stops_when_a_partition_runs_dry_and_still_lags():
    lags = {}
    group = PartitionGroups(lambda tp: lags.get(tp, 0))
    s, t = TopicPartition("s", 0), TopicPartition("t", 0)
    group.assign([s, t])
    group.add(s, [_record("s", 0, 0, 10), _record("s", 0, 1, 20)])
    group.add(t, [_record("t", 0, 0, 5)])
    lags[t] = 4
    assert [(r.topic, r.timestamp) for r in group.drain()] == [("t", 5)]  # then t is empty and lags
    assert group.buffered() == 2


def test_waiting_ends_after_the_maximum_wait_and_what_does_not_fit_is_fetched_again():
    now = [0.0]
    group = PartitionGroups(lambda tp: 1, buffered_per_partition=2, max_wait_s=5, clock=lambda: now[0])
    s, t = TopicPartition("s", 0), TopicPartition("t", 0)
    group.assign([s, t])
    assert group.add(s, [_record("s", 0, 0, 10)]) is None
    # the buffer takes one more; the caller is told to fetch offset 2 again
    assert group.add(s, [_record("s", 0, 1, 20), _record("s", 0, 2, 30)]) == 2
    assert group.add(s, [_record("s", 0, 2, 30)]) == 2  # full: nothing fits
    assert list(group.drain()) == [] and group.buffered() == 2
    now[0] = 6.0
    assert [r.offset for r in group.drain()] == [0, 1]
    assert group.add(s, [_record("s", 0, 2, 30)]) is None


def test_partitions_of_topics_with_different_counts_form_one_task():
    group = PartitionGroups(lambda tp: 0)
    a0, b0, b1 = TopicPartition("a", 0), TopicPartition("b", 0), TopicPartition("b", 1)
    group.assign([a0, b0, b1])
    group.add(b1, [_record("b", 1, 0, 3)])
    group.add(a0, [_record("a", 0, 0, 1)])
    group.add(b0, [_record("b", 0, 0, 2)])
    assert [r.timestamp for r in group.drain()] == [1, 2, 3]
