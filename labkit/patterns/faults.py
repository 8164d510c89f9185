"""A deterministic fault injector: failing keys and events, poison records, crash hooks between two writes.

Faults are rules, not dice: "key k3 fails its first 2 calls", "event k2-3 is poison", "crash the second time
the app reaches the point between the redirect write and the retry write". The same rules give the same
failures on every run, which is what lets a lesson print its results and a test assert them.

Example:
    >>> faults = FaultInjector().fail_key("k3", times=1)
    >>> handler = faults.wrap(lambda event, attempt: {"ok": True})
    >>> from labkit.patterns.events import Event
    >>> handler(Event("k3-1", "k3", 1), 1)
    Traceback (most recent call last):
    ...
    labkit.patterns.errors.TransientError: Key k3 is unavailable (call 1 of 1 that fail).
    >>> handler(Event("k3-2", "k3", 2), 1)
    {'ok': True}
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from labkit.patterns.errors import InjectedCrash, PoisonRecordError, TransientError
from labkit.patterns.events import Event, Handler

# Where the apps call their crash hook (the points of a dual write the lesson talks about).
BETWEEN_REDIRECT_AND_RETRY = "between-redirect-and-retry"
BEFORE_COMMIT = "before-commit"
BETWEEN_OUTPUT_AND_TOMBSTONE = "between-output-and-tombstone"
CRASH_POINTS = (BETWEEN_REDIRECT_AND_RETRY, BEFORE_COMMIT, BETWEEN_OUTPUT_AND_TOMBSTONE)


@dataclass(frozen=True)
class Attempt:
    """One call of the wrapped handler: which event, which attempt, what happened, when (monotonic s)."""

    event_id: str
    key: str
    attempt: int
    outcome: str  # "ok", "transient", "poison"
    at: float


class FaultInjector:
    """Rules that make a handler fail deterministically, plus crash hooks; thread-safe and logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_failures: dict[str, int] = {}
        self._event_failures: dict[str, int] = {}
        self._poison: set[str] = set()
        self._crashes: dict[str, int] = {}
        self._calls_per_key: Counter[str] = Counter()
        self._calls_per_event: Counter[str] = Counter()
        self._checkpoint_hits: Counter[str] = Counter()
        self._slow_s = 0.0
        self.attempts: list[Attempt] = []

    # --- rules -----------------------------------------------------------------------------------------
    def fail_key(self, key: str, *, times: int) -> "FaultInjector":
        """The first `times` calls for events of `key` (any event) raise TransientError: a dependency is down."""
        with self._lock:
            self._key_failures[key] = times
        return self

    def fail_event(self, event_id: str, *, times: int) -> "FaultInjector":
        """The first `times` attempts of one event raise TransientError."""
        with self._lock:
            self._event_failures[event_id] = times
        return self

    def poison(self, *event_ids: str) -> "FaultInjector":
        """These events raise PoisonRecordError on every attempt (so do events whose payload has poison=true)."""
        with self._lock:
            self._poison.update(event_ids)
        return self

    def crash_at(self, point: str, *, hit: int = 1) -> "FaultInjector":
        """checkpoint(point) raises InjectedCrash the `hit`-th time it is reached (once)."""
        if point not in CRASH_POINTS:
            raise ValueError(f"Unknown crash point {point!r}; choose one of {', '.join(CRASH_POINTS)}.")
        with self._lock:
            self._crashes[point] = hit
        return self

    def slow(self, seconds: float) -> "FaultInjector":
        """Every handler call takes at least `seconds` (a slow dependency; lets a test kill an app mid-run)."""
        with self._lock:
            self._slow_s = seconds
        return self

    def heal(self) -> "FaultInjector":
        """Remove every processing fault (the operator's fix); crash hooks and the log are kept."""
        with self._lock:
            self._key_failures.clear()
            self._event_failures.clear()
            self._poison.clear()
        return self

    # --- applying them ---------------------------------------------------------------------------------
    def _decide(self, event: Event, attempt: int) -> tuple[str, Exception | None]:
        with self._lock:
            self._calls_per_key[event.key] += 1
            self._calls_per_event[event.id] += 1
            key_calls = self._calls_per_key[event.key]
            event_calls = self._calls_per_event[event.id]
            if event.id in self._poison or event.payload.get("poison") is True:
                error: Exception | None = PoisonRecordError(f"Event {event.id} is poison: it fails every time.")
                outcome = "poison"
            elif key_calls <= self._key_failures.get(event.key, 0):
                error = TransientError(f"Key {event.key} is unavailable "
                                       f"(call {key_calls} of {self._key_failures[event.key]} that fail).")
                outcome = "transient"
            elif event_calls <= self._event_failures.get(event.id, 0):
                error = TransientError(f"Event {event.id} failed (attempt {event_calls} of "
                                       f"{self._event_failures[event.id]} that fail).")
                outcome = "transient"
            else:
                error, outcome = None, "ok"
            self.attempts.append(Attempt(event.id, event.key, attempt, outcome, time.monotonic()))
            return outcome, error

    def wrap(self, handler: Handler) -> Handler:
        """A handler that applies the rules before calling `handler`."""
        def faulty(event: Event, attempt: int) -> Mapping[str, Any] | None:
            if self._slow_s:
                time.sleep(self._slow_s)
            _, error = self._decide(event, attempt)
            if error is not None:
                raise error
            return handler(event, attempt)

        faulty.__name__ = f"faulty_{getattr(handler, '__name__', 'handler')}"
        return faulty

    def checkpoint(self, point: str) -> None:
        """The crash hook apps call at `point`; raises InjectedCrash when a crash is scheduled there."""
        with self._lock:
            self._checkpoint_hits[point] += 1
            hits = self._checkpoint_hits[point]
            crash = self._crashes.get(point) == hits
            if crash:
                del self._crashes[point]
        if crash:
            raise InjectedCrash(point, hits)

    # --- what happened -----------------------------------------------------------------------------------
    def attempts_per_event(self) -> dict[str, int]:
        """How many times the handler was called for each event id."""
        with self._lock:
            return dict(sorted(self._calls_per_event.items()))

    def attempt_log(self) -> list[Attempt]:
        """A copy of every handler call so far, in call order."""
        with self._lock:
            return list(self.attempts)
