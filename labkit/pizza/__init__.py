"""The event-driven pizza shop of lesson 06: an order API and four topping services chained by Kafka topics.

    order API ─► pizza ─► sauce ─► pizza-with-sauce ─► cheese ─► pizza-with-cheese ─► meats ─►
    pizza-with-meats ─► veggies ─► pizza-with-veggies ─► order service (GET /order/{id})

In a notebook, `with Pipeline(seed=6) as shop:` runs every service as a thread; `labkit pizza up` runs them
as processes. Module map: records (Pizza, PizzaOrder), topics (names), toppings (choices), service (the
stage base class), services (the four topping services), order_book / order_service / order_api (orders),
client (HTTP), monitor (load per stage), pipeline (threads), processes (`labkit pizza`), ksql_view.
"""
from __future__ import annotations

import logging

from labkit.pizza.client import OrderClient
from labkit.pizza.errors import (
    EngineRequiredError,
    InvalidOrderError,
    MalformedPizzaError,
    OrderNotFoundError,
    PipelineError,
    PizzaError,
    ProduceFailedError,
)
from labkit.pizza.monitor import Load, LoadReader, Stage
from labkit.pizza.order_service import OrderService
from labkit.pizza.pipeline import DEFAULT_STAGES, Pipeline, wait_until
from labkit.pizza.records import OrderView, Pizza, PizzaOrder
from labkit.pizza.service import PizzaService
from labkit.pizza.services import CheeseService, MeatService, SauceService, ToppingService, VeggieService
from labkit.pizza.topics import PizzaTopics

# Services log from threads; without a handler Python would print warnings to stderr, i.e. into whatever
# notebook cell happens to run. Processes started by `labkit pizza up` configure logging to their log file.
logging.getLogger("labkit.pizza").addHandler(logging.NullHandler())

__all__ = [
    "CheeseService", "DEFAULT_STAGES", "EngineRequiredError", "InvalidOrderError", "Load", "LoadReader",
    "MalformedPizzaError", "MeatService", "OrderClient", "OrderNotFoundError", "OrderService", "OrderView",
    "Pipeline", "PipelineError", "Pizza", "PizzaError", "PizzaOrder", "PizzaService", "PizzaTopics",
    "ProduceFailedError", "SauceService", "Stage", "ToppingService", "VeggieService", "wait_until",
]
