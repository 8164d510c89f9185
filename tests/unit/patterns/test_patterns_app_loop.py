"""The shared app loop without a broker: bounded runs end for the right reason, services start and stop."""
import threading
import time

import pytest

from labkit.patterns.app import Failure, PatternApp
from labkit.patterns.clients import wait_until
from labkit.patterns.errors import PatternError


class FakeApp(PatternApp):
    """Hands out `records` one per step, then idles; counts open/close calls."""

    name = "fake"

    def __init__(self, records: int, *, fail_at: int | None = None, **kwargs) -> None:
        super().__init__(settings=object(), **kwargs)
        self.records, self.fail_at = records, fail_at
        self.opened = self.closed = 0
        self.handed = 0

    def _open(self) -> None:
        self.opened += 1

    def _close(self) -> None:
        self.closed += 1

    def _step(self, timeout_ms: int):
        if self.fail_at is not None and self.handed == self.fail_at:
            raise RuntimeError("boom")
        if self.handed < self.records:
            self.handed += 1
            self._count("consumed")
            return 1, True
        time.sleep(timeout_ms / 1000)
        return 0, False


def test_run_ends_at_count_and_closes_its_clients():
    app = FakeApp(10, poll_timeout=0.01)
    stats = app.run(count=4, timeout=5)
    assert (stats.handled, stats.reason) == (4, "count")
    assert (app.opened, app.closed) == (1, 1)
    assert app.snapshot() == {"consumed": 4}


def test_run_ends_when_idle_or_at_timeout():
    assert FakeApp(3, poll_timeout=0.01).run(idle=0.1, timeout=5).reason == "idle"
    started = time.monotonic()
    stats = FakeApp(0, poll_timeout=0.01).run(timeout=0.2)
    assert stats.reason == "timeout" and time.monotonic() - started < 1


def test_run_closes_clients_when_a_step_raises():
    app = FakeApp(5, fail_at=2, poll_timeout=0.01)
    with pytest.raises(RuntimeError):
        app.run(timeout=5)
    assert app.closed == 1


def test_service_runs_in_a_thread_until_stopped():
    with FakeApp(1000, poll_timeout=0.01) as app:
        wait_until(lambda: app.snapshot().get("consumed", 0) >= 5, timeout=5)
        assert app.running
    assert not app.running and app.closed == 1 and app.error is None


def test_service_keeps_the_error_that_ended_its_thread():
    app = FakeApp(5, fail_at=1, poll_timeout=0.01).start()
    wait_until(lambda: not app.running, timeout=5)
    assert isinstance(app.error, RuntimeError)
    assert app.snapshot()["crashed"] == 1
    app.stop()


def test_starting_twice_is_refused_and_request_stop_ends_the_run():
    app = FakeApp(0, poll_timeout=0.01).start()
    try:
        with pytest.raises(PatternError, match="already running"):
            app.start()
    finally:
        app.stop()
    runner = FakeApp(0, poll_timeout=0.01)
    threading.Timer(0.1, runner.request_stop).start()
    assert runner.run(timeout=5).reason == "stopped"


def test_failures_go_to_the_one_callback_and_are_counted_by_route():
    seen = []
    app = FakeApp(0, on_error=seen.append)
    failure = Failure("fake", "t", 0, 3, "k", ValueError("x"), 1, "error-topic")
    app._report(failure)
    assert seen == [failure]
    assert app.snapshot() == {"failed:error-topic": 1}
