"""The loop every pattern app shares: bounded runs for lessons and tests, or a thread with start()/stop().

A subclass opens its clients in `_open()`, closes them in `_close()`, and does one blocking poll plus the
handling of what it returned in `_step()`. This class turns that into `run(timeout=, count=, idle=)` and a
background service, keeps counters for `snapshot()`, and sends every processing failure to one callback.

Example:
    >>> # with DeadLetterConsumer(...) as app:   # starts a thread
    >>> #     wait_until(lambda: app.snapshot()["consumed"] >= 10)
"""
from __future__ import annotations

import abc
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from labkit.config import Settings, settings as load_settings
from labkit.patterns.errors import PatternError


@dataclass(frozen=True)
class Failure:
    """One processing failure, as the `on_error` callback receives it."""

    app: str
    topic: str
    partition: int
    offset: int
    key: str | None
    error: BaseException
    attempt: int
    route: str  # "stop", "retry", "redirect", "error-topic" or "in-place"


@dataclass(frozen=True)
class RunStats:
    """What a bounded run did: records handled and why it ended ("count", "idle", "timeout", "stopped", or an
    app's own reason such as "halted")."""

    handled: int
    reason: str


ErrorCallback = Callable[[Failure], None]


class PatternApp(abc.ABC):
    """A consumer loop with bounded runs, a service thread, counters and one error callback."""

    name = "app"

    def __init__(self, *, settings: Settings | None = None, poll_timeout: float = 0.2,
                 on_error: ErrorCallback | None = None) -> None:
        self.settings = settings or load_settings()
        self.poll_timeout = poll_timeout
        self.on_error = on_error
        self.error: BaseException | None = None
        self._counters: Counter[str] = Counter()
        self._counter_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._end_reason: str | None = None

    # --- what a subclass provides -------------------------------------------------------------------
    @abc.abstractmethod
    def _open(self) -> None:
        """Create the clients (and recover state) before the first poll."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Close every client; called once, even after an error."""

    @abc.abstractmethod
    def _step(self, timeout_ms: int) -> tuple[int, bool]:
        """Poll once (blocking up to timeout_ms) and handle the records; return (handled, still busy)."""

    # --- counters and errors --------------------------------------------------------------------------
    def _count(self, name: str, amount: int = 1) -> None:
        with self._counter_lock:
            self._counters[name] += amount

    def _report(self, failure: Failure) -> None:
        self._count(f"failed:{failure.route}")
        if self.on_error is not None:
            self.on_error(failure)

    def _finish(self, reason: str) -> None:
        """End the current run after this step (a stop-on-error halt, for example)."""
        self._end_reason = reason

    def snapshot(self) -> dict[str, int]:
        """The app's counters (records consumed, processed, retried, dead-lettered, …), sorted by name."""
        with self._counter_lock:
            return dict(sorted(self._counters.items()))

    # --- bounded runs -------------------------------------------------------------------------------
    def run(self, *, timeout: float | None = None, count: int | None = None,
            idle: float | None = None) -> RunStats:
        """Run in this thread until `count` records are handled, `idle` seconds pass with nothing to do,
        `timeout` seconds pass, or stop() is called; clients are closed on the way out."""
        started = time.monotonic()
        last_busy = started
        handled = 0
        self._end_reason = None
        self._ready.clear()
        self._open()
        self._ready.set()
        try:
            while True:
                if self._stopping.is_set():
                    return RunStats(handled, "stopped")
                now = time.monotonic()
                if timeout is not None and now - started >= timeout:
                    return RunStats(handled, "timeout")
                wait = self.poll_timeout
                if timeout is not None:
                    wait = min(wait, max(0.0, timeout - (now - started)))
                done, busy = self._step(int(wait * 1000))
                handled += done
                if self._end_reason is not None:
                    return RunStats(handled, self._end_reason)
                if count is not None and handled >= count:
                    return RunStats(handled, "count")
                if busy or done:
                    last_busy = time.monotonic()
                elif idle is not None and time.monotonic() - last_busy >= idle:
                    return RunStats(handled, "idle")
        finally:
            self._close()

    # --- as a service -------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 60.0) -> "PatternApp":
        """Run in a background thread until stop(); an error ends the thread and is kept in `.error`.

        Returns once the app has started up (clients open, state recovered) or its thread has ended, so apps
        started one after the other start up in that order: `with main_app, retry_app:` rebuilds the main
        app's store before the retry app writes a single tombstone."""
        if self._thread is not None and self._thread.is_alive():
            raise PatternError(f"{self.name} is already running.")
        self._stopping.clear()
        self._ready.clear()
        self.error = None
        self._thread = threading.Thread(target=self._serve, name=f"labkit-{self.name}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + ready_timeout
        while not self._ready.wait(0.05) and self._thread.is_alive() and time.monotonic() < deadline:
            pass
        return self

    def _serve(self) -> None:
        try:
            self.run()
        except BaseException as error:  # kept for the caller: the thread must not die silently
            self.error = error
            self._count("crashed")

    @property
    def running(self) -> bool:
        """True while the service thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def request_stop(self) -> None:
        """Ask the loop to end after its current poll, without waiting (safe from a signal handler)."""
        self._stopping.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the loop to end after its current poll and wait for it (clients are closed by then)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise PatternError(f"{self.name} did not stop within {timeout:.0f} s.")
            self._thread = None

    def __enter__(self) -> "PatternApp":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
