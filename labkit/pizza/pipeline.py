"""The whole pizza shop in one object: four topping services, the order service and the order API, as threads.

In a notebook:

    >>> with Pipeline(seed=6) as shop:                      # doctest: +SKIP
    ...     order_id = shop.order(3)
    ...     shop.wait(order_id).status
    'complete'

or `shop = Pipeline(seed=6).start()` in one cell and `shop.stop()` in the clean-up cell. Services stop when
the `with` block ends, when `stop()` is called, when a new Pipeline takes the same port, or when the kernel
shuts down. `labkit pizza up` runs the same services as processes instead (labkit.pizza.processes).
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from labkit.config import Settings, settings as load_settings
from labkit.pizza import topics as pizza_topics
from labkit.pizza.client import OrderClient
from labkit.pizza.errors import PipelineError
from labkit.pizza.monitor import Load, LoadReader, Stage
from labkit.pizza.order_api import ApiServer, create_app
from labkit.pizza.order_service import OrderService
from labkit.pizza.records import OrderView
from labkit.pizza.service import PizzaService
from labkit.pizza.services import TOPPING_SERVICES
from labkit.pizza.topics import ERRORS, ORDERS, PIZZA, PizzaTopics

DEFAULT_STAGES: tuple[type[PizzaService], ...] = TOPPING_SERVICES
ORDER_SERVICE = "orders"

_running: dict[int, "Pipeline"] = {}
_running_lock = threading.Lock()


def check_chain(stages: Sequence[type[PizzaService]]) -> None:
    """Raise PipelineError unless the stages form one chain starting at the `pizza` topic."""
    if not stages:
        raise PipelineError("A pipeline needs at least one stage.")
    expected = PIZZA
    names = set()
    for stage in stages:
        if stage.source != expected:
            raise PipelineError(f"Stage {stage.name!r} reads {stage.source!r}, but the stage before it writes "
                                f"{expected!r}; each stage must read what the previous one writes.")
        if stage.name in names or stage.name == ORDER_SERVICE:
            raise PipelineError(f"Two stages are named {stage.name!r}; each needs its own name (and group).")
        names.add(stage.name)
        expected = stage.target


class Pipeline:
    """Run the pizza shop as threads of this process; a context manager."""

    def __init__(self, *, seed: int | None = None, topics: PizzaTopics | None = None,
                 settings: Settings | None = None, port: int | None = None, host: str = "127.0.0.1",
                 stages: Sequence[type[PizzaService]] = DEFAULT_STAGES,
                 work_seconds: Mapping[str, float] | None = None, fresh: bool = False) -> None:
        check_chain(stages)
        self.seed = seed
        self.topics = topics or PizzaTopics()
        self.settings = settings or load_settings()
        self.host = host
        self.port = port if port is not None else self.settings.pizza_port
        self.fresh = fresh
        self.stage_classes = tuple(stages)
        work = dict(work_seconds or {})
        unknown = set(work) - {s.name for s in stages}
        if unknown:
            raise PipelineError(f"work_seconds names no stage: {sorted(unknown)}.")
        self.services: dict[str, PizzaService] = {
            stage.name: stage(topics=self.topics, settings=self.settings, seed=seed,
                              work_seconds=work.get(stage.name, 0.0))
            for stage in stages
        }
        self.order_service = self._new_order_service()
        self._server: ApiServer | None = None
        self._client: OrderClient | None = None
        self._load: LoadReader | None = None
        self._load_lock = threading.Lock()

    # -- names -----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The order API's base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def stages(self) -> list[Stage]:
        """The stages in order, as (name, source, target) with base topic names."""
        return [Stage(cls.name, cls.source, cls.target) for cls in self.stage_classes]

    @property
    def finished(self) -> str:
        """Base name of the topic of finished pizzas (the last stage's output)."""
        return self.stage_classes[-1].target

    @property
    def topic_names(self) -> list[str]:
        """Every real topic of this pipeline."""
        bases = [PIZZA] + [cls.target for cls in self.stage_classes] + [ORDERS, ERRORS]
        return [self.topics.name(base) for base in bases]

    @property
    def groups(self) -> list[str]:
        """Every consumer group of this pipeline (one per stage)."""
        return [self.topics.group(name) for name in self.services]

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, *, timeout: float = 60.0) -> "Pipeline":
        """Create the topics (empty ones if fresh=True), start every service and wait until all are ready."""
        _stop_running(self.port)
        if self.fresh:
            pizza_topics.reset(self.topic_names, self.groups, settings=self.settings)
        else:
            pizza_topics.ensure_topics(self.topic_names, settings=self.settings)
        with _running_lock:
            _running[self.port] = self
        try:
            for service in self.services.values():
                service.start()
            self._start_orders(timeout)
            for service in self.services.values():
                service.wait_assigned(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the API, the order service and every stage (safe to call twice)."""
        errors = []
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.order_service.stop()
        for service in self.services.values():
            service.request_stop()
        for service in self.services.values():
            try:
                service.stop()
            except PipelineError as error:
                errors.append(error)
        for resource in (self._client, self._load):
            if resource is not None:
                resource.close()
        self._client = self._load = None
        with _running_lock:
            if _running.get(self.port) is self:
                del _running[self.port]
        if errors:
            raise errors[0]

    def __enter__(self) -> "Pipeline":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop_service(self, name: str) -> None:
        """Stop one service ('sauce', 'cheese', …, or 'orders' for the order service and its API)."""
        if name == ORDER_SERVICE:
            if self._server is not None:
                self._server.stop()
                self._server = None
            self.order_service.stop()
            return
        self._service(name).stop()

    def start_service(self, name: str, *, timeout: float = 60.0) -> None:
        """Start one stopped service again; the order service comes back with a new, rebuilt order book."""
        if name == ORDER_SERVICE:
            if self._server is None:
                self.order_service = self._new_order_service()
                self._start_orders(timeout)
            return
        service = self._service(name)
        service.start()
        service.wait_assigned(timeout)

    def restart_service(self, name: str) -> None:
        """Stop and start one service."""
        self.stop_service(name)
        self.start_service(name)

    def _service(self, name: str) -> PizzaService:
        if name not in self.services:
            raise PipelineError(f"No service {name!r}; choose one of {', '.join([*self.services, ORDER_SERVICE])}.")
        return self.services[name]

    def _new_order_service(self) -> OrderService:
        return OrderService(topics=self.topics, settings=self.settings, seed=self.seed, finished=self.finished)

    def _start_orders(self, timeout: float) -> None:
        self.order_service.start(timeout=timeout)
        self._server = ApiServer(create_app(self.order_service), host=self.host, port=self.port).start()

    # -- using the shop ------------------------------------------------------------------------------------------
    @property
    def client(self) -> OrderClient:
        """An HTTP client of this shop's order API."""
        if self._client is None:
            self._client = OrderClient(self.url)
        return self._client

    def order(self, count: int) -> str:
        """Order `count` pizzas through the HTTP API, like a customer; returns the order id."""
        return self.client.order(count)

    def get(self, order_id: str) -> OrderView:
        """The order as GET /order/{order_id} answers it."""
        return self.client.get(order_id)

    def wait(self, order_id: str, timeout: float = 30.0) -> OrderView:
        """Wait until the order is complete (PipelineError after `timeout` seconds)."""
        return self.client.wait(order_id, timeout)

    def load(self) -> Load:
        """Messages per topic and in-flight pizzas per stage, read from Kafka now."""
        with self._load_lock:
            if self._load is None:
                self._load = LoadReader(self.stages, topics=self.topics, extra_topics=[ORDERS, ERRORS],
                                        settings=self.settings)
            return self._load.read()

    def status(self) -> list[dict[str, Any]]:
        """One row per service: running, records handled, records dead-lettered, last error."""
        rows = [{"service": name, "running": s.running, "handled": s.processed, "dead_lettered": s.dead_lettered,
                 "error": repr(s.failure) if s.failure else ""} for name, s in self.services.items()]
        orders = self.order_service
        rows.append({"service": ORDER_SERVICE, "running": orders.ready and self._server is not None,
                     "handled": len(orders.book), "dead_lettered": orders.malformed,
                     "error": repr(orders.failure) if orders.failure else ""})
        return rows

    def delete_topics(self) -> list[str]:
        """Delete this pipeline's topics and groups (the lesson's clean-up); the pipeline must be stopped."""
        from labkit.topics import delete_topics

        if any(s.running for s in self.services.values()) or self.order_service.running:
            raise PipelineError("Stop the shop first (shop.stop()), then delete its topics.")
        pizza_topics.delete_groups(self.groups, settings=self.settings)
        return delete_topics(self.topic_names, settings=self.settings)

    def __repr__(self) -> str:
        state = "open" if self._server is not None else "closed"
        return f"<Pipeline {state} at {self.url}: {', '.join([*self.services, ORDER_SERVICE])}>"


def wait_until(condition: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05,
               what: str = "the condition") -> Any:
    """Call `condition` until it returns something truthy (returned); PipelineError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise PipelineError(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(interval)


def _stop_running(port: int) -> None:
    with _running_lock:
        previous = _running.pop(port, None)
    if previous is not None:
        logging.getLogger("labkit.pizza").info("stopping the previous pipeline on port %s", port)
        previous.stop()


def stop_all() -> None:
    """Stop every pipeline this process started (runs at interpreter exit, i.e. on kernel shutdown)."""
    with _running_lock:
        pipelines = list(_running.values())
    for pipeline in pipelines:
        pipeline.stop()


atexit.register(stop_all)
