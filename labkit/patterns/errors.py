"""Typed errors of the error-handling patterns: what a handler raises and what an app reports.

A handler tells the app how a record failed by the type it raises: `TransientError` means "try again later"
(the retry topic), anything else means the record can never be processed (the error topic). The other
errors here are the apps' own: a stop-on-error halt, an injected crash, a broken invariant.
"""
from __future__ import annotations

from labkit.errors import LabkitError


class PatternError(LabkitError):
    """Base of the errors raised by labkit.patterns."""


class ProcessingError(PatternError):
    """A record could not be processed (raised by a handler or the decoder)."""


class TransientError(ProcessingError):
    """A temporary failure (a dependency not ready, a timeout): the record goes to a retry topic."""


class PermanentError(ProcessingError):
    """A record that can never be processed: it goes to the error topic (dead-letter queue)."""


class UndecodableRecordError(PermanentError):
    """The record's value is not UTF-8 JSON."""


class InvalidRecordError(PermanentError):
    """The record decodes but has the wrong shape: a null value, a missing or mistyped field."""


class PoisonRecordError(PermanentError):
    """A record the handler rejects every time (injected by the fault injector, or a real poison pill)."""


class StoppedOnError(PatternError):
    """A stop-on-error consumer halted at a failing record; nothing at or past `offset` was committed."""

    def __init__(self, topic: str, partition: int, offset: int, cause: BaseException) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.cause = cause
        super().__init__(
            f"Stopped at {topic}[{partition}] offset {offset}: {type(cause).__name__}: {str(cause).rstrip('.')}. "
            f"Fix the cause and start the consumer again; it resumes at offset {offset}."
        )


class InjectedCrash(PatternError):
    """The fault injector's crash hook fired: the app dies at `point` as if its process were killed."""

    def __init__(self, point: str, hit: int) -> None:
        self.point = point
        self.hit = hit
        super().__init__(f"Injected crash at {point!r} (hit {hit}).")


class RecoveryError(PatternError):
    """An ordered-retry app could not rebuild its in-memory store from the redirect topic in time."""


class InvariantViolation(PatternError):
    """An invariant check failed; carries the report."""

    def __init__(self, report: object) -> None:
        self.report = report
        super().__init__(str(report))
