"""kafka-python clients as the patterns use them, and plain readers for checks and lessons.

Producers wait for all in-sync replicas (`acks='all'`, idempotent: kafka-python 3's defaults, written out).
Consumers never auto-commit: the apps commit explicitly after their side effects. Values are bytes both
ways, so a tombstone (`value=None`) stays a tombstone (see kafka-runtime notes, section 4).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from labkit.config import Settings, settings as load_settings
from labkit.patterns import headers as hdr
from labkit.patterns.events import Event
from labkit.patterns.errors import PatternError

# A consumer that dies without close() holds its partitions for the session timeout; 6 s is the broker's minimum.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1500


@dataclass(frozen=True)
class Message:
    """One record as read back from a topic (headers decoded to text)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int

    @property
    def key_text(self) -> str | None:
        """The key as text (None for a keyless record)."""
        return None if self.key is None else self.key.decode("utf-8", errors="replace")

    @property
    def is_tombstone(self) -> bool:
        """True for a record whose value is null."""
        return self.value is None


def message_from(record) -> Message:
    """A Message from a kafka-python ConsumerRecord."""
    return Message(topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
                   value=record.value, headers=hdr.decode(record.headers), timestamp_ms=record.timestamp)


def producer(settings: Settings | None = None, **overrides) -> KafkaProducer:
    """A producer that waits for every in-sync replica; bytes in, bytes out."""
    settings = settings or load_settings()
    return KafkaProducer(**settings.kafka_client_config(), acks="all", enable_idempotence=True,
                         linger_ms=5, **overrides)


def consumer(settings: Settings | None = None, *, group_id: str | None = None, **overrides) -> KafkaConsumer:
    """A consumer that reads from the earliest offset and never commits by itself."""
    settings = settings or load_settings()
    config = dict(auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=SESSION_TIMEOUT_MS,
                  heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS)
    config.update(overrides)
    return KafkaConsumer(**settings.kafka_client_config(), group_id=group_id, **config)


def partitions_of(client: KafkaConsumer, topic: str, timeout: float = 10.0) -> list[TopicPartition]:
    """The topic's partitions, waiting briefly for metadata; raises PatternError if the topic is unknown."""
    deadline = time.monotonic() + timeout
    while True:
        found = client.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        if time.monotonic() > deadline:
            raise PatternError(f"Topic {topic!r} has no partitions (does it exist?).")
        time.sleep(0.1)


def subscribe(client: KafkaConsumer, topics: Sequence[str], listener=None, timeout: float = 10.0) -> None:
    """Subscribe, then fetch the topics' metadata before the first poll joins the group.

    kafka-python 3.0.12 rebalances a second time when the subscribed topics' metadata arrives after the first
    join, and can lose that second assignment when a poll times out during it (the consumer then never
    fetches). A blocking metadata fetch right after subscribing makes the first join the only one.
    """
    if listener is None:
        client.subscribe(list(topics))
    else:
        client.subscribe(list(topics), listener=listener)
    deadline = time.monotonic() + timeout
    while not all(client.partitions_for_topic(topic) for topic in topics) or not set(topics) <= client.topics():
        if time.monotonic() > deadline:
            raise PatternError(f"Topics {sorted(topics)} have no partitions (do they exist?).")
        time.sleep(0.1)


def read_topic(topic: str, settings: Settings | None = None, *, timeout: float = 15.0) -> list[Message]:
    """Every record of `topic` from the beginning up to its end offsets at the time of the call."""
    client = consumer(settings, group_id=None)
    try:
        partitions = partitions_of(client, topic)
        client.assign(partitions)
        client.seek_to_beginning(*partitions)
        ends = client.end_offsets(partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while any(client.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise PatternError(f"Reading {topic!r} took longer than {timeout:.0f} s.")
            for records in client.poll(timeout_ms=200).values():
                messages.extend(message_from(r) for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)])
        return sorted(messages, key=lambda m: (m.partition, m.offset))
    finally:
        client.close()


def committed_offset(group_id: str, topic: str, partition: int = 0,
                     settings: Settings | None = None) -> int | None:
    """The offset a consumer group has committed for one partition (None if it never committed)."""
    client = consumer(settings, group_id=group_id)
    try:
        return client.committed(TopicPartition(topic, partition))
    finally:
        client.close()


def send_all(topic: str, items: Iterable[tuple[bytes | None, bytes | None]], settings: Settings | None = None,
             *, headers: Sequence[tuple[str, bytes]] = ()) -> int:
    """Write raw (key, value) pairs in order with one flush at the end; returns how many were acknowledged."""
    client = producer(settings)
    try:
        futures = [client.send(topic, key=key, value=value, headers=list(headers)) for key, value in items]
        client.flush()
        for future in futures:
            future.get(timeout=30)
        return len(futures)
    finally:
        client.close()


def produce_events(topic: str, events: Iterable[Event], settings: Settings | None = None) -> int:
    """Write events keyed by their key, in order; returns how many were acknowledged."""
    return send_all(topic, ((e.key.encode("utf-8"), e.encode()) for e in events), settings)


def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.2,
               what: str = "the condition") -> None:
    """Block until `condition()` is true; raise PatternError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise PatternError(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(interval)


def check_sent(futures: Iterable, timeout: float = 30.0) -> None:
    """Raise the first delivery error among flushed sends (KafkaError), so nothing is committed past it."""
    for future in futures:
        if future.failed():
            raise future.exception
        future.get(timeout=timeout)


__all__ = ["Message", "producer", "consumer", "read_topic", "committed_offset", "send_all", "produce_events",
           "wait_until", "partitions_of", "subscribe", "message_from", "check_sent"]
