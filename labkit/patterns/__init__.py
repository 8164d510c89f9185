"""Error-handling patterns for Kafka apps, as small pieces on kafka-python: lesson 05's machinery.

- `StopOnErrorConsumer`: halt at the failing offset, commit nothing past it (pattern 1).
- `DeadLetterConsumer`, `DeadLetterWriter`: records that can never be processed go to the error topic (2).
- `RetryingConsumer`, `RetryApp`, `RetryPolicy`: temporary failures go to retry topics, a retry app tries
  them after a delay, then the error topic (3).
- `OrderedMainApp`, `OrderedRetryApp`, `RedirectStore`: ordered retry with a redirect topic, an in-memory
  store and tombstones, rebuilt after a crash (4).
- `FaultInjector` and the checks in `invariants` prove what each pattern promises (and what it does not).

Every app polls with a blocking timeout, commits explicitly after its writes are acknowledged, runs bounded
(`run(timeout=, count=, idle=)`) or as a service (`start()`/`stop()`, or `with app:`), and sends each
processing failure to one `on_error` callback.
"""
from __future__ import annotations

from labkit.patterns.app import Failure, PatternApp, RunStats
from labkit.patterns.clients import Message, produce_events, read_topic, send_all, wait_until
from labkit.patterns.dead_letter import DeadLetterConsumer, DeadLetterWriter
from labkit.patterns.errors import (
    InjectedCrash,
    InvalidRecordError,
    InvariantViolation,
    PatternError,
    PermanentError,
    PoisonRecordError,
    ProcessingError,
    RecoveryError,
    StoppedOnError,
    TransientError,
    UndecodableRecordError,
)
from labkit.patterns.events import Event, decode_event, echo_handler, make_events
from labkit.patterns.faults import (
    BEFORE_COMMIT,
    BETWEEN_OUTPUT_AND_TOMBSTONE,
    BETWEEN_REDIRECT_AND_RETRY,
    FaultInjector,
)
from labkit.patterns.ordered_retry import OrderedMainApp, OrderedRetryApp
from labkit.patterns.redirect_store import RedirectStore, compacted_view, message_id
from labkit.patterns.retry import RetryApp, RetryingConsumer, RetryLevel, RetryPolicy
from labkit.patterns.stop_on_error import StopOnErrorConsumer
from labkit.patterns.topology import PatternTopics, Results

__all__ = [
    "BEFORE_COMMIT",
    "BETWEEN_OUTPUT_AND_TOMBSTONE",
    "BETWEEN_REDIRECT_AND_RETRY",
    "DeadLetterConsumer",
    "DeadLetterWriter",
    "Event",
    "Failure",
    "FaultInjector",
    "InjectedCrash",
    "InvalidRecordError",
    "InvariantViolation",
    "Message",
    "OrderedMainApp",
    "OrderedRetryApp",
    "PatternApp",
    "PatternError",
    "PatternTopics",
    "PermanentError",
    "PoisonRecordError",
    "ProcessingError",
    "RecoveryError",
    "RedirectStore",
    "Results",
    "RetryApp",
    "RetryLevel",
    "RetryPolicy",
    "RetryingConsumer",
    "RunStats",
    "StopOnErrorConsumer",
    "StoppedOnError",
    "TransientError",
    "UndecodableRecordError",
    "compacted_view",
    "decode_event",
    "echo_handler",
    "make_events",
    "message_id",
    "produce_events",
    "read_topic",
    "send_all",
    "wait_until",
]
