"""Shared steps of the ordered-retry tests: run both apps until everything settled, check the invariants."""
from __future__ import annotations

from labkit.patterns import FaultInjector, OrderedMainApp, OrderedRetryApp, PatternTopics, Results, compacted_view
from labkit.patterns import invariants as inv
from labkit.patterns.clients import wait_until

DELAY = 0.3
MAX_ATTEMPTS = 3


def settled_and_unlocked(topics: PatternTopics, main: OrderedMainApp, settings) -> bool:
    """Every event is in the output or the error topic, and no id is locked in the store or the topic."""
    results = topics.read(settings)
    return results.settled() and len(main.store) == 0 and not compacted_view(
        (m.key, m.value) for m in results.redirect)


def run_both(topics: PatternTopics, faults: FaultInjector, settings, *, timeout: float = 40.0,
             main: OrderedMainApp | None = None, retry: OrderedRetryApp | None = None) -> tuple[OrderedMainApp, Results]:
    """Start the main app (its store rebuilt by the time start() returns), then the retry app; wait until all
    settled and unlocked, stop both."""
    handler = faults.wrap(lambda event, attempt: dict(event.payload))
    main = main or OrderedMainApp.for_topics(topics, handler=handler, retry_delay=DELAY, settings=settings)
    retry = retry or OrderedRetryApp.for_topics(topics, handler=handler, retry_delay=DELAY,
                                                max_attempts=MAX_ATTEMPTS, settings=settings)
    with main, retry:
        wait_until(lambda: settled_and_unlocked(topics, main, settings) or main.error or retry.error,
                   timeout=timeout, what="every event to settle and every lock to be freed")
    assert main.error is None and retry.error is None, (main.error, retry.error)
    return main, topics.read(settings)


def assert_ordered_retry_invariants(results: Results, main: OrderedMainApp, faults: FaultInjector | None = None,
                                    *, healthy_keys_of: set[str] | None = None, exact_attempts: bool = True) -> None:
    """I1, I2, I5 and I7 always; I3 when the attempt log is exact (no crash replays); I4 for given failing keys."""
    inv.check_no_loss(results.main, results.output, results.error).raise_if_failed()
    inv.check_key_order(results.output).raise_if_failed()
    inv.check_store_matches_redirect(main.store.snapshot(), results.redirect).raise_if_failed()
    inv.check_dead_letter_headers(results.error, results.main).raise_if_failed()
    if faults is not None and exact_attempts:
        inv.check_bounded_retries(faults.attempts_per_event(), max_attempts=MAX_ATTEMPTS, output=results.output,
                                  dead_letters=results.error).raise_if_failed()
        inv.check_retry_delays(faults.attempt_log(), delays=[DELAY]).raise_if_failed()
    if healthy_keys_of is not None:
        inv.check_liveness(results.main, results.output, failing_keys=healthy_keys_of).raise_if_failed()
