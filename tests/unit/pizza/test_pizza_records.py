"""Pizza, PizzaOrder and OrderView: the JSON on the wire, round trips, and what counts as malformed."""
from __future__ import annotations

import json

import pytest

from labkit.pizza.errors import MalformedPizzaError
from labkit.pizza.records import OrderView, Pizza, PizzaOrder

ORDER_ID = "298082136689504055107639305993855896197"


def test_pizza_json_has_the_lesson_material_field_names_plus_number():
    pizza = Pizza(ORDER_ID, 2)
    assert json.loads(pizza.to_json()) == {"order_id": ORDER_ID, "number": 2, "sauce": "", "cheese": "",
                                           "meats": "", "veggies": ""}


@pytest.mark.parametrize("pizza", [
    Pizza(ORDER_ID, 1),
    Pizza(ORDER_ID, 50, "alfredo", "three cheese", "ham & bacon", "none"),
    Pizza("x", 3, sauce="light"),
])
def test_pizza_round_trips_through_json(pizza):
    assert Pizza.from_json(pizza.to_json()) == pizza


def test_with_topping_sets_one_field_and_finished_needs_all_four():
    pizza = Pizza(ORDER_ID, 1).with_topping("sauce", "light").with_topping("cheese", "extra")
    assert (pizza.sauce, pizza.cheese, pizza.meats) == ("light", "extra", "")
    assert not pizza.finished
    assert pizza.with_topping("meats", "none").with_topping("veggies", "olives").finished
    with pytest.raises(ValueError, match="Unknown topping 'crust'"):
        pizza.with_topping("crust", "thin")


def test_unknown_fields_are_ignored_by_the_tolerant_reader():
    raw = json.dumps({"order_id": "7", "number": 1, "sauce": "extra", "oven": "hot"}).encode()
    assert Pizza.from_json(raw) == Pizza("7", 1, sauce="extra")


@pytest.mark.parametrize("raw, reason", [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (json.dumps(json.dumps({"order_id": "1", "number": 1})).encode(), "JSON string"),
    (b"[1, 2]", "JSON list"),
    (b'{"number": 1}', "missing field 'order_id'"),
    (b'{"order_id": "", "number": 1}', "'order_id' is empty"),
    (b'{"order_id": 5, "number": 1}', "'order_id' is int"),
    (b'{"order_id": "1"}', "missing field 'number'"),
    (b'{"order_id": "1", "number": 0}', "expected 1 or more"),
    (b'{"order_id": "1", "number": true}', "'number' is bool"),
    (b'{"order_id": "1", "number": 1, "sauce": 3}', "'sauce' is int"),
    (None, "tombstone"),
])
def test_malformed_pizza_records_raise_with_the_reason(raw, reason):
    with pytest.raises(MalformedPizzaError, match=reason) as caught:
        Pizza.from_json(raw)
    assert caught.value.raw == raw


def test_pizza_order_round_trips_and_rejects_bad_counts():
    order = PizzaOrder(ORDER_ID, 3)
    assert PizzaOrder.from_json(order.to_json()) == order
    assert json.loads(order.to_json()) == {"order_id": ORDER_ID, "count": 3}
    with pytest.raises(MalformedPizzaError):
        PizzaOrder.from_json(b'{"order_id": "1", "count": 0}')
    with pytest.raises(MalformedPizzaError):
        PizzaOrder.from_json(b'{"order_id": "1"}')


def test_order_view_status_and_json_shape():
    first = Pizza(ORDER_ID, 1, "light", "extra", "ham", "olives")
    view = OrderView(ORDER_ID, 2, (first,))
    assert (view.ready, view.status, view.complete) == (1, "in progress", False)
    done = OrderView(ORDER_ID, 2, (first, Pizza(ORDER_ID, 2, "none", "none", "none", "none")))
    assert (done.status, done.complete) == ("complete", True)
    shape = done.to_dict()
    assert list(shape) == ["order_id", "count", "ready", "status", "pizzas"]
    assert OrderView.from_dict(shape) == done
