"""The pizza order panel: a count slider, an Order button, a progress bar per order, a table of finished pizzas.

It talks to the order API over HTTP, as any customer would, so it works with `Pipeline()` in the notebook
and with `labkit pizza up` alike.

Example:
    >>> panel = OrderPanel(shop)           # doctest: +SKIP
    >>> panel                              # shows the panel; click Order, or:
    >>> panel.order(3); panel.wait_complete()["orders"][-1]["status"]
    'complete'
"""
from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as widgets

from labkit.pizza.client import OrderClient
from labkit.pizza.errors import PipelineError, PizzaError
from labkit.pizza.records import TOPPINGS, OrderView
from labkit.widgets.live import PeriodicWidget

PIZZA_COLUMNS = ("order", "number", *TOPPINGS)


def short_id(order_id: str) -> str:
    """The last six digits of an order id, enough to tell orders apart on screen."""
    return "…" + order_id[-6:]


class OrderPanel(PeriodicWidget):
    """Order pizzas and watch each order fill up as its pizzas finish."""

    kind = "pizza-order-panel"

    def __init__(self, shop: Any, *, interval: float = 0.2, max_count: int = 50, start: bool = True) -> None:
        super().__init__(interval=interval)
        url = shop if isinstance(shop, str) else shop.url
        self.client = OrderClient(url)
        self.count = widgets.IntSlider(value=3, min=1, max=max_count, description="Pizzas",
                                       continuous_update=False)
        self.order_button = widgets.Button(description="Order", icon="shopping-cart", button_style="success",
                                           tooltip="POST /order/{count}")
        self.order_button.on_click(lambda _: self._order_clicked())
        self.orders_box = widgets.VBox([])
        self.table = widgets.HTML(_pizza_table([]))
        self._widget = widgets.VBox([widgets.HBox([self.count, self.order_button, self.stop_button]), self.message,
                                     self.orders_box, self.table])
        self._views: dict[str, OrderView] = {}
        self._bars: dict[str, tuple[widgets.IntProgress, widgets.Label]] = {}
        self._lock = threading.Lock()
        if start:
            self.start()

    @property
    def widget(self) -> widgets.Widget:
        """The panel to display."""
        return self._widget

    def order(self, count: int | None = None) -> str:
        """Place an order (the slider's count by default) and add its progress bar; returns the order id."""
        count = self.count.value if count is None else count
        order_id = self.client.order(count)
        bar = widgets.IntProgress(value=0, min=0, max=count, description=short_id(order_id), bar_style="info")
        label = widgets.Label(_progress_text(0, count, "in progress"))
        with self._lock:
            self._views[order_id] = OrderView(order_id, count)
            self._bars[order_id] = (bar, label)
        self.orders_box.children = (*self.orders_box.children, widgets.HBox([bar, label]))
        return order_id

    def _order_clicked(self) -> None:
        try:
            self.order()
            self.clear_error()
        except PizzaError as error:  # shown in the panel; a click handler has no caller to raise to
            self.show_error(error)

    def refresh(self) -> None:
        """Fetch every incomplete order and update its bar and the pizza table."""
        with self._lock:
            pending = [order_id for order_id, view in self._views.items() if not view.complete]
        changed = False
        for order_id in pending:
            view = self.client.get(order_id)
            with self._lock:
                if view.ready != self._views[order_id].ready:
                    changed = True
                self._views[order_id] = view
                bar, label = self._bars[order_id]
            bar.value = view.ready
            label.value = _progress_text(view.ready, view.count, view.status)
            if view.complete:
                bar.bar_style = "success"
        if changed:
            self.table.value = _pizza_table(self._pizza_rows())

    def wait_complete(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until every order placed here is complete and shown; returns the snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                self.refresh()
            snap = self.snapshot()
            if all(o["status"] == "complete" for o in snap["orders"]):
                return snap
            if time.monotonic() > deadline:
                raise PipelineError(f"Orders still in progress after {timeout:.0f} s: "
                                    f"{[o for o in snap['orders'] if o['status'] != 'complete']}")
            time.sleep(0.05)

    def snapshot(self) -> dict[str, Any]:
        """Orders (id, count, ready, status, bar value), finished pizzas (sorted) and the panel's state."""
        with self._lock:
            orders = [{"order_id": oid, "count": v.count, "ready": v.ready, "status": v.status,
                       "bar": self._bars[oid][0].value} for oid, v in self._views.items()]
        return {"running": self.running, "orders": orders, "pizzas": self._pizza_rows(), "error": self.error}

    def _pizza_rows(self) -> list[dict[str, Any]]:
        with self._lock:
            views = list(self._views.values())
        return [{"order": view.order_id, **{k: v for k, v in pizza.to_dict().items() if k != "order_id"}}
                for view in views for pizza in view.pizzas]

    def start(self) -> "OrderPanel":
        """Start updating (and taking orders)."""
        self.order_button.disabled = False
        super().start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop updating; the Order button stops too."""
        super().stop(timeout)
        self.order_button.disabled = True


def _progress_text(ready: int, count: int, status: str) -> str:
    return f"{ready}/{count} {status}"


def _pizza_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<i>No finished pizzas yet.</i>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{c}</th>" for c in PIZZA_COLUMNS)
    body = []
    for row in rows:
        cells = [short_id(row["order"]), str(row["number"]), *(row[t] for t in TOPPINGS)]
        body.append("<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return (f"<table class='pizza-table'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
