"""The topic-count widget without a broker: counts through a seam, thread started and stopped, outputs set."""
import itertools

from labkit.patterns.clients import wait_until
from labkit.patterns.topic_counter import _RUNNING, TopicCounter

TOPICS = {"main": "t-main", "retry": "t-retry", "redirect": "t-redirect", "error": "t-error"}


def growing():
    ticks = itertools.count(1)

    def count(topics):
        n = next(ticks)
        return {topic: n * (i + 1) for i, topic in enumerate(topics)}

    return count


def test_counter_thread_updates_the_table_and_takes_a_last_count_on_stop():
    counter = TopicCounter(TOPICS, interval=0.01, count=growing())
    with counter:
        wait_until(lambda: counter.snapshot()["main"] >= 3, timeout=5)
        assert counter.running
    final = counter.snapshot()
    assert not counter.running
    assert final["retry"] == 2 * final["main"] and final["error"] == 4 * final["main"]
    (display,) = counter._output.outputs
    assert "<table>" in display["data"]["text/html"]
    assert f"main: {final['main']}" in display["data"]["text/plain"]
    assert counter._button.disabled


def test_a_new_counter_with_the_same_title_stops_the_old_one():
    first = TopicCounter(TOPICS, interval=0.01, count=growing(), title="same").start()
    second = TopicCounter(TOPICS, interval=0.01, count=growing(), title="same").start()
    try:
        assert not first.running and second.running
        assert _RUNNING["same"] is second
    finally:
        second.stop()
    assert "same" not in _RUNNING


def test_the_stop_button_stops_the_counter():
    counter = TopicCounter(TOPICS, interval=0.01, count=growing()).start()
    counter._button.click()
    assert not counter.running


def test_a_failing_count_ends_the_thread_and_shows_why():
    def broken(topics):
        raise ConnectionError("broker gone")

    counter = TopicCounter(TOPICS, interval=0.01, count=broken).start()
    wait_until(lambda: not counter.running, timeout=5)
    assert isinstance(counter.error, ConnectionError)
    assert "broker gone" in counter._output.outputs[0]["data"]["text/plain"]
    counter.stop()
