"""The widgets against a real shop, driven from the kernel side as the lesson's check cells do."""
from __future__ import annotations

from labkit.pizza import wait_until
from labkit.widgets import LiveQueryView, OrderPanel, PipelineMonitor


def test_order_button_fills_the_bar_and_the_table(shop):
    panel = OrderPanel(shop)
    try:
        panel.count.value = 4
        panel.order_button.click()
        snap = panel.wait_complete(timeout=30)
        order = snap["orders"][-1]
        assert (order["ready"], order["bar"], order["status"]) == (4, 4, "complete")
        assert [p["number"] for p in snap["pizzas"] if p["order"] == order["order_id"]] == [1, 2, 3, 4]
    finally:
        panel.stop()
    assert not panel.snapshot()["running"]


def test_monitor_sees_pizzas_wait_at_a_stopped_stage(shop):
    monitor = PipelineMonitor(shop, interval=0.1)
    try:
        shop.stop_service("veggies")
        try:
            order_id = shop.order(5)
            wait_until(lambda: monitor.snapshot()["in_flight"].get("veggies", 0) >= 5, timeout=30,
                       what="5 pizzas in flight at veggies")
            # waiting is summed over readings: on a slow machine the pizzas may first have waited longer at an
            # earlier stage, but the stopped stage soon holds all five at every reading and takes over
            wait_until(lambda: monitor.snapshot()["bottleneck"] == "veggies", timeout=30,
                       what=f"veggies to be the bottleneck (waiting: {monitor.snapshot()['waiting_total']})")
        finally:
            shop.start_service("veggies")
        assert shop.wait(order_id).status == "complete"
        wait_until(lambda: monitor.snapshot()["in_flight"]["veggies"] == 0, timeout=30, what="veggies to drain")
        assert monitor.snapshot()["messages"]["pizza-with-veggies"] >= 5
    finally:
        monitor.stop()


def test_live_view_of_order_updates_shows_each_order_once(shop):
    view = LiveQueryView(shop.order_service.updates(), key="order_id", title="orders",
                         columns=["order_id", "count", "ready", "status"])
    try:
        order_id = shop.order(2)
        shop.wait(order_id)
        wait_until(lambda: any(r["order_id"] == order_id and r["status"] == "complete"
                               for r in view.snapshot()["rows"]), timeout=10, what="the order's row")
        ids = [r["order_id"] for r in view.snapshot()["rows"]]
        assert len(ids) == len(set(ids))
    finally:
        view.stop()
