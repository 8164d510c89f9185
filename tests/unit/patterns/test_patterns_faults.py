"""The fault injector: deterministic failures per key and per event, poison, crash hooks, the attempt log."""
import threading

import pytest

from labkit.patterns.errors import InjectedCrash, PoisonRecordError, TransientError
from labkit.patterns.events import Event, echo_handler
from labkit.patterns.faults import BEFORE_COMMIT, BETWEEN_REDIRECT_AND_RETRY, FaultInjector


def ev(key: str, seq: int, **payload) -> Event:
    return Event(f"{key}-{seq}", key, seq, payload)


def outcomes(handler, calls):
    result = []
    for event, attempt in calls:
        try:
            handler(event, attempt)
            result.append("ok")
        except TransientError:
            result.append("transient")
        except PoisonRecordError:
            result.append("poison")
    return result


def test_fail_key_fails_the_first_n_calls_for_that_key_whatever_the_event():
    handler = FaultInjector().fail_key("k3", times=2).wrap(echo_handler)
    calls = [(ev("k3", 1), 1), (ev("k1", 1), 1), (ev("k3", 2), 1), (ev("k3", 1), 2), (ev("k3", 3), 1)]
    assert outcomes(handler, calls) == ["transient", "ok", "transient", "ok", "ok"]


def test_fail_event_fails_only_that_events_first_n_attempts():
    handler = FaultInjector().fail_event("k4-2", times=2).wrap(echo_handler)
    calls = [(ev("k4", 1), 1), (ev("k4", 2), 1), (ev("k4", 2), 2), (ev("k4", 2), 3)]
    assert outcomes(handler, calls) == ["ok", "transient", "transient", "ok"]


def test_poison_fails_every_time_by_id_or_by_payload_flag_until_healed():
    faults = FaultInjector().poison("k2-3")
    handler = faults.wrap(echo_handler)
    calls = [(ev("k2", 3), 1), (ev("k2", 3), 2), (ev("k1", 1, poison=True), 1), (ev("k1", 2), 1)]
    assert outcomes(handler, calls) == ["poison", "poison", "poison", "ok"]
    faults.heal()
    assert outcomes(handler, [(ev("k2", 3), 3)]) == ["ok"]


def test_the_same_rules_give_the_same_log_on_every_run():
    def run():
        faults = FaultInjector().fail_key("k1", times=1).fail_event("k2-1", times=1)
        handler = faults.wrap(echo_handler)
        outcomes(handler, [(ev("k1", 1), 1), (ev("k2", 1), 1), (ev("k1", 1), 2), (ev("k2", 1), 2)])
        return [(a.event_id, a.attempt, a.outcome) for a in faults.attempt_log()], faults.attempts_per_event()

    assert run() == run()
    log, counts = run()
    assert log == [("k1-1", 1, "transient"), ("k2-1", 1, "transient"), ("k1-1", 2, "ok"), ("k2-1", 2, "ok")]
    assert counts == {"k1-1": 2, "k2-1": 2}


def test_crash_at_fires_once_on_the_chosen_hit_of_that_point():
    faults = FaultInjector().crash_at(BETWEEN_REDIRECT_AND_RETRY, hit=2)
    faults.checkpoint(BETWEEN_REDIRECT_AND_RETRY)
    faults.checkpoint(BEFORE_COMMIT)
    with pytest.raises(InjectedCrash) as crash:
        faults.checkpoint(BETWEEN_REDIRECT_AND_RETRY)
    assert crash.value.point == BETWEEN_REDIRECT_AND_RETRY and crash.value.hit == 2
    faults.checkpoint(BETWEEN_REDIRECT_AND_RETRY)  # once only


def test_unknown_crash_points_are_refused():
    with pytest.raises(ValueError, match="Unknown crash point"):
        FaultInjector().crash_at("somewhere")


def test_fail_key_counts_calls_exactly_under_concurrent_callers():
    faults = FaultInjector().fail_key("k", times=50)
    handler = faults.wrap(echo_handler)
    failures = []
    lock = threading.Lock()

    def caller():
        for n in range(50):
            try:
                handler(ev("k", n), 1)
            except TransientError:
                with lock:
                    failures.append(n)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(failures) == 50
    assert len(faults.attempt_log()) == 200
