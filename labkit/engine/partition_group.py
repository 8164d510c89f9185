"""Which fetched record a query processes next: Kafka Streams' PartitionGroup, per task.

Kafka Streams splits a query into tasks (partition N of every co-partitioned source topic) and, within a task,
always processes the buffered record with the smallest timestamp. When one of the task's partitions has nothing
buffered it decides from that partition's lag: unknown or greater than zero means "wait for the fetch"
(otherwise a stream record fetched before the table rows it should join would be processed first); zero means
the partition is caught up and the others go ahead ("enforced processing", `max.task.idle.ms=0`, ksqlDB's
default). A partition's buffer holds at most `buffered.records.per.partition` records: `add` returns the offset
of the first record that did not fit, and the caller seeks its consumer back there to fetch it again later.
(Kafka Streams pauses the partition instead; kafka-python 3.0.12 can leave a paused-then-resumed partition
parked for ever, which stalled a query for good, so labkit never pauses.)

    >>> from kafka import TopicPartition
    >>> from types import SimpleNamespace as R
    >>> group = PartitionGroups(lambda tp: 0)
    >>> group.assign([TopicPartition("t", 0), TopicPartition("s", 0)])
    >>> group.add(TopicPartition("s", 0), [R(topic="s", partition=0, timestamp=5, offset=0)])
    >>> group.add(TopicPartition("t", 0), [R(topic="t", partition=0, timestamp=1, offset=0)])
    >>> [r.topic for r in group.drain()]
    ['t', 's']
"""
from __future__ import annotations

import collections
import time
from typing import Any, Callable, Iterable, Iterator

from kafka import TopicPartition

__all__ = ["PartitionGroups", "BUFFERED_RECORDS_PER_PARTITION", "MAX_WAIT_S"]

BUFFERED_RECORDS_PER_PARTITION = 1000
"""Kafka Streams' `buffered.records.per.partition`: records fetched beyond it are dropped and fetched again."""

MAX_WAIT_S = 5.0
"""How long a task waits for a lagging partition whose data never arrives before it processes the others.

Kafka Streams waits until its task timeout; a position that never reaches the high watermark (a transaction
marker at the end of a partition) must not stall a query for ever."""

Lag = Callable[[TopicPartition], "int | None"]


class PartitionGroups:
    """Buffered records of a query's partitions, grouped into tasks and handed out in timestamp order."""

    def __init__(self, lag: Lag, *, buffered_per_partition: int = BUFFERED_RECORDS_PER_PARTITION,
                 max_wait_s: float = MAX_WAIT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._lag = lag
        self._limit = buffered_per_partition
        self._max_wait_s = max_wait_s
        self._clock = clock
        self._buffers: dict[TopicPartition, collections.deque[Any]] = {}
        self._tasks: list[list[TopicPartition]] = []
        self._blocked_since: dict[int, float] = {}

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Set the partitions read (buffers of partitions kept stay); tasks group partitions by number when
        every source topic has the same partition count (co-partitioned), else one task holds them all."""
        partitions = sorted(set(partitions))
        self._buffers = {tp: self._buffers.get(tp) or collections.deque() for tp in partitions}
        counts: dict[str, int] = collections.Counter(tp.topic for tp in partitions)
        if len(set(counts.values())) <= 1:
            by_number: dict[int, list[TopicPartition]] = collections.defaultdict(list)
            for tp in partitions:
                by_number[tp.partition].append(tp)
            self._tasks = [by_number[n] for n in sorted(by_number)]
        else:
            self._tasks = [partitions] if partitions else []
        self._blocked_since.clear()

    def add(self, tp: TopicPartition, records: Iterable[Any]) -> int | None:
        """Buffer the records fetched for one partition (in offset order), up to the partition's limit.

        Returns the offset of the first record that did not fit (seek the consumer back there), else None.
        """
        buffer = self._buffers.get(tp)
        if buffer is None:  # fetched just before an assignment change
            buffer = self._buffers[tp] = collections.deque()
        records = list(records)
        room = max(0, self._limit - len(buffer))
        if len(records) <= room:
            buffer.extend(records)
            return None
        buffer.extend(records[:room])
        return records[room].offset

    def buffered(self) -> int:
        """How many records wait in the buffers."""
        return sum(len(buffer) for buffer in self._buffers.values())

    def next_offset(self, tp: TopicPartition) -> int | None:
        """The offset of the first unprocessed buffered record of a partition, or None when it has none."""
        buffer = self._buffers.get(tp)
        return buffer[0].offset if buffer else None

    def clear(self) -> None:
        """Forget every buffered record (the consumer seeks back to the processed positions)."""
        for buffer in self._buffers.values():
            buffer.clear()
        self._blocked_since.clear()

    def drain(self) -> Iterator[Any]:
        """Yield the records that may be processed now, each task's oldest timestamp first.

        Stops for a task as soon as one of its partitions has nothing buffered while its lag is not zero.
        A caller that stops iterating early keeps the records not yet yielded buffered.
        """
        for number, task in enumerate(self._tasks):
            if len(task) == 1:
                buffer = self._buffers[task[0]]
                while buffer:
                    yield buffer.popleft()
                continue
            while True:
                record = self._pop_oldest(number, task)
                if record is None:
                    break
                yield record

    def _pop_oldest(self, number: int, task: list[TopicPartition]) -> Any | None:
        oldest: collections.deque[Any] | None = None
        waiting = False
        for tp in task:
            buffer = self._buffers[tp]
            if buffer:
                if oldest is None or buffer[0].timestamp < oldest[0].timestamp:
                    oldest = buffer
            elif self._lag(tp) != 0:
                waiting = True
        if oldest is None or not waiting:
            self._blocked_since.pop(number, None)
            return None if oldest is None else oldest.popleft()
        since = self._blocked_since.setdefault(number, self._clock())
        if self._clock() - since < self._max_wait_s:
            return None
        return oldest.popleft()  # waited long enough: process what is there (kept until the lag clears)
