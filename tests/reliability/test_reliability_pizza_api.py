"""The pizza order API fuzzed from its own OpenAPI spec with schemathesis: never a 500.

A real shop (order service, the four topping services, the API on a free port) runs over the shared
cluster with topics of its own; schemathesis generates valid and invalid requests for every operation
the spec lists (paths, query parameters, methods) and checks each answer is not a server error.
Bodies the spec does not describe (malformed JSON, wrong content types) are sent by hand.
"""
from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings as hsettings
from schemathesis.checks import not_a_server_error

from labkit.pizza import Pipeline, PizzaTopics
from labkit.pizza.order_api import create_app

from reliability_support import free_port, unique_name

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def shop(cluster, settings):
    topics = PizzaTopics(prefix=f"{unique_name('rel').lower()}-")
    pipeline = Pipeline(seed=3, topics=topics, settings=settings, port=free_port(), fresh=True).start()
    yield pipeline
    pipeline.stop()
    pipeline.delete_topics()


class _SpecOnly:
    """Orders for building the app whose spec is read; requests go to the real shop, never here."""

    ready = False


# The spec is the order API's own (FastAPI builds it from the routes); it does not depend on the orders.
SPEC = create_app(_SpecOnly()).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def pizza_schema(shop):
    """The spec as the running shop serves it."""
    return schemathesis.openapi.from_url(shop.url + "/openapi.json")


@schema.parametrize()
@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_order_api_never_answers_500(case, shop):
    if case.query and "wait" in case.query:  # bound the time an unfinished order may be waited for
        case.query["wait"] = min(float(case.query["wait"]) if isinstance(case.query["wait"], (int, float)) else 0, 1)
    response = case.call(base_url=shop.url, timeout=60)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])


def test_the_spec_lists_every_operation(pizza_schema):
    operations = {(op.ok().method.upper(), op.ok().path) for op in pizza_schema.get_all_operations()}
    assert {("POST", "/order/{count}"), ("GET", "/order/{order_id}"), ("GET", "/orders"), ("GET", "/health")} <= operations


@pytest.mark.parametrize("count", ["0", "51", "-1", "1.5", "abc", "9" * 400, "%00", "1e3", "²", "1²"])
def test_invalid_counts_are_422_and_nothing_is_ordered(shop, count):
    before = len(httpx.get(shop.url + "/orders", timeout=30).json())
    response = httpx.post(f"{shop.url}/order/{count}", timeout=30)
    assert response.status_code in (404, 422), response.text
    assert len(httpx.get(shop.url + "/orders", timeout=30).json()) == before


@pytest.mark.parametrize("body, content_type", [(b"{", "application/json"), (b"\xff\xfe", "application/json"),
                                                (b"<xml/>", "application/xml"), (b"x" * 1_000_000, "text/plain")])
def test_request_bodies_are_ignored_or_refused_never_a_500(shop, body, content_type):
    response = httpx.post(shop.url + "/order/1", content=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code in (200, 400, 413, 415, 422), response.text[:300]
