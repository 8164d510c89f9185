"""Pattern 2, the error topic (dead-letter queue): park what cannot be processed, keep the flow going.

A record that can never be processed (not JSON, the wrong shape, a null value, a poison pill) is written to
the error topic with headers saying where it came from, why it failed, how often it was tried and when.
The write is acknowledged *before* the source offset is committed: if it fails, nothing is committed and
the record is read again, so a record is never lost between the two topics.

Example:
    >>> # with DeadLetterConsumer(source="orders", output="orders-ok", error_topic="orders-errors",
    >>> #                         group_id="orders-app") as app:
    >>> #     ...                                   # bad records land in orders-errors, the rest flows
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from labkit.config import Settings
from labkit.patterns import clients, headers as hdr
from labkit.patterns.app import ErrorCallback, Failure, PatternApp
from labkit.patterns.errors import InjectedCrash
from labkit.patterns.events import Handler, decode_event, echo_handler, output_value

if TYPE_CHECKING:
    from labkit.patterns.topology import PatternTopics


class DeadLetterWriter:
    """Sends a failed record, unchanged, to the error topic with failure headers (I7)."""

    def __init__(self, producer: KafkaProducer, error_topic: str, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.producer = producer
        self.error_topic = error_topic
        self.clock = clock

    def send(self, record, error: BaseException, *, attempts: int, message_id: str | None = None):
        """Queue the record for the error topic; returns the send future (flush before committing)."""
        origin = hdr.origin(hdr.decode(record.headers)) or (record.topic, record.partition, record.offset)
        topic, partition, offset = origin
        headers = hdr.failure_headers(topic=topic, partition=partition, offset=offset, error=error,
                                      attempts=attempts, failed_at_ms=int(self.clock() * 1000),
                                      message_id=message_id)
        return self.producer.send(self.error_topic, key=record.key, value=record.value, headers=headers)


def key_text(record) -> str | None:
    """A record's key as text (None for a keyless record)."""
    return None if record.key is None else record.key.decode("utf-8", errors="replace")


class DeadLetterConsumer(PatternApp):
    """Processes `source` into `output`; every record that fails goes to `error_topic`, and the app goes on."""

    name = "dead-letter"

    def __init__(self, *, source: str, output: str, error_topic: str, group_id: str,
                 handler: Handler = echo_handler, settings: Settings | None = None, poll_timeout: float = 0.2,
                 on_error: ErrorCallback | None = None) -> None:
        super().__init__(settings=settings, poll_timeout=poll_timeout, on_error=on_error)
        self.source = source
        self.output = output
        self.error_topic = error_topic
        self.group_id = group_id
        self.handler = handler
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._dead_letters: DeadLetterWriter | None = None

    @classmethod
    def for_topics(cls, topics: "PatternTopics", **options) -> "DeadLetterConsumer":
        """The app wired to a run's main, output and error topics, in the run's "main" group."""
        return cls(source=topics.main, output=topics.output, error_topic=topics.error, group_id=topics.group("main"),
                   **options)

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
        futures = []
        commits: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in sorted(batch.items()):
            for record in records:
                try:
                    event = decode_event(record.key, record.value)
                    result = self.handler(event, 1)
                except InjectedCrash:
                    raise
                except Exception as error:  # cannot be processed: to the error topic, with its reason
                    futures.append(self._dead_letters.send(record, error, attempts=1))
                    self._report(Failure(self.name, record.topic, record.partition, record.offset,
                                         key_text(record), error, 1, "error-topic"))
                    self._count("dead_lettered")
                else:
                    futures.append(self._producer.send(
                        self.output, key=record.key, value=output_value(event, result, attempt=1, via=self.name)))
                    self._count("processed")
                commits[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        handled = sum(len(records) for records in batch.values())
        if commits:
            self._producer.flush()           # the error-topic writes are acknowledged ...
            clients.check_sent(futures)
            self._consumer.commit(commits)   # ... before the offsets move past them
        self._count("consumed", handled)
        return handled, bool(batch) or not self._consumer.assignment()
