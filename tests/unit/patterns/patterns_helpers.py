"""Builders of Message lists for the invariant tests (no broker)."""
from __future__ import annotations

import json

from labkit.patterns import headers as hdr
from labkit.patterns.clients import Message
from labkit.patterns.events import Event


def source(events: list[Event], topic: str = "main") -> list[Message]:
    return [Message(topic, 0, n, e.key.encode(), e.encode(), {}, 1000 + n) for n, e in enumerate(events)]


def output(rows: list[tuple[str, int]], via: str = "main", attempt: int = 1, ts: int = 2000) -> list[Message]:
    """Output records for (key, seq) pairs, in the given order."""
    messages = []
    for n, (key, seq) in enumerate(rows):
        value = json.dumps({"id": f"{key}-{seq}", "key": key, "seq": seq, "attempt": attempt, "via": via,
                            "result": {}}).encode()
        messages.append(Message("out", 0, n, key.encode(), value, {}, ts + n))
    return messages


def dead_letter(original: Message, *, attempts: int = 1, error: Exception | None = None, offset: int = 0) -> Message:
    headers = hdr.decode(hdr.failure_headers(topic=original.topic, partition=original.partition,
                                             offset=original.offset, error=error or ValueError("bad"),
                                             attempts=attempts, failed_at_ms=0))
    return Message("err", 0, offset, original.key, original.value, headers, 3000)


def events(*ids: str) -> list[Event]:
    result = []
    for event_id in ids:
        key, seq = event_id.rsplit("-", 1)
        result.append(Event(event_id, key, int(seq), {"amount": 1}))
    return result
