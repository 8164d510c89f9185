"""The topic-count widget against the real cluster: its snapshot follows the topics while records arrive."""
from labkit import topics as admin_topics
from labkit.patterns import make_events
from labkit.patterns.clients import produce_events, send_all, wait_until
from labkit.patterns.topic_counter import TopicCounter


def test_counter_follows_records_and_tombstones_on_real_topics(run_topics, settings):
    topics = run_topics()
    counter = TopicCounter({"main": topics.main, "redirect": topics.redirect, "error": topics.error,
                            "missing": f"{topics.prefix}-never-created"}, interval=0.1, settings=settings)
    with counter:
        produce_events(topics.main, make_events(per_key=3, seed=1), settings)
        send_all(topics.redirect, [(b"id-1", b'{"key": "k1"}'), (b"id-1", None)], settings)
        wait_until(lambda: counter.snapshot()["main"] == 12 and counter.snapshot()["redirect"] == 2, timeout=15)
    assert counter.snapshot() == {"main": 12, "redirect": 2, "error": 0, "missing": 0}
    assert counter.snapshot()["main"] == admin_topics.message_count(topics.main, settings)
    assert counter.error is None and not counter.running
