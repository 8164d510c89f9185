"""Pattern 3, retry topics and a retry app: move temporary failures aside, try them again after a delay.

The main app sends a record whose handler raised TransientError to a retry topic (one per delay level if
you like: `orders-retry-1` waits 1 s, `orders-retry-2` waits 10 s, …) and goes on with the next record. The
retry app reads the retry topics and tries each record once its delay has passed; it waits by *pausing*
the partition and polling on, never by sleeping, so it stays in its group however long the delay. After
`max_attempts` tries a record goes to the error topic. This pattern does not keep per-key order: later
events of a key pass the one waiting in the retry topic (the lesson shows the check failing).

Example:
    >>> policy = RetryPolicy.tiered("orders-retry", delays=(1.0, 10.0), max_attempts=3)
    >>> [level.topic for level in policy.levels]
    ['orders-retry-1', 'orders-retry-2']
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from labkit.config import Settings
from labkit.patterns import clients, headers as hdr
from labkit.patterns.app import ErrorCallback, Failure, PatternApp
from labkit.patterns.dead_letter import DeadLetterWriter, key_text
from labkit.patterns.errors import InjectedCrash, TransientError
from labkit.patterns.events import Handler, decode_event, echo_handler, output_value
from labkit.patterns.faults import BEFORE_COMMIT

if TYPE_CHECKING:
    from labkit.patterns.topology import PatternTopics

CrashHook = Callable[[str], None]


def _no_crash(point: str) -> None:
    """The default crash hook: never crash."""


@dataclass(frozen=True)
class RetryLevel:
    """One retry topic and how long a record waits in it before it is tried again (seconds)."""

    topic: str
    delay: float


@dataclass(frozen=True)
class RetryPolicy:
    """Retry topics (delay levels) and how many attempts a record gets in all, the first one included."""

    levels: tuple[RetryLevel, ...]
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("A retry policy needs at least one retry topic.")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1.")

    @classmethod
    def single(cls, topic: str, *, delay: float, max_attempts: int = 3) -> "RetryPolicy":
        """One retry topic with one delay."""
        return cls((RetryLevel(topic, delay),), max_attempts)

    @classmethod
    def tiered(cls, prefix: str, *, delays: Sequence[float], max_attempts: int | None = None) -> "RetryPolicy":
        """One retry topic per delay, named prefix-1, prefix-2, …; by default one attempt per level plus the first."""
        levels = tuple(RetryLevel(f"{prefix}-{n}", d) for n, d in enumerate(delays, start=1))
        return cls(levels, max_attempts if max_attempts is not None else len(levels) + 1)

    @property
    def topics(self) -> list[str]:
        """The retry topics, first level first."""
        return [level.topic for level in self.levels]

    def level_after(self, failures: int) -> RetryLevel:
        """The level a record goes to after `failures` failed attempts (the last level repeats)."""
        return self.levels[min(max(failures, 1), len(self.levels)) - 1]

    def delay_of(self, topic: str) -> float:
        """The delay of a retry topic (0 for a topic that is not one of the levels)."""
        return next((level.delay for level in self.levels if level.topic == topic), 0.0)


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (what the retry headers use)."""
    return int(time.time() * 1000)


def send_to_retry(producer: KafkaProducer, record, error: BaseException | None, *, topic: str, failures: int,
                  delay: float, message_id: str | None = None):
    """Queue `record` for a retry topic with its origin, the error, the failure count and when to try again."""
    origin = hdr.origin(hdr.decode(record.headers)) or (record.topic, record.partition, record.offset)
    sent_at = now_ms()
    headers = hdr.failure_headers(
        topic=origin[0], partition=origin[1], offset=origin[2],
        error=error if error is not None else TransientError("redirected behind an earlier event of its key"),
        attempts=failures, failed_at_ms=sent_at, message_id=message_id,
        not_before_ms=sent_at + int(delay * 1000))
    return producer.send(topic, key=record.key, value=record.value, headers=headers)


class RetryingConsumer(PatternApp):
    """The main app of pattern 3: output on success, retry topic on TransientError, error topic otherwise."""

    name = "main"

    def __init__(self, *, source: str, output: str, error_topic: str, policy: RetryPolicy, group_id: str,
                 handler: Handler = echo_handler, settings: Settings | None = None, poll_timeout: float = 0.2,
                 on_error: ErrorCallback | None = None) -> None:
        super().__init__(settings=settings, poll_timeout=poll_timeout, on_error=on_error)
        self.source, self.output, self.error_topic = source, output, error_topic
        self.policy, self.group_id, self.handler = policy, group_id, handler
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._dead_letters: DeadLetterWriter | None = None

    @classmethod
    def for_topics(cls, topics: "PatternTopics", policy: RetryPolicy, **options) -> "RetryingConsumer":
        """The main app wired to a run's topics, in the run's "main" group."""
        return cls(source=topics.main, output=topics.output, error_topic=topics.error, policy=policy,
                   group_id=topics.group("main"), **options)

    def _open(self) -> None:
        self._producer = clients.producer(self.settings)
        self._dead_letters = DeadLetterWriter(self._producer, self.error_topic)
        self._consumer = clients.consumer(self.settings, group_id=self.group_id)
        clients.subscribe(self._consumer, [self.source])

    def _close(self) -> None:
        try:
            if self._consumer is not None:
                self._consumer.close()
        finally:
            if self._producer is not None:
                self._producer.close()
            self._consumer = self._producer = self._dead_letters = None

    def _step(self, timeout_ms: int) -> tuple[int, bool]:
        assert self._consumer is not None and self._producer is not None and self._dead_letters is not None
        batch = self._consumer.poll(timeout_ms=timeout_ms)
        futures, commits = [], {}
        for tp, records in sorted(batch.items()):
            for record in records:
                futures.append(self._handle(record))
                commits[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        if commits:
            self._producer.flush()
            clients.check_sent(futures)
            self._consumer.commit(commits)
        handled = sum(len(records) for records in batch.values())
        self._count("consumed", handled)
        return handled, bool(batch) or not self._consumer.assignment()

    def _handle(self, record):
        try:
            event = decode_event(record.key, record.value)
            result = self.handler(event, 1)
        except InjectedCrash:
            raise
        except TransientError as error:
            if self.policy.max_attempts <= 1:
                return self._dead_letter(record, error)
            level = self.policy.level_after(1)
            self._report(Failure(self.name, record.topic, record.partition, record.offset, key_text(record),
                                 error, 1, "retry"))
            self._count("retried")
            return send_to_retry(self._producer, record, error, topic=level.topic, failures=1, delay=level.delay)
        except Exception as error:  # permanent: to the error topic with its reason
            return self._dead_letter(record, error)
        self._count("processed")
        return self._producer.send(self.output, key=record.key,
                                   value=output_value(event, result, attempt=1, via="main"))

    def _dead_letter(self, record, error: BaseException):
        self._report(Failure(self.name, record.topic, record.partition, record.offset, key_text(record),
                             error, 1, "error-topic"))
        self._count("dead_lettered")
        return self._dead_letters.send(record, error, attempts=1)


class _ForgetOnRevoke(ConsumerRebalanceListener):
    """Drops the retry app's pause schedule for partitions it loses in a rebalance."""

    def __init__(self, app: "RetryApp") -> None:
        self.app = app

    def on_partitions_revoked(self, revoked) -> None:
        if revoked:
            self.app._count("rebalances")
        for tp in revoked:
            self.app._paused.pop(tp, None)
            self.app._in_place = {k: v for k, v in self.app._in_place.items() if k[0] != tp}

    def on_partitions_assigned(self, assigned) -> None:
        """Nothing to set up (positions come from the committed offsets); counted for the tests."""
        self.app._count("assignments")


class RetryApp(PatternApp):
    """Reads the retry topics, waits out each record's delay by pausing, and tries it again.

    A record that fails again moves to the next level (or, with `in_place=True`, is tried again in place so
    nothing behind it overtakes it; ordered retry needs that). After `policy.max_attempts` attempts, or on a
    permanent error, it goes to the error topic.
    """

    name = "retry-app"

    def __init__(self, *, output: str, error_topic: str, policy: RetryPolicy, group_id: str,
                 handler: Handler = echo_handler, in_place: bool = False, settings: Settings | None = None,
                 poll_timeout: float = 0.2, on_error: ErrorCallback | None = None,
                 crash_hook: CrashHook = _no_crash, consumer_config: Mapping[str, object] | None = None) -> None:
        super().__init__(settings=settings, poll_timeout=poll_timeout, on_error=on_error)
        self.output, self.error_topic, self.policy = output, error_topic, policy
        self.consumer_config = dict(consumer_config or {})
        self.group_id, self.handler, self.in_place, self.crash_hook = group_id, handler, in_place, crash_hook
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._dead_letters: DeadLetterWriter | None = None
        self._paused: dict[TopicPartition, float] = {}       # partition -> when to resume (monotonic s)
        self._in_place: dict[tuple[TopicPartition, int], int] = {}  # (partition, offset) -> attempts so far

    @classmethod
    def for_topics(cls, topics: "PatternTopics", policy: RetryPolicy, **options) -> "RetryApp":
        """The retry app wired to a run's topics, in the run's "retry" group."""
        return cls(output=topics.output, error_topic=topics.error, policy=policy, group_id=topics.group("retry"),
                   **options)

    def _open(self) -> None:
        self._paused.clear()
        self._in_place.clear()
        self._producer = clients.producer(self.settings)
        self._dead_letters = DeadLetterWriter(self._producer, self.error_topic)
        self._consumer = clients.consumer(self.settings, group_id=self.group_id, **self.consumer_config)
        clients.subscribe(self._consumer, self.policy.topics, listener=_ForgetOnRevoke(self))

    def _close(self) -> None:
        try:
            if self._consumer is not None:
                self._consumer.close()
        finally:
            if self._producer is not None:
                self._producer.close()
            self._consumer = self._producer = self._dead_letters = None

    def _resume_due(self) -> int:
        """Resume partitions whose wait is over; return ms until the next one is due (or -1 if none waits)."""
        now = time.monotonic()
        for tp in [tp for tp, due in self._paused.items() if due <= now]:
            del self._paused[tp]
            self._consumer.resume(tp)
        if not self._paused:
            return -1
        return max(1, int((min(self._paused.values()) - now) * 1000))

    def _wait(self, tp: TopicPartition, offset: int, seconds: float) -> None:
        """Come back to `offset` of `tp` after `seconds`, without blocking the other partitions or the group."""
        self._consumer.seek(tp, offset)
        self._consumer.pause(tp)
        self._paused[tp] = time.monotonic() + max(0.0, seconds)

    def _step(self, timeout_ms: int) -> tuple[int, bool]:
        assert self._consumer is not None and self._producer is not None
        next_due = self._resume_due()
        if next_due >= 0:
            timeout_ms = min(timeout_ms, next_due)
        batch = self._consumer.poll(timeout_ms=timeout_ms)
        futures, commits, settled = [], {}, []
        for tp, records in sorted(batch.items()):
            for record in records:
                wait_s = (hdr.not_before_ms(hdr.decode(record.headers)) - now_ms()) / 1000
                if wait_s > 0 and (tp, record.offset) not in self._in_place:
                    self._wait(tp, record.offset, wait_s)
                    break
                outcome = self._attempt(tp, record)
                if outcome is None:  # waits in place: nothing behind it may pass
                    break
                futures.append(outcome)
                settled.append(record)
                commits[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        if commits:
            self._producer.flush()
            clients.check_sent(futures)
            self._after_settled(settled)
            self.crash_hook(BEFORE_COMMIT)
            self._consumer.commit(commits)
        self._count("settled", len(settled))
        return len(settled), bool(batch) or bool(self._paused) or not self._consumer.assignment()

    def _after_settled(self, records: list) -> None:
        """Called once a batch's outputs and error-topic writes are acknowledged, before the commit."""

    def _message_id(self, record) -> str | None:
        return hdr.decode(record.headers).get(hdr.MESSAGE_ID)

    def _attempt(self, tp: TopicPartition, record):
        """Try one record; returns the future of its final write, or None if it must be tried again in place."""
        failures = max(hdr.attempts(hdr.decode(record.headers)), self._in_place.get((tp, record.offset), 0))
        attempt = failures + 1
        try:
            event = decode_event(record.key, record.value)
            result = self.handler(event, attempt)
        except InjectedCrash:
            raise
        except TransientError as error:
            if attempt >= self.policy.max_attempts:
                return self._dead_letter(record, error, attempt)
            level = self.policy.level_after(attempt)
            if self.in_place:
                self._report(Failure(self.name, record.topic, record.partition, record.offset, key_text(record),
                                     error, attempt, "in-place"))
                self._in_place[(tp, record.offset)] = attempt
                self._wait(tp, record.offset, level.delay)
                return None
            self._report(Failure(self.name, record.topic, record.partition, record.offset, key_text(record),
                                 error, attempt, "retry"))
            self._count("retried")
            return send_to_retry(self._producer, record, error, topic=level.topic, failures=attempt,
                                 delay=level.delay, message_id=self._message_id(record))
        except Exception as error:  # permanent: to the error topic with its reason
            return self._dead_letter(record, error, attempt)
        self._in_place.pop((tp, record.offset), None)
        self._count("processed")
        return self._producer.send(self.output, key=record.key,
                                   value=output_value(event, result, attempt=attempt, via="retry"))

    def _dead_letter(self, record, error: BaseException, attempt: int):
        self._report(Failure(self.name, record.topic, record.partition, record.offset, key_text(record),
                             error, attempt, "error-topic"))
        self._count("dead_lettered")
        self._in_place.pop((TopicPartition(record.topic, record.partition), record.offset), None)
        return self._dead_letters.send(record, error, attempts=attempt, message_id=self._message_id(record))
