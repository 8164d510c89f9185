"""Order counts and order ids, without a broker."""
from __future__ import annotations

import pytest

from labkit.pizza.errors import InvalidOrderError, PipelineError
from labkit.pizza.order_book import OrderBook
from labkit.pizza.order_service import OrderIds, OrderService, check_count
from labkit.pizza.records import PizzaOrder


@pytest.mark.parametrize("given, expected", [(1, 1), ("50", 50), (" 3 ", 3)])
def test_counts_from_one_to_fifty_are_accepted(given, expected):
    assert check_count(given) == expected


@pytest.mark.parametrize("given, message", [
    (0, "from 1 to 50; got 0"), (51, "from 1 to 50; got 51"), ("-1", "got -1"),
    ("abc", "whole number from 1 to 50; got 'abc'"), ("2.5", "whole number"), ("", "whole number"),
])
def test_other_counts_are_refused_with_a_message(given, message):
    with pytest.raises(InvalidOrderError, match=message):
        check_count(given)


def test_seeded_order_ids_repeat_and_look_like_the_materials():
    first = OrderIds(6).next(OrderBook())
    assert first == OrderIds(6).next(OrderBook())
    assert first.isdigit() and 30 <= len(first) <= 39
    assert OrderIds(None).next(OrderBook()) != OrderIds(None).next(OrderBook())


def test_a_restarted_seeded_service_skips_ids_it_already_has():
    book = OrderBook()
    first = OrderIds(6).next(book)
    book.add_order(PizzaOrder(first, 1))
    assert OrderIds(6).next(book) != first


def test_ordering_from_a_service_that_is_not_running_is_a_pipeline_error():
    with pytest.raises(PipelineError, match="not running"):
        OrderService().order(3)
