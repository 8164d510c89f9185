"""Pattern 1, stop on error: halt at the first record that fails, commit nothing at or past it.

For data whose every event must be applied in order (a change-data-capture stream, a ledger), skipping a
record is worse than waiting. The consumer processes records in order, commits after each batch's output is
acknowledged, and at the first failure commits exactly up to the failing offset and stops. An operator
fixes the cause; a new consumer in the same group resumes at that very record.

Example:
    >>> # app = StopOnErrorConsumer(source="orders", output="orders-done", group_id="ledger", handler=apply)
    >>> # stats = app.run(timeout=30)      # stats.reason == "halted" -> app.halted.offset is the bad record
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from labkit.config import Settings
from labkit.patterns import clients
from labkit.patterns.app import ErrorCallback, Failure, PatternApp
from labkit.patterns.errors import InjectedCrash, StoppedOnError
from labkit.patterns.events import Handler, decode_event, echo_handler, output_value

if TYPE_CHECKING:
    from labkit.patterns.topology import PatternTopics


class StopOnErrorConsumer(PatternApp):
    """Processes `source` into `output` in order and halts at the first failing record."""

    name = "stop-on-error"

    def __init__(self, *, source: str, output: str, group_id: str, handler: Handler = echo_handler,
                 settings: Settings | None = None, poll_timeout: float = 0.2,
                 on_error: ErrorCallback | None = None) -> None:
        super().__init__(settings=settings, poll_timeout=poll_timeout, on_error=on_error)
        self.source = source
        self.output = output
        self.group_id = group_id
        self.handler = handler
        self.halted: StoppedOnError | None = None
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None

    @classmethod
    def for_topics(cls, topics: "PatternTopics", **options) -> "StopOnErrorConsumer":
        """The app wired to a run's main and output topics, in the run's "main" group."""
        return cls(source=topics.main, output=topics.output, group_id=topics.group("main"), **options)

    def _open(self) -> None:
        self.halted = None
        self._producer = clients.producer(self.settings)
        self._consumer = clients.consumer(self.settings, group_id=self.group_id)
        clients.subscribe(self._consumer, [self.source])

    def _close(self) -> None:
        try:
            if self._consumer is not None:
                self._consumer.close()
        finally:
            if self._producer is not None:
                self._producer.close()
            self._consumer = self._producer = None

    def _step(self, timeout_ms: int) -> tuple[int, bool]:
        assert self._consumer is not None and self._producer is not None
        batch = self._consumer.poll(timeout_ms=timeout_ms)
        futures = []
        commits: dict[TopicPartition, OffsetAndMetadata] = {}
        handled = 0
        for tp, records in sorted(batch.items()):
            for record in records:
                try:
                    event = decode_event(record.key, record.value)
                    result = self.handler(event, 1)
                except InjectedCrash:
                    raise
                except Exception as error:  # every failure halts; the error goes to on_error and .halted
                    self.halted = StoppedOnError(record.topic, record.partition, record.offset, error)
                    commits[tp] = OffsetAndMetadata(record.offset, "", -1)
                    self._report(Failure(self.name, record.topic, record.partition, record.offset,
                                         None if record.key is None else record.key.decode(errors="replace"),
                                         error, 1, "stop"))
                    break
                futures.append(self._producer.send(self.output, key=record.key,
                                                   value=output_value(event, result, attempt=1, via=self.name)))
                commits[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
                handled += 1
            if self.halted is not None:
                break
        if commits:
            self._producer.flush()
            clients.check_sent(futures)
            self._consumer.commit(commits)
        self._count("consumed", handled)
        self._count("processed", handled)
        if self.halted is not None:
            self._count("halted")
            self._finish("halted")
        return handled, bool(batch) or not self._consumer.assignment()
