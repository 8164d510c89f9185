"""Header names and encoding for records written to retry, redirect and error topics.

Kafka headers are `(str, bytes)` pairs; every value here is UTF-8 text, so any tool (kcat, the console
consumer, a notebook) can read them. A dead-lettered record carries where it came from, why it failed,
how often it was tried and when, which is what whoever owns the error topic needs to replay or drop it.

Example:
    >>> hs = failure_headers(topic="t", partition=0, offset=7, error=ValueError("bad"), attempts=2,
    ...                      failed_at_ms=0)
    >>> decode(hs)["labkit.error.class"]
    'ValueError'
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

ORIGINAL_TOPIC = "labkit.original.topic"
ORIGINAL_PARTITION = "labkit.original.partition"
ORIGINAL_OFFSET = "labkit.original.offset"
ERROR_CLASS = "labkit.error.class"
ERROR_MESSAGE = "labkit.error.message"
ATTEMPTS = "labkit.attempts"
FAILED_AT = "labkit.failed.at"
MESSAGE_ID = "labkit.message.id"
NOT_BEFORE = "labkit.retry.not.before"

#: What every record on an error topic carries (invariant I7 checks these).
DEAD_LETTER_HEADERS = (ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, ERROR_CLASS, ERROR_MESSAGE,
                       ATTEMPTS, FAILED_AT)

MAX_MESSAGE_CHARS = 500

Headers = list[tuple[str, bytes]]


def encode(values: Mapping[str, object]) -> Headers:
    """Headers from a mapping; every value becomes UTF-8 text (None values are left out)."""
    return [(name, str(value).encode("utf-8")) for name, value in values.items() if value is not None]


def decode(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """A mapping of header name to text; a repeated header keeps its last value, as Kafka tools show it."""
    result: dict[str, str] = {}
    for name, raw in headers or ():
        result[name] = "" if raw is None else raw.decode("utf-8", errors="replace")
    return result


def iso_utc(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC text with milliseconds, e.g. 2024-01-01T00:00:00.000Z."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def error_message(error: BaseException) -> str:
    """The error's message on one line, cut to MAX_MESSAGE_CHARS (headers should stay small)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def failure_headers(*, topic: str, partition: int, offset: int, error: BaseException, attempts: int,
                    failed_at_ms: int, message_id: str | None = None,
                    not_before_ms: int | None = None) -> Headers:
    """Headers describing a failed record: its origin, the error, the attempt count and the time."""
    return encode({
        ORIGINAL_TOPIC: topic,
        ORIGINAL_PARTITION: partition,
        ORIGINAL_OFFSET: offset,
        ERROR_CLASS: type(error).__name__,
        ERROR_MESSAGE: error_message(error),
        ATTEMPTS: attempts,
        FAILED_AT: iso_utc(failed_at_ms),
        MESSAGE_ID: message_id,
        NOT_BEFORE: not_before_ms,
    })


def origin(headers: Mapping[str, str]) -> tuple[str, int, int] | None:
    """The (topic, partition, offset) a retried or dead-lettered record came from, if its headers say."""
    try:
        return headers[ORIGINAL_TOPIC], int(headers[ORIGINAL_PARTITION]), int(headers[ORIGINAL_OFFSET])
    except (KeyError, ValueError):
        return None


def attempts(headers: Mapping[str, str], default: int = 0) -> int:
    """How many times the record was tried before it was written (0 if never)."""
    try:
        return int(headers[ATTEMPTS])
    except (KeyError, ValueError):
        return default


def not_before_ms(headers: Mapping[str, str], default: int = 0) -> int:
    """The earliest time (epoch ms) a retry app may try the record again."""
    try:
        return int(headers[NOT_BEFORE])
    except (KeyError, ValueError):
        return default


def replace(headers: Sequence[tuple[str, bytes]], values: Mapping[str, object]) -> Headers:
    """A copy of `headers` with the given names set to new values (others kept in order)."""
    fresh = encode(values)
    names = {name for name, _ in fresh}
    return [(name, raw) for name, raw in headers if name not in names] + fresh
