"""Pattern 3 on the real cluster: retry levels, delays, attempt limits, and per-key order broken as promised."""
from labkit.patterns import FaultInjector, RetryApp, RetryingConsumer, echo_handler, make_events
from labkit.patterns import headers as hdr, invariants as inv
from labkit.patterns.clients import produce_events, wait_until

DELAYS = (0.3, 0.6)


def faults_for_the_lesson() -> FaultInjector:
    """k3's dependency is down for two calls; k4-2 fails more often than the attempt limit allows."""
    return FaultInjector().fail_key("k3", times=2).fail_event("k4-2", times=5)


def test_retry_topics_recover_transient_failures_but_break_per_key_order(run_topics, settings):
    topics = run_topics(retry_levels=2)
    events = make_events(per_key=6, seed=5)
    produce_events(topics.main, events, settings)
    faults = faults_for_the_lesson()
    handler = faults.wrap(echo_handler)
    policy = topics.retry_policy(delays=DELAYS, max_attempts=3)

    main = RetryingConsumer.for_topics(topics, policy, handler=handler, settings=settings)
    assert main.run(count=len(events), timeout=30).reason == "count"
    retry = RetryApp.for_topics(topics, policy, handler=handler, settings=settings)
    retry.run(idle=1.5, timeout=30)

    results = topics.read(settings)
    inv.check_no_loss(results.main, results.output, results.error).raise_if_failed()
    inv.check_bounded_retries(faults.attempts_per_event(), max_attempts=3, output=results.output,
                              dead_letters=results.error).raise_if_failed()
    inv.check_retry_delays(faults.attempt_log(), delays=DELAYS).raise_if_failed()
    inv.check_dead_letter_headers(results.error, results.main).raise_if_failed()
    order = inv.check_key_order(results.output)
    assert not order.ok
    assert order.problems == ("k3: seq 1 after seq 6", "k3: seq 2 after seq 6")
    assert inv.key_sequences(results.output)["k3"] == [3, 4, 5, 6, 1, 2]
    # k4-2 went through both levels, then to the error topic after its third attempt
    level_1 = [m for m in results.retry if m.topic == topics.retry_level(1)]
    level_2 = [m for m in results.retry if m.topic == topics.retry_level(2)]
    assert sorted(m.value for m in level_1) == sorted(e.encode() for e in events if e.id in {"k3-1", "k3-2", "k4-2"})
    assert [hdr.attempts(m.headers) for m in level_2] == [2]
    (dead,) = results.error
    assert (dead.headers[hdr.ERROR_CLASS], dead.headers[hdr.ATTEMPTS]) == ("TransientError", "3")
    assert hdr.origin(dead.headers) == (topics.main, 0, 7)


def test_retry_app_waits_by_pausing_and_stays_in_its_group_longer_than_max_poll_interval(run_topics, settings):
    topics = run_topics()
    events = make_events(keys=("k1", "k2"), per_key=2, seed=1)
    produce_events(topics.main, events, settings)
    faults = FaultInjector().fail_key("k2", times=1)
    handler = faults.wrap(echo_handler)
    policy = topics.retry_policy(delays=(2.5,), max_attempts=2)
    # A consumer that does not poll for max.poll.interval.ms (1.5 s) leaves its group (its heartbeat thread
    # checks every 0.3 s); a retry app that slept through the 2.5 s delay would be assigned twice.
    retry = RetryApp.for_topics(topics, policy, handler=handler, settings=settings,
                                consumer_config={"max_poll_interval_ms": 1500, "heartbeat_interval_ms": 300})
    with retry:
        RetryingConsumer.for_topics(topics, policy, handler=handler, settings=settings).run(count=4, timeout=30)
        wait_until(lambda: topics.read(settings).settled(), timeout=20, what="the retried event")
    assert retry.error is None
    assert retry.snapshot().get("assignments") == 1, retry.snapshot()  # never rebalanced while waiting
    assert retry.snapshot().get("rebalances", 0) <= 1  # at most the revocation of close()
    inv.check_retry_delays(faults.attempt_log(), delays=(2.5,)).raise_if_failed()
