"""Property: ordered retry over random failure schedules loses nothing, keeps each key's order, dead-letters
exactly what a pure model of the schedule predicts, and leaves no lock behind (store = compacted topic = {})."""
import uuid

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from labkit.patterns import FaultInjector, OrderedMainApp, OrderedRetryApp, PatternTopics, make_events
from labkit.patterns import invariants as inv
from labkit.patterns.clients import produce_events
from ordered_helpers import MAX_ATTEMPTS, assert_ordered_retry_invariants, run_both

DELAY = 0.1


@st.composite
def schedules(draw):
    """Events and a failure schedule: key outages, events that fail n times, poison events."""
    keys = [f"k{n}" for n in range(1, draw(st.integers(2, 4)) + 1)]
    events = make_events(keys=tuple(keys), per_key=draw(st.integers(2, 5)), seed=draw(st.integers(0, 10_000)))
    ids = [e.id for e in events]
    key_outages = draw(st.dictionaries(st.sampled_from(keys), st.integers(1, 4), max_size=2))
    event_failures = draw(st.dictionaries(st.sampled_from(ids), st.integers(1, 4), max_size=3))
    poison = draw(st.sets(st.sampled_from(ids), max_size=2))
    return events, key_outages, event_failures, poison


def expected_dead_letters(events, key_outages, event_failures, poison) -> set[str]:
    """A pure model: each key's events are tried in seq order, each until success or MAX_ATTEMPTS tries."""
    calls_per_key: dict[str, int] = {}
    dead = set()
    for event in sorted(events, key=lambda e: (e.key, e.seq)):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            calls_per_key[event.key] = calls_per_key.get(event.key, 0) + 1
            if event.id in poison:
                dead.add(event.id)
                break
            failed = (calls_per_key[event.key] <= key_outages.get(event.key, 0)
                      or attempt <= event_failures.get(event.id, 0))
            if not failed:
                break
            if attempt == MAX_ATTEMPTS:
                dead.add(event.id)
    return dead


@hypothesis_settings(max_examples=6, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=schedules())
def test_ordered_retry_holds_its_invariants_for_any_failure_schedule(cluster, settings, case):
    events, key_outages, event_failures, poison = case
    topics = PatternTopics(f"test-prop-{uuid.uuid4().hex[:8]}").create(settings)
    try:
        produce_events(topics.main, events, settings)
        faults = FaultInjector().poison(*poison)
        for key, times in key_outages.items():
            faults.fail_key(key, times=times)
        for event_id, times in event_failures.items():
            faults.fail_event(event_id, times=times)
        handler = faults.wrap(lambda event, attempt: {})
        main = OrderedMainApp.for_topics(topics, handler=handler, retry_delay=DELAY, settings=settings)
        retry = OrderedRetryApp.for_topics(topics, handler=handler, retry_delay=DELAY, max_attempts=MAX_ATTEMPTS,
                                           settings=settings)

        main, results = run_both(topics, faults, settings, main=main, retry=retry)

        assert_ordered_retry_invariants(results, main)
        inv.check_bounded_retries(faults.attempts_per_event(), max_attempts=MAX_ATTEMPTS, output=results.output,
                                  dead_letters=results.error).raise_if_failed()
        dead = {m.value for m in results.error}
        assert {e.id for e in events if e.encode() in dead} == expected_dead_letters(
            events, key_outages, event_failures, poison)
        assert main.store.snapshot() == {}
    finally:
        topics.delete(settings)
