"""The order API's status codes and JSON, served by uvicorn over a fake order service (no broker)."""
from __future__ import annotations

import socket

import pytest
import requests

from labkit.errors import PortInUseError
from labkit.pizza.errors import PipelineError
from labkit.pizza.order_api import ApiServer, create_app
from labkit.pizza.order_book import OrderBook
from labkit.pizza.order_service import check_count
from labkit.pizza.records import Pizza, PizzaOrder


class FakeOrders:
    """An in-memory order service: orders get ids 1, 2, …; `down` makes ordering fail."""

    def __init__(self) -> None:
        self.book = OrderBook()
        self.ready = True
        self.down = False

    def order(self, count):
        count = check_count(count)
        if self.down:
            raise PipelineError("The order service is not running.")
        order_id = str(len(self.book) + 1)
        self.book.add_order(PizzaOrder(order_id, count))
        return order_id

    def get(self, order_id):
        return self.book.get(order_id)

    def wait(self, order_id, timeout):
        return self.book.wait(order_id, timeout)

    def orders(self):
        return self.book.views()


@pytest.fixture
def fake():
    return FakeOrders()


class Api:
    """requests against the test server's base URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def post(self, path: str, **kwargs):
        return self.session.post(self.url + path, timeout=10, **kwargs)

    def get(self, path: str, **kwargs):
        return self.session.get(self.url + path, timeout=10, **kwargs)


@pytest.fixture
def server(fake):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ApiServer(create_app(fake), port=port).start()
    yield server
    server.stop()
    assert not server.running


@pytest.fixture
def api(server):
    return Api(server.url)


def test_a_second_server_on_the_same_port_is_refused(server, fake):
    with pytest.raises(PortInUseError, match=f"Port {server.port} .pizza order API"):
        ApiServer(create_app(fake), port=server.port).start()


def test_post_returns_a_json_object_not_a_json_string(api):
    reply = api.post("/order/3")
    assert reply.status_code == 200
    assert reply.json() == {"order_id": "1"}


@pytest.mark.parametrize("count, message", [("0", "got 0"), ("51", "got 51"), ("abc", "got 'abc'")])
def test_post_with_a_bad_count_is_422_with_a_message(api, count, message):
    reply = api.post(f"/order/{count}")
    assert reply.status_code == 422
    assert message in reply.json()["detail"] and "1 to 50" in reply.json()["detail"]


def test_get_unknown_order_is_404_not_a_keyerror(api):
    reply = api.get("/order/12345")
    assert reply.status_code == 404
    assert reply.json()["detail"].startswith("Order 12345 not found")


def test_get_returns_order_pizzas_and_status(api, fake):
    order_id = api.post("/order/2").json()["order_id"]
    fake.book.add_pizza(Pizza(order_id, 1, "light", "extra", "ham", "none"))
    body = api.get(f"/order/{order_id}").json()
    assert body["status"] == "in progress" and body["ready"] == 1 and body["count"] == 2
    assert body["pizzas"][0]["sauce"] == "light"
    fake.book.add_pizza(Pizza(order_id, 2, "none", "none", "none", "none"))
    assert api.get(f"/order/{order_id}", params={"wait": 1}).json()["status"] == "complete"


def test_wait_is_bounded(api):
    order_id = api.post("/order/1").json()["order_id"]
    assert api.get(f"/order/{order_id}", params={"wait": 31}).status_code == 422
    assert api.get(f"/order/{order_id}", params={"wait": -1}).status_code == 422


def test_orders_and_health(api):
    api.post("/order/1")
    assert api.get("/orders").json() == [{"order_id": "1", "count": 1, "ready": 0, "status": "in progress"}]
    assert api.get("/health").json() == {"ready": True, "orders": 1}


def test_ordering_while_kafka_is_unavailable_is_503(api, fake):
    fake.down = True
    reply = api.post("/order/2")
    assert reply.status_code == 503 and "not running" in reply.json()["detail"]
