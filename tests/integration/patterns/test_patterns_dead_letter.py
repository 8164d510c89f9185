"""Pattern 2 on the real cluster: bad input lands in the error topic with its reason; the flow never stops."""
import pytest
from kafka.errors import KafkaError

from labkit.patterns import DeadLetterConsumer, FaultInjector, echo_handler, make_events
from labkit.patterns import clients, headers as hdr, invariants as inv
from labkit.patterns.clients import produce_events, send_all
from labkit.patterns.dead_letter import DeadLetterWriter

BAD_INPUT = [
    (b"k1", b"{not json", "UndecodableRecordError", "not JSON"),
    (b"k2", b'{"id": 5, "seq": 1}', "InvalidRecordError", "Field 'id' must be a non-empty string, got a number"),
    (b"k3", b'{"id": "k3-x", "seq": "two"}', "InvalidRecordError", "Field 'seq' must be an integer, got a string"),
    (b"k4", None, "InvalidRecordError", "null value"),
    (b"k1", b"null", "InvalidRecordError", "Expected a JSON object, got null"),
    (b"k2", b"\xff\xfe\x00", "UndecodableRecordError", "not UTF-8"),
]


def test_bad_input_goes_to_the_error_topic_with_its_reason_and_never_stops_the_consumer(run_topics, settings):
    topics = run_topics()
    events = make_events(per_key=4, seed=8)
    produce_events(topics.main, events[:8], settings)
    send_all(topics.main, [(key, value) for key, value, _, _ in BAD_INPUT], settings)
    produce_events(topics.main, events[8:], settings)
    poison = events[12]
    failures = []
    app = DeadLetterConsumer.for_topics(topics, handler=FaultInjector().poison(poison.id).wrap(echo_handler),
                                        settings=settings, on_error=failures.append)

    stats = app.run(count=len(events) + len(BAD_INPUT), timeout=30)

    assert stats.reason == "count"
    assert app.snapshot()["dead_lettered"] == len(BAD_INPUT) + 1
    assert len(failures) == len(BAD_INPUT) + 1 and {f.route for f in failures} == {"error-topic"}
    results = topics.read(settings)
    # every good event after the bad ones was processed: the consumer went on
    assert sorted(r["id"] for r in inv.output_rows(results.output)) == sorted(e.id for e in events if e != poison)
    inv.check_no_loss(results.main, results.output, results.error).raise_if_failed()
    inv.check_dead_letter_headers(results.error, results.main).raise_if_failed()
    reasons = [(m.key, m.value, m.headers[hdr.ERROR_CLASS], m.headers[hdr.ERROR_MESSAGE]) for m in results.error]
    for (key, value, error_class, words), (got_key, got_value, got_class, message) in zip(BAD_INPUT, reasons):
        assert (got_key, got_value, got_class) == (key, value, error_class)
        assert words in message
    assert reasons[-1][2:] == ("PoisonRecordError", f"Event {poison.id} is poison: it fails every time.")
    assert [int(m.headers[hdr.ORIGINAL_OFFSET]) for m in results.error] == [8, 9, 10, 11, 12, 13, 18]
    assert {m.headers[hdr.ORIGINAL_TOPIC] for m in results.error} == {topics.main}
    assert clients.committed_offset(topics.group("main"), topics.main, settings=settings) == len(results.main)


class FailingWriter(DeadLetterWriter):
    """An error topic that refuses writes (a broker error after retries)."""

    def send(self, record, error, *, attempts, message_id=None):
        raise KafkaError("the error topic refused the write")


def test_a_failed_error_topic_write_commits_nothing_and_the_record_is_read_again(run_topics, settings, monkeypatch):
    topics = run_topics()
    events = make_events(per_key=2, seed=2)
    produce_events(topics.main, events[:3], settings)
    send_all(topics.main, [(b"k1", b"{oops")], settings)
    produce_events(topics.main, events[3:], settings)

    broken = DeadLetterConsumer.for_topics(topics, settings=settings)
    monkeypatch.setattr("labkit.patterns.dead_letter.DeadLetterWriter", FailingWriter)
    with pytest.raises(KafkaError, match="refused"):
        broken.run(timeout=30)
    monkeypatch.undo()
    assert clients.committed_offset(topics.group("main"), topics.main, settings=settings) is None

    DeadLetterConsumer.for_topics(topics, settings=settings).run(count=len(events) + 1, timeout=30)
    results = topics.read(settings)
    inv.check_no_loss(results.main, results.output, results.error).raise_if_failed()
    assert [int(m.headers[hdr.ORIGINAL_OFFSET]) for m in results.error] == [3]
