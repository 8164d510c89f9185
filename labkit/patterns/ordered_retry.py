"""Pattern 4, ordered retry: a redirect topic and an in-memory store keep each key's events in order.

Main app, for each record of the main topic:
  1. its key has ids in the in-memory store (an earlier event of the key waits in retry): redirect it;
  2. otherwise process it; on TransientError redirect it; on any other error send it to the error topic.
Redirecting writes a lock (key = the record's unique message id, value = its group key) to the compacted
redirect topic, waits for the acknowledgement, adds the id to the store, and only then writes the record to
the retry topic with the id in a header. The retry app tries the retry topic's records in order (in place,
so nothing overtakes a waiting record), writes the output, and then a tombstone for the id to the redirect
topic; the main app reads it and frees that one id.

Why the dual write goes redirect first: if the app dies between the two writes, the lock exists without a
retry record (an *orphan lock*). On start the main app rebuilds its store from the redirect topic, looks
for each stored id in the retry topic (from the retry app's committed offset on), and re-sends the record
of an orphan when it reads it again (its offset was never committed). The other order would leave a retry
record without a lock: the restarted app would process the key's next events before the retried one.

Example:
    >>> # with OrderedRetryApp(...), OrderedMainApp(...) as main:
    >>> #     wait_until(lambda: len(main.store) == 0 and ...)
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Mapping

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from labkit.config import Settings
from labkit.patterns import clients, headers as hdr
from labkit.patterns.app import ErrorCallback, Failure, PatternApp
from labkit.patterns.dead_letter import DeadLetterWriter, key_text
from labkit.patterns.errors import InjectedCrash, RecoveryError, TransientError
from labkit.patterns.events import Handler, decode_event, echo_handler, output_value
from labkit.patterns.faults import BETWEEN_OUTPUT_AND_TOMBSTONE, BETWEEN_REDIRECT_AND_RETRY, BEFORE_COMMIT
from labkit.patterns.redirect_store import RedirectStore, lock_value, message_id
from labkit.patterns.retry import CrashHook, RetryApp, RetryPolicy, _no_crash, send_to_retry

if TYPE_CHECKING:
    from labkit.patterns.topology import PatternTopics


class OrderedMainApp(PatternApp):
    """The main app of ordered retry: keeps each key's events in order while other keys flow."""

    name = "ordered-main"

    def __init__(self, *, source: str, output: str, error_topic: str, retry_topic: str, redirect_topic: str,
                 group_id: str, retry_group_id: str, handler: Handler = echo_handler, retry_delay: float = 1.0,
                 settings: Settings | None = None, poll_timeout: float = 0.2, on_error: ErrorCallback | None = None,
                 crash_hook: CrashHook = _no_crash, rebuild_timeout: float = 30.0) -> None:
        super().__init__(settings=settings, poll_timeout=poll_timeout, on_error=on_error)
        self.source, self.output, self.error_topic = source, output, error_topic
        self.retry_topic, self.redirect_topic = retry_topic, redirect_topic
        self.group_id, self.retry_group_id = group_id, retry_group_id
        self.handler, self.retry_delay, self.crash_hook = handler, retry_delay, crash_hook
        self.rebuild_timeout = rebuild_timeout
        self.store = RedirectStore()
        self.rebuilt_ids: list[str] = []
        self.orphans_found: list[str] = []
        self._orphans: set[str] = set()
        self._consumer: KafkaConsumer | None = None
        self._redirects: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._dead_letters: DeadLetterWriter | None = None

    @classmethod
    def for_topics(cls, topics: "PatternTopics", **options) -> "OrderedMainApp":
        """The main app wired to a run's topics, in the run's "main" group (its retry app is in "retry")."""
        return cls(source=topics.main, output=topics.output, error_topic=topics.error, retry_topic=topics.retry,
                   redirect_topic=topics.redirect, group_id=topics.group("main"),
                   retry_group_id=topics.group("retry"), **options)

    # --- start: rebuild the store, find orphan locks --------------------------------------------------
    def _open(self) -> None:
        self._producer = clients.producer(self.settings)
        self._dead_letters = DeadLetterWriter(self._producer, self.error_topic)
        retry_starts = self._retry_group_positions()
        self._redirects = clients.consumer(self.settings, group_id=None)
        self._rebuild()
        self._find_orphans(retry_starts)
        self._consumer = clients.consumer(self.settings, group_id=self.group_id)
        clients.subscribe(self._consumer, [self.source])

    def _retry_group_positions(self) -> dict[TopicPartition, int]:
        """Where the retry app will resume (read *before* the rebuild: every stored id's record is past it)."""
        reader = clients.consumer(self.settings, group_id=self.retry_group_id)
        try:
            partitions = clients.partitions_of(reader, self.retry_topic)
            return {tp: reader.committed(tp) or 0 for tp in partitions}
        finally:
            reader.close()

    def _rebuild(self) -> None:
        """Fill the store from the redirect topic, from its beginning to its current end, before consuming."""
        assert self._redirects is not None
        self.store.clear()
        partitions = clients.partitions_of(self._redirects, self.redirect_topic)
        self._redirects.assign(partitions)
        self._redirects.seek_to_beginning(*partitions)
        ends = self._redirects.end_offsets(partitions)
        deadline = time.monotonic() + self.rebuild_timeout
        while any(self._redirects.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise RecoveryError(f"Rebuilding the store from {self.redirect_topic!r} took longer than "
                                    f"{self.rebuild_timeout:.0f} s; the main app does not start without it.")
            for records in self._redirects.poll(timeout_ms=200).values():
                for record in records:
                    self.store.apply(record.key, record.value)
        self.rebuilt_ids = sorted(self.store.snapshot())
        self._count("rebuilt_ids", len(self.rebuilt_ids))

    def _find_orphans(self, retry_starts: dict[TopicPartition, int]) -> None:
        """Ids in the store with no record in the retry topic: the app died between the two writes."""
        waiting = set(self.store.snapshot())
        if waiting:
            scanner = clients.consumer(self.settings, group_id=None)
            try:
                partitions = list(retry_starts)
                scanner.assign(partitions)
                for tp, start in retry_starts.items():
                    scanner.seek(tp, start)
                ends = scanner.end_offsets(partitions)
                deadline = time.monotonic() + self.rebuild_timeout
                while any(scanner.position(tp) < ends[tp] for tp in partitions):
                    if time.monotonic() > deadline:
                        raise RecoveryError(f"Scanning {self.retry_topic!r} for orphan locks took too long.")
                    for records in scanner.poll(timeout_ms=200).values():
                        for record in records:
                            waiting.discard(hdr.decode(record.headers).get(hdr.MESSAGE_ID))
            finally:
                scanner.close()
        self._orphans = waiting
        self.orphans_found = sorted(waiting)
        self._count("orphans_found", len(waiting))

    def _close(self) -> None:
        try:
            for client in (self._consumer, self._redirects):
                if client is not None:
                    client.close()
        finally:
            if self._producer is not None:
                self._producer.close()
            self._consumer = self._redirects = self._producer = self._dead_letters = None

    # --- the loop ---------------------------------------------------------------------------------
    def _follow_redirects(self) -> None:
        """Apply what arrived on the redirect topic (tombstones from the retry app free their ids)."""
        assert self._redirects is not None
        for records in self._redirects.poll(timeout_ms=0).values():
            for record in records:
                self.store.apply(record.key, record.value)
                self._count("tombstones_read" if record.value is None else "locks_read")

    def _step(self, timeout_ms: int) -> tuple[int, bool]:
        assert self._consumer is not None and self._producer is not None
        self._follow_redirects()
        batch = self._consumer.poll(timeout_ms=timeout_ms)
        futures, commits = [], {}
        for tp, records in sorted(batch.items()):
            for record in records:
                future = self._handle(record)
                if future is not None:
                    futures.append(future)
                commits[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        if commits:
            self._producer.flush()
            clients.check_sent(futures)
            self.crash_hook(BEFORE_COMMIT)
            self._consumer.commit(commits)
        handled = sum(len(records) for records in batch.values())
        self._count("consumed", handled)
        return handled, bool(batch) or not self._consumer.assignment()

    def _handle(self, record):
        mid = message_id(record.topic, record.partition, record.offset)
        try:
            event = decode_event(record.key, record.value)
        except Exception as error:  # undecodable or invalid: to the error topic, it can never be processed
            return self._dead_letter(record, error)
        if mid in self.store:  # read again after a restart: it was redirected before the crash
            if mid not in self._orphans:
                self._count("already_redirected")
                return None
            self._orphans.discard(mid)
            self._count("orphans_repaired")
            return send_to_retry(self._producer, record, None, topic=self.retry_topic, failures=0, delay=0.0,
                                 message_id=mid)
        if self.store.is_locked(event.key):
            self._count("redirected")
            return self._redirect(record, event.key, mid, None, failures=0)
        try:
            result = self.handler(event, 1)
        except InjectedCrash:
            raise
        except TransientError as error:
            self._report(Failure(self.name, record.topic, record.partition, record.offset, event.key, error, 1,
                                 "redirect"))
            self._count("retried")
            return self._redirect(record, event.key, mid, error, failures=1)
        except Exception as error:  # permanent: to the error topic; the key is not locked
            return self._dead_letter(record, error)
        self._count("processed")
        return self._producer.send(self.output, key=record.key,
                                   value=output_value(event, result, attempt=1, via="main"))

    def _redirect(self, record, key: str, mid: str, error: BaseException | None, *, failures: int):
        """Lock first (acknowledged), then the retry write: a crash between them leaves a detectable orphan."""
        lock = self._producer.send(self.redirect_topic, key=mid.encode("utf-8"),
                                   value=lock_value(key, (record.topic, record.partition, record.offset)),
                                   headers=[(hdr.MESSAGE_ID, mid.encode("utf-8"))])
        self._producer.flush()  # send now (no linger) and wait for every in-sync replica
        lock.get(timeout=30)
        self.store.add(mid, key)
        self.crash_hook(BETWEEN_REDIRECT_AND_RETRY)
        return send_to_retry(self._producer, record, error, topic=self.retry_topic, failures=failures,
                             delay=self.retry_delay if failures else 0.0, message_id=mid)

    def _dead_letter(self, record, error: BaseException):
        self._report(Failure(self.name, record.topic, record.partition, record.offset, key_text(record), error,
                             1, "error-topic"))
        self._count("dead_lettered")
        return self._dead_letters.send(record, error, attempts=1)

    def snapshot(self) -> dict[str, int]:
        """Counters plus how many ids the store holds right now."""
        counters = super().snapshot()
        counters["in_store"] = len(self.store)
        return dict(sorted(counters.items()))


class OrderedRetryApp(RetryApp):
    """The retry app of ordered retry: in-place retries in topic order, then a tombstone per settled id."""

    name = "ordered-retry-app"

    def __init__(self, *, retry_topic: str, redirect_topic: str, output: str, error_topic: str, group_id: str,
                 handler: Handler = echo_handler, retry_delay: float = 1.0, max_attempts: int = 3,
                 settings: Settings | None = None, poll_timeout: float = 0.2, on_error: ErrorCallback | None = None,
                 crash_hook: CrashHook = _no_crash, consumer_config: Mapping[str, object] | None = None) -> None:
        super().__init__(output=output, error_topic=error_topic, group_id=group_id, handler=handler, in_place=True,
                         policy=RetryPolicy.single(retry_topic, delay=retry_delay, max_attempts=max_attempts),
                         settings=settings, poll_timeout=poll_timeout, on_error=on_error, crash_hook=crash_hook,
                         consumer_config=consumer_config)
        self.redirect_topic = redirect_topic

    @classmethod
    def for_topics(cls, topics: "PatternTopics", **options) -> "OrderedRetryApp":  # type: ignore[override]
        """The retry app wired to a run's topics, in the run's "retry" group."""
        return cls(retry_topic=topics.retry, redirect_topic=topics.redirect, output=topics.output,
                   error_topic=topics.error, group_id=topics.group("retry"), **options)

    def _after_settled(self, records: list) -> None:
        """The outputs are acknowledged: now publish one tombstone per settled id, and wait for them."""
        assert self._producer is not None
        self.crash_hook(BETWEEN_OUTPUT_AND_TOMBSTONE)
        futures = []
        for record in records:
            mid = self._message_id(record)
            if mid is not None:
                futures.append(self._producer.send(self.redirect_topic, key=mid.encode("utf-8"), value=None,
                                                   headers=[(hdr.MESSAGE_ID, mid.encode("utf-8"))]))
        self._producer.flush()
        clients.check_sent(futures)
        self._count("tombstones_written", len(futures))
