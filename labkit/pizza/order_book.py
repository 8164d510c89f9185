"""The order service's state: orders and their finished pizzas, each pizza number counted once.

It is rebuilt from the topics on every start (orders from `pizza-orders`, pizzas from `pizza-with-veggies`),
so nothing lives only in memory as the lesson material's `pizza_warmer` dict did. Pizzas can be read before
their order (two topics have no common order), so they wait until it arrives.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Iterator

from labkit.pizza.errors import OrderNotFoundError
from labkit.pizza.records import OrderView, Pizza, PizzaOrder


class OrderBook:
    """Thread-safe orders → pizzas map with waits and change subscriptions."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._pizzas: dict[str, dict[int, Pizza]] = {}
        self._changed = threading.Condition()
        self._subscribers: list[queue.SimpleQueue] = []
        self.duplicates = 0
        self.strays = 0

    def add_order(self, order: PizzaOrder) -> bool:
        """Record an order; False if it was known already."""
        with self._changed:
            if order.order_id in self._counts:
                return False
            self._counts[order.order_id] = order.count
            self._pizzas.setdefault(order.order_id, {})
            self._notify(order.order_id)
            return True

    def forget(self, order_id: str) -> None:
        """Drop an order whose records Kafka did not acknowledge."""
        with self._changed:
            self._counts.pop(order_id, None)
            self._pizzas.pop(order_id, None)
            self._changed.notify_all()

    def add_pizza(self, pizza: Pizza) -> bool:
        """Record a finished pizza; False for a pizza number already counted (a re-sent duplicate)."""
        with self._changed:
            pizzas = self._pizzas.setdefault(pizza.order_id, {})
            if pizza.number in pizzas:
                self.duplicates += 1
                return False
            count = self._counts.get(pizza.order_id)
            if count is not None and pizza.number > count:
                self.strays += 1
                return False
            pizzas[pizza.number] = pizza
            if count is not None:
                self._notify(pizza.order_id)
            return True

    def __contains__(self, order_id: object) -> bool:
        with self._changed:
            return order_id in self._counts

    def __len__(self) -> int:
        with self._changed:
            return len(self._counts)

    def get(self, order_id: str) -> OrderView:
        """The order's current view; raises OrderNotFoundError for an unknown id."""
        with self._changed:
            return self._view(order_id)

    def views(self) -> list[OrderView]:
        """Every order, in the order they were placed."""
        with self._changed:
            return [self._view(order_id) for order_id in self._counts]

    def wait(self, order_id: str, timeout: float) -> OrderView:
        """Block until the order is complete or `timeout` seconds pass; returns its view either way."""
        deadline = time.monotonic() + timeout
        with self._changed:
            view = self._view(order_id)
            while not view.complete:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
                view = self._view(order_id)
            return view

    def subscribe(self, *, replay: bool = True, idle_timeout: float = 0.25) -> Iterator[OrderView | None]:
        """Yield each order's view whenever it changes (None every `idle_timeout` s without a change).

        Closing the generator unsubscribes. With replay, every known order is yielded first, as a table's
        push query starts with the current rows.
        """
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        with self._changed:
            self._subscribers.append(inbox)
            backlog = [self._view(order_id) for order_id in self._counts] if replay else []
        try:
            yield from backlog
            while True:
                try:
                    order_id = inbox.get(timeout=idle_timeout)
                except queue.Empty:
                    yield None
                    continue
                with self._changed:
                    view = self._view(order_id) if order_id in self._counts else None
                if view is not None:
                    yield view
        finally:
            with self._changed:
                self._subscribers.remove(inbox)

    def _view(self, order_id: str) -> OrderView:
        if order_id not in self._counts:
            raise OrderNotFoundError(order_id)
        pizzas = self._pizzas.get(order_id, {})
        return OrderView(order_id, self._counts[order_id], tuple(pizzas[n] for n in sorted(pizzas)))

    def _notify(self, order_id: str) -> None:
        self._changed.notify_all()
        for inbox in self._subscribers:
            inbox.put(order_id)
