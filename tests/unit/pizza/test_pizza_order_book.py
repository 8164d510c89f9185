"""The order book: each pizza number counted once, pizzas before their order, waits and subscriptions."""
from __future__ import annotations

import threading
import time

import pytest

from labkit.pizza.errors import OrderNotFoundError
from labkit.pizza.order_book import OrderBook
from labkit.pizza.records import Pizza, PizzaOrder


def finished(order_id: str, number: int) -> Pizza:
    return Pizza(order_id, number, "light", "extra", "ham", "olives")


def test_a_resent_pizza_is_counted_once():
    book = OrderBook()
    book.add_order(PizzaOrder("a", 2))
    assert book.add_pizza(finished("a", 1))
    assert not book.add_pizza(finished("a", 1))
    assert book.duplicates == 1
    assert book.get("a").ready == 1 and book.get("a").status == "in progress"
    book.add_pizza(finished("a", 2))
    assert book.get("a").status == "complete"


def test_pizzas_read_before_their_order_wait_for_it():
    book = OrderBook()
    book.add_pizza(finished("b", 2))
    assert "b" not in book
    book.add_order(PizzaOrder("b", 2))
    assert [p.number for p in book.get("b").pizzas] == [2]


def test_a_pizza_number_beyond_the_count_is_not_counted():
    book = OrderBook()
    book.add_order(PizzaOrder("c", 1))
    assert not book.add_pizza(finished("c", 2))
    assert book.strays == 1 and book.get("c").ready == 0


def test_unknown_order_raises_not_found():
    with pytest.raises(OrderNotFoundError, match="Order nope not found"):
        OrderBook().get("nope")


def test_an_order_placed_twice_is_kept_once_and_forget_drops_it():
    book = OrderBook()
    assert book.add_order(PizzaOrder("d", 1)) and not book.add_order(PizzaOrder("d", 1))
    assert len(book) == 1
    book.forget("d")
    assert "d" not in book


def test_wait_returns_when_the_last_pizza_arrives_and_times_out_otherwise():
    book = OrderBook()
    book.add_order(PizzaOrder("e", 2))
    book.add_pizza(finished("e", 1))
    started = time.monotonic()
    assert book.wait("e", 0.1).status == "in progress"
    assert time.monotonic() - started >= 0.1
    threading.Timer(0.05, book.add_pizza, args=(finished("e", 2),)).start()
    assert book.wait("e", 5).status == "complete"


def test_subscribe_replays_then_follows_changes_and_unsubscribes_on_close():
    book = OrderBook()
    book.add_order(PizzaOrder("f", 1))
    updates = book.subscribe(idle_timeout=0.01)
    assert next(updates).order_id == "f"
    assert next(updates) is None  # idle heartbeat
    book.add_pizza(finished("f", 1))
    changed = next(u for u in updates if u is not None)
    assert changed.status == "complete"
    updates.close()
    assert book._subscribers == []
