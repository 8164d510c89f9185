"""Pattern 1 on the real cluster: halt at the failing offset, commit nothing past it, resume there (I6)."""
from labkit.patterns import FaultInjector, StopOnErrorConsumer, StoppedOnError, echo_handler, make_events
from labkit.patterns import clients, invariants as inv
from labkit.patterns.clients import produce_events


def test_poison_record_halts_the_consumer_at_its_offset_and_the_fix_resumes_exactly_there(run_topics, settings):
    topics = run_topics()
    events = make_events(per_key=5, seed=11)
    produce_events(topics.main, events, settings)
    poison = events[7]
    faults = FaultInjector().poison(poison.id)
    failures = []
    app = StopOnErrorConsumer.for_topics(topics, handler=faults.wrap(echo_handler), settings=settings,
                                         on_error=failures.append)

    stats = app.run(timeout=30)

    assert stats.reason == "halted" and stats.handled == 7
    assert isinstance(app.halted, StoppedOnError) and app.halted.offset == 7
    assert [(f.offset, f.route, type(f.error).__name__) for f in failures] == [(7, "stop", "PoisonRecordError")]
    results = topics.read(settings)
    committed = clients.committed_offset(topics.group("main"), topics.main, settings=settings)
    inv.check_stop_on_error(results.main, results.output, committed=committed, failing_offset=7).raise_if_failed()

    # Started again without a fix, it halts at the same record and commits nothing more.
    again = StopOnErrorConsumer.for_topics(topics, handler=faults.wrap(echo_handler), settings=settings)
    assert again.run(timeout=30).reason == "halted" and again.halted.offset == 7
    assert clients.committed_offset(topics.group("main"), topics.main, settings=settings) == 7

    # The operator's fix: the same group resumes at the poison record and finishes the topic.
    faults.heal()
    fixed = StopOnErrorConsumer.for_topics(topics, handler=faults.wrap(echo_handler), settings=settings)
    assert fixed.run(count=len(events) - 7, timeout=30).reason == "count"
    results = topics.read(settings)
    assert [m.offset for m in results.output][7:8] == [7]
    assert inv.output_rows(results.output)[7]["id"] == poison.id
    inv.check_no_loss(results.main, results.output, results.error).raise_if_failed()
    inv.check_key_order(results.output).raise_if_failed()
    assert clients.committed_offset(topics.group("main"), topics.main, settings=settings) == len(events)


def test_undecodable_record_also_stops_the_consumer(run_topics, settings):
    topics = run_topics()
    events = make_events(per_key=2, seed=3)
    produce_events(topics.main, events[:3], settings)
    clients.send_all(topics.main, [(b"k1", b"{not json")], settings)
    produce_events(topics.main, events[3:], settings)
    app = StopOnErrorConsumer.for_topics(topics, settings=settings)
    assert app.run(timeout=30).reason == "halted"
    assert app.halted.offset == 3 and type(app.halted.cause).__name__ == "UndecodableRecordError"
    results = topics.read(settings)
    inv.check_stop_on_error(results.main, results.output, failing_offset=3,
                            committed=clients.committed_offset(topics.group("main"), topics.main,
                                                               settings=settings)).raise_if_failed()
