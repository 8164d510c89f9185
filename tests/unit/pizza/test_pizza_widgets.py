"""The widgets without a browser or a broker: state through snapshot(), Stop buttons, one live instance per key."""
from __future__ import annotations

import itertools
import time

import pytest

from labkit.pizza.errors import PipelineError
from labkit.pizza.monitor import Load, Stage
from labkit.pizza.order_book import OrderBook
from labkit.pizza.records import Pizza, PizzaOrder
from labkit.widgets import LiveQueryView, OrderPanel, PipelineMonitor, live
from labkit.widgets import order_panel as order_panel_module


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_live_query_view_keeps_one_row_per_key_like_a_table():
    rows = [{"order_id": "a", "ready": 0}, {"order_id": "b", "ready": 1}, {"order_id": "a", "ready": 2}]
    view = LiveQueryView(rows, key="order_id", title="t1")
    wait_for(lambda: view.snapshot()["finished"])
    snap = view.snapshot()
    assert snap["rows"] == [{"order_id": "a", "ready": 2}, {"order_id": "b", "ready": 1}]
    assert snap["received"] == 3 and snap["columns"] == ["order_id", "ready"] and not snap["running"]
    assert "<td style='padding:2px 8px'>2</td>" in view.view.value


def test_live_query_view_without_key_keeps_the_newest_rows_like_a_stream():
    view = LiveQueryView(([n, n * n] for n in range(10)), columns=["n", "square"], max_rows=3, title="t2")
    wait_for(lambda: view.snapshot()["finished"])
    assert view.snapshot()["rows"] == [{"n": 7, "square": 49}, {"n": 8, "square": 64}, {"n": 9, "square": 81}]


def test_stop_button_ends_an_idle_source_and_closes_it():
    closed = []

    def heartbeats():
        try:
            yield {"x": 1}
            while True:
                yield None
                time.sleep(0.01)
        finally:
            closed.append(True)

    stopped = []
    view = LiveQueryView(heartbeats(), title="t3", on_stop=lambda: stopped.append(True))
    wait_for(lambda: view.snapshot()["received"] == 1)
    view.stop_button.click()
    assert not view.running and closed == [True] and stopped == [True]
    assert view.stop_button.description == "Stopped" and view.stop_button.disabled


def test_a_new_view_with_the_same_title_stops_the_old_one():
    first = LiveQueryView(itertools.repeat(None), title="same")
    second = LiveQueryView(itertools.repeat(None), title="same")
    assert not first.running and second.running
    live.stop_all()
    assert not second.running


def test_a_row_the_view_cannot_show_is_reported_in_the_widget():
    view = LiveQueryView([object()], title="t4")
    wait_for(lambda: not view.running)
    assert "Cannot show" in view.snapshot()["error"] and "Cannot show" in view.message.value


def test_order_status_updates_render_as_rows():
    book = OrderBook()
    book.add_order(PizzaOrder("o1", 1))
    updates = book.subscribe(idle_timeout=0.01)
    view = LiveQueryView(updates, key="order_id", columns=["order_id", "count", "ready", "status"], title="t5")
    book.add_pizza(Pizza("o1", 1, "a", "b", "c", "d"))
    wait_for(lambda: view.snapshot()["rows"] and view.snapshot()["rows"][0]["status"] == "complete")
    view.stop()
    assert book._subscribers == []


class FakeClient:
    """Stands in for OrderClient: an order book behind the same methods."""

    def __init__(self, url):
        self.url = url
        self.book = OrderBook()
        self.fail = False

    def order(self, count):
        if self.fail:
            raise PipelineError("The order API at x does not answer.")
        order_id = f"10000000000000000000{len(self.book) + 1}"
        self.book.add_order(PizzaOrder(order_id, count))
        return order_id

    def get(self, order_id, *, wait=0.0):
        return self.book.get(order_id)


@pytest.fixture
def panel(monkeypatch):
    monkeypatch.setattr(order_panel_module, "OrderClient", FakeClient)
    panel = OrderPanel("http://shop", start=False)
    yield panel
    panel.stop()


def test_order_button_adds_a_progress_bar_that_fills_as_pizzas_finish(panel):
    panel.count.value = 2
    panel.order_button.click()
    (order,) = panel.snapshot()["orders"]
    assert (order["count"], order["ready"], order["bar"], order["status"]) == (2, 0, 0, "in progress")
    bar, label = panel._bars[order["order_id"]]
    assert bar.max == 2 and label.value == "0/2 in progress"
    panel.client.book.add_pizza(Pizza(order["order_id"], 1, "light", "extra", "ham", "none"))
    panel.refresh()
    assert panel.snapshot()["orders"][0]["bar"] == 1
    panel.client.book.add_pizza(Pizza(order["order_id"], 2, "none", "none", "none", "olives"))
    snap = panel.wait_complete(timeout=2)
    assert snap["orders"][0]["status"] == "complete" and label.value == "2/2 complete"
    assert bar.bar_style == "success"
    assert [p["number"] for p in snap["pizzas"]] == [1, 2] and snap["pizzas"][1]["veggies"] == "olives"
    assert "olives" in panel.table.value and "…000001" in panel.table.value


def test_an_order_the_shop_cannot_take_is_shown_not_raised(panel):
    panel.client.fail = True
    panel.order_button.click()
    assert "does not answer" in panel.snapshot()["error"]
    assert panel.snapshot()["orders"] == []


def test_the_panel_refreshes_on_its_own_thread_until_stopped(panel):
    order_id = panel.order(1)
    panel.start()
    panel.client.book.add_pizza(Pizza(order_id, 1, "a", "b", "c", "d"))
    wait_for(lambda: panel.snapshot()["orders"][0]["status"] == "complete")
    panel.stop()
    assert not panel.snapshot()["running"] and panel.order_button.disabled


class FakeReader:
    def __init__(self, loads):
        self.loads = list(loads)
        self.closed = False

    def read(self):
        return self.loads.pop(0)

    def close(self):
        self.closed = True


def test_monitor_shows_messages_in_flight_and_the_bottleneck():
    stages = [Stage("sauce", "pizza", "pizza-with-sauce"), Stage("cheese", "pizza-with-sauce", "pizza-with-cheese")]
    monitor = PipelineMonitor(stages=stages, start=False)
    monitor._reader = FakeReader([
        Load({"pizza": 5, "pizza-with-sauce": 2, "pizza-with-cheese": 0}, {"sauce": 3, "cheese": 2}),
        Load({"pizza": 5, "pizza-with-sauce": 5, "pizza-with-cheese": 5}, {"sauce": 0, "cheese": 0}),
    ])
    monitor.refresh()
    assert monitor.snapshot()["in_flight"] == {"sauce": 3, "cheese": 2}
    assert "sauce · 3 in flight" in monitor.diagram.value and "pizza-with-sauce <b>2</b>" in monitor.diagram.value
    monitor.refresh()
    snap = monitor.snapshot()
    assert snap["in_flight"] == {"sauce": 0, "cheese": 0} and snap["peak_in_flight"] == {"sauce": 3, "cheese": 2}
    assert snap["bottleneck"] == "sauce" and snap["messages"]["pizza-with-cheese"] == 5
    monitor.reset_peaks()
    assert monitor.bottleneck is None
    monitor.stop()
    assert monitor._reader.closed


def test_monitor_needs_something_to_watch():
    with pytest.raises(ValueError, match="needs a shop"):
        PipelineMonitor(start=False)


def test_stop_that_closes_a_blocked_source_ends_quietly():
    import threading

    closed = threading.Event()

    class BlockingSource:
        """Like a push query: next() blocks until close() breaks the connection."""

        def __iter__(self):
            return self

        def __next__(self):
            closed.wait(10)
            raise ConnectionError("stream closed")

        def close(self):
            closed.set()

    source = BlockingSource()
    view = LiveQueryView(source, title="t6", on_stop=source.close)
    view.stop()
    assert not view.running and view.snapshot()["error"] is None


def test_the_last_rows_of_a_burst_are_drawn_while_the_source_waits():
    import threading

    release = threading.Event()

    def burst_then_wait():
        for ready in range(1, 6):
            yield {"order_id": "o1", "ready": ready}
        release.wait(10)  # a push query with nothing new to send

    view = LiveQueryView(burst_then_wait(), key="order_id", title="t-burst")
    try:
        wait_for(lambda: "<td style='padding:2px 8px'>5</td>" in view.view.value)
        assert view.running and view.snapshot()["rows"] == [{"order_id": "o1", "ready": 5}]
        assert view.status.value == "5 row(s) · live"
    finally:
        release.set()
        view.stop()
