"""kill -9 of the ordered-retry main app (a real process) with ids in its store; the restart rebuilds the store
from the redirect topic and every invariant still holds."""
import os
import signal
import subprocess
import sys

from labkit.patterns import FaultInjector, OrderedMainApp, compacted_view, make_events
from labkit.patterns import invariants as inv
from labkit.patterns.clients import produce_events, read_topic, wait_until
from ordered_helpers import DELAY, assert_ordered_retry_invariants, run_both


def test_sigkill_mid_run_then_restart_rebuilds_the_store_and_keeps_order(run_topics, settings):
    topics = run_topics()
    events = make_events(per_key=10, seed=7)
    produce_events(topics.main, events, settings)
    command = [sys.executable, "-m", "labkit.patterns.demo_app", "main", "--prefix", topics.prefix,
               "--run", topics.run, "--fail-key", "k3:1", "--slow", "0.05", "--retry-delay", str(DELAY)]
    app = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        def mid_run() -> bool:
            if app.poll() is not None:
                raise AssertionError(f"the demo app exited early: {app.stderr.read().decode()}")
            locked = compacted_view((m.key, m.value) for m in read_topic(topics.redirect, settings))
            return len(locked) >= 2 and len(read_topic(topics.output, settings)) >= 5
        wait_until(mid_run, timeout=30, interval=0.1, what="the main app to lock ids and output some events")
        os.kill(app.pid, signal.SIGKILL)
        assert app.wait(timeout=10) == -signal.SIGKILL
    finally:
        if app.poll() is None:
            app.kill()
        app.stdout.close()
        app.stderr.close()
    at_kill = topics.read(settings)
    locked = compacted_view((m.key, m.value) for m in at_kill.redirect)
    assert locked and set(locked.values()) == {"k3"}
    assert len({r["id"] for r in inv.output_rows(at_kill.output)}) < len(events) - len(locked)  # killed mid-run

    faults = FaultInjector()  # the dependency is back: nothing fails after the restart
    restarted = OrderedMainApp.for_topics(topics, handler=faults.wrap(lambda event, attempt: {}),
                                          retry_delay=DELAY, settings=settings)
    main, results = run_both(topics, faults, settings, main=restarted, timeout=60)

    assert main.rebuilt_ids == sorted(locked)
    assert_ordered_retry_invariants(results, main, faults)
    assert inv.key_sequences(results.output) == {key: list(range(1, 11)) for key in ("k1", "k2", "k3", "k4")}
