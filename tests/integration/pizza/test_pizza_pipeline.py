"""The pizza shop on the real cluster: orders complete, bad requests are refused, restarts lose nothing."""
from __future__ import annotations

import pytest
import requests
from kafka import KafkaConsumer, KafkaProducer

from labkit.pizza import toppings, wait_until
from labkit.pizza.records import TOPPINGS

SERVICES = ("sauce", "cheese", "meats", "veggies")


def assert_complete(view, count):
    assert view.status == "complete" and view.count == count
    assert [p.number for p in view.pizzas] == list(range(1, count + 1))  # each pizza once, none missing
    for pizza in view.pizzas:
        assert pizza.sauce in toppings.SAUCES and pizza.cheese in toppings.CHEESES
        assert all(getattr(pizza, t) for t in TOPPINGS)


def test_an_order_of_ten_pizzas_completes_with_every_topping(shop):
    reply = requests.post(f"{shop.url}/order/10", timeout=10)
    assert reply.status_code == 200
    order_id = reply.json()["order_id"]
    assert_complete(shop.wait(order_id, timeout=30), 10)
    body = requests.get(f"{shop.url}/order/{order_id}", timeout=10).json()
    assert body["status"] == "complete" and len(body["pizzas"]) == 10


@pytest.mark.parametrize("count", ["0", "51", "abc"])
def test_a_bad_count_is_422_with_a_message(shop, count):
    reply = requests.post(f"{shop.url}/order/{count}", timeout=10)
    assert reply.status_code == 422
    assert "1 to 50" in reply.json()["detail"]


def test_an_unknown_order_id_is_404(shop):
    reply = requests.get(f"{shop.url}/order/123456789", timeout=10)
    assert reply.status_code == 404
    assert "not found" in reply.json()["detail"]


def test_the_order_service_rebuilds_every_order_after_a_restart(shop):
    first = shop.order(2)
    done = shop.wait(first)
    pending_before = len(shop.order_service.orders())
    shop.restart_service("orders")
    assert len(shop.order_service.orders()) == pending_before
    assert shop.get(first) == done  # same pizzas, same toppings, read back from the topics
    assert_complete(shop.wait(shop.order(1)), 1)


def test_a_malformed_record_goes_to_the_error_topic_and_the_shop_keeps_working(shop, settings):
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    producer.send(shop.topics.name("pizza"), key=b"junk", value=b"{not a pizza").get(timeout=30)
    producer.close()
    assert_complete(shop.wait(shop.order(2)), 2)
    consumer = KafkaConsumer(shop.topics.errors, **settings.kafka_client_config(), auto_offset_reset="earliest",
                             consumer_timeout_ms=10_000)
    try:
        dead = next(iter(consumer))
    finally:
        consumer.close()
    headers = dict(dead.headers)
    assert dead.value == b"{not a pizza" and headers["service"] == b"sauce"
    assert headers["error.class"] == b"MalformedPizzaError"
    assert headers["source.topic"] == shop.topics.name("pizza").encode()
    assert all(row["running"] for row in shop.status())


@pytest.mark.parametrize("service", SERVICES)
def test_stopping_a_service_in_the_middle_of_an_order_loses_nothing(slow_shop, service):
    topping = slow_shop.services[service]
    before = topping.processed
    order_id = slow_shop.order(30)
    wait_until(lambda: topping.processed >= before + 5, timeout=30, what=f"{service} to handle 5 pizzas")
    try:
        slow_shop.stop_service(service)
        stopped_after = topping.processed - before
        waiting = slow_shop.get(order_id)
    finally:
        slow_shop.start_service(service)
    assert 5 <= stopped_after < 30 and waiting.status == "in progress"
    assert_complete(slow_shop.wait(order_id, timeout=60), 30)


def test_orders_wait_while_a_service_is_down_and_finish_when_it_returns(shop):
    shop.stop_service("cheese")
    try:
        order_id = shop.order(3)
        load = wait_until(lambda: (lambda l: l if l.in_flight["cheese"] >= 3 else None)(shop.load()), timeout=30,
                          what="3 pizzas waiting at cheese")
        assert load.busiest == "cheese" and load.in_flight["meats"] == 0
        assert shop.get(order_id).ready == 0
    finally:
        shop.start_service("cheese")
    assert_complete(shop.wait(order_id), 3)
    assert wait_until(lambda: sum(shop.load().in_flight.values()) == 0 or None, timeout=30) is not None
