"""When a persistent query flushes and commits, and what it writes to its changelogs (no broker: a scripted
consumer feeds the live runtime's runner)."""
from __future__ import annotations

from kafka import TopicPartition

from labkit.engine.changelog import decode_state
from labkit.engine.engine import KsqlEngine
from labkit.engine.kafka_runtime import _PersistentRunner
from labkit.engine.topics import InMemoryTopicStore

from test_partition_order import FakeRuntime, ScriptedConsumer


class CountingRuntime(FakeRuntime):
    """A FakeRuntime that counts flushes, keeps what is sent, and has no changelog history to restore."""

    def __init__(self, *, max_poll_records: int, commit_interval_s: float) -> None:
        super().__init__()
        self.max_poll_records = max_poll_records
        self.commit_interval_s = commit_interval_s
        self.flushes = 0
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.readers = self

    def flush(self) -> None:
        self.flushes += 1

    def send(self, topic, key, value, timestamp, headers, *, partition=None) -> None:
        self.sent.append((topic, key, value))

    def ensure_changelog(self, topic, source_topics) -> None:
        return None

    def acquire(self) -> ScriptedConsumer:  # a pooled reader of an empty changelog
        return ScriptedConsumer([], {})

    def release(self, reader) -> None:
        return None


def _runner(sql: str, records: int, polls: list[int], **runtime) -> tuple[_PersistentRunner, ScriptedConsumer,
                                                                          CountingRuntime, InMemoryTopicStore]:
    store = InMemoryTopicStore()
    engine = KsqlEngine(store)
    engine.execute("CREATE STREAM S (ID INT KEY, V INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');")
    for n in range(records):
        engine.execute(f"INSERT INTO S (ROWTIME, ID, V) VALUES ({1000 + n}, {n % 2}, {n});")
    engine.execute(sql, properties={"auto.offset.reset": "earliest"})
    [query] = [q for q in engine.runtime.queries.values() if q.sink_topic is not None]
    written = list(store.records("s"))
    tp = TopicPartition("s", 0)
    script, start = [], 0
    for size in polls:
        script.append({tp: written[start:start + size]})
        start += size
    consumer = ScriptedConsumer(polls=script, ends={tp: records})
    fake = CountingRuntime(**runtime)
    runner = _PersistentRunner(fake, query)  # type: ignore[arg-type]
    runner.consumer = consumer
    consumer.assign([tp])
    runner.groups.assign([tp])
    return runner, consumer, fake, store


def test_batches_while_behind_wait_for_the_commit_interval_and_a_caught_up_batch_commits():
    runner, consumer, fake, _ = _runner("CREATE STREAM T AS SELECT * FROM S;", 5, [2, 2, 1],
                                        max_poll_records=2, commit_interval_s=3600)
    tp = TopicPartition("s", 0)
    assert runner._poll_once(consumer) and runner._poll_once(consumer)  # fetched up to 2, then 4, of 5: behind
    assert consumer.committed_offsets == {} and fake.flushes == 0 and runner.positions == {}
    assert runner._poll_once(consumer)  # fetched up to the end offset: caught up
    assert consumer.committed_offsets == {tp: 5} and fake.flushes == 1 and runner.positions == {("s", 0): 5}


def test_a_batch_while_behind_commits_once_the_interval_has_passed():
    runner, consumer, fake, _ = _runner("CREATE STREAM T AS SELECT * FROM S;", 4, [2, 2],
                                        max_poll_records=2, commit_interval_s=0.0)
    assert runner._poll_once(consumer)
    assert consumer.committed_offsets == {TopicPartition("s", 0): 2} and fake.flushes == 1


def test_a_stopping_query_flushes_and_commits_what_it_processed():
    runner, consumer, fake, _ = _runner("CREATE STREAM T AS SELECT * FROM S;", 2, [2],
                                        max_poll_records=2, commit_interval_s=3600)
    runner.stopping.set()
    runner._poll_once(consumer)
    assert fake.flushes == 1 and consumer.committed_offsets == {TopicPartition("s", 0): 1}  # stopped after one


def test_the_changelog_gets_each_changed_key_once_per_commit_with_its_latest_value():
    runner, consumer, fake, store = _runner("CREATE TABLE C AS SELECT ID, COUNT(*) AS N FROM S GROUP BY ID;", 5,
                                            [2, 2, 1], max_poll_records=2, commit_interval_s=3600)
    runner._bind_stores()
    assert runner._poll_once(consumer) and runner._poll_once(consumer)
    assert fake.sent == []  # behind: nothing on the changelog before the commit
    assert runner._poll_once(consumer)  # caught up: the commit writes the changelog, then flushes
    assert fake.flushes == 1 and {topic for topic, _, _ in fake.sent} == {runner._changelogs[0][1]}
    changelog = [(decode_state(key), decode_state(value)) for _, key, value in fake.sent]
    # keys 0 and 1 once each, with their latest aggregate (row: key, ROWTIME, count) although five records updated them
    assert changelog == [((0,), [[0, 1004, 3], 1004]), ((1,), [[1, 1003, 2], 1003])]
    assert len(store.records("C")) == 5  # every update still reaches the sink topic
