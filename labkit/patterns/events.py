"""The lesson's events: a key, a sequence number per key and an id, as JSON; decoding with typed errors.

Every event carries `seq` (1, 2, 3, … per key) and a unique `id`, so the invariant checks can tell whether
anything was lost and whether each key's events were processed in order.

Example:
    >>> [e.id for e in make_events(keys=("a", "b"), per_key=2, seed=1)]
    ['a-1', 'a-2', 'b-1', 'b-2']
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from labkit.patterns.errors import InvalidRecordError, UndecodableRecordError


@dataclass(frozen=True)
class Event:
    """One business event: `key` groups events that must stay in order, `seq` is its place in the group."""

    id: str
    key: str
    seq: int
    payload: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as the JSON object written to the main topic."""
        return {"id": self.id, "key": self.key, "seq": self.seq, **self.payload}

    def encode(self) -> bytes:
        """The event as UTF-8 JSON bytes."""
        return json.dumps(self.to_json(), sort_keys=True).encode("utf-8")


#: A handler does the business work for one event; `attempt` counts from 1. It returns the result to write to
#: the output topic, raises TransientError to ask for a retry, or raises anything else for the error topic.
Handler = Callable[[Event, int], Mapping[str, Any] | None]


def make_events(*, keys: Sequence[str] = ("k1", "k2", "k3", "k4"), per_key: int = 6, seed: int = 5) -> list[Event]:
    """Seeded events, `per_key` for each key, interleaved at random but in `seq` order within a key."""
    rng = random.Random(seed)
    next_seq = {key: 1 for key in keys}
    events: list[Event] = []
    while len(events) < per_key * len(keys):
        key = rng.choice([k for k in keys if next_seq[k] <= per_key])
        seq = next_seq[key]
        next_seq[key] += 1
        events.append(Event(id=f"{key}-{seq}", key=key, seq=seq, payload={"amount": rng.randint(1, 99)}))
    return events


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def decode_event(key: bytes | None, value: bytes | None) -> Event:
    """An Event from a record's key and value; raises UndecodableRecordError or InvalidRecordError.

    The record key (if any) is the event's key; a record without a key must carry `"key"` in its value.
    """
    if value is None:
        raise InvalidRecordError("The record has a null value (a tombstone); there is no event to process.")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UndecodableRecordError(f"The value is not UTF-8 text: {error}.") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UndecodableRecordError(f"The value is not JSON: {error}.") from None
    if not isinstance(document, dict):
        raise InvalidRecordError(f"Expected a JSON object, got {_describe(document)}.")
    event_id = document.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidRecordError(f"Field 'id' must be a non-empty string, got {_describe(event_id)}.")
    seq = document.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise InvalidRecordError(f"Field 'seq' must be an integer, got {_describe(seq)}.")
    group = key.decode("utf-8", errors="replace") if key is not None else document.get("key")
    if not isinstance(group, str) or not group:
        raise InvalidRecordError("The record has no key and its value has no 'key' field.")
    payload = {k: v for k, v in document.items() if k not in ("id", "key", "seq")}
    return Event(id=event_id, key=group, seq=seq, payload=payload)


def output_value(event: Event, result: Mapping[str, Any] | None, *, attempt: int, via: str) -> bytes:
    """The JSON written to the output topic: the event's identity, which attempt succeeded and which app did it."""
    document = {"id": event.id, "key": event.key, "seq": event.seq, "attempt": attempt, "via": via,
                "result": dict(result) if result is not None else None}
    return json.dumps(document, sort_keys=True).encode("utf-8")


def echo_handler(event: Event, attempt: int) -> dict[str, Any]:
    """The default business step: succeed and return the event's payload."""
    return dict(event.payload)
