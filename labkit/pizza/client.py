"""A small HTTP client of the order API, used by the widgets, the CLI, the benchmark and the tests.

Example:
    >>> with OrderClient("http://localhost:8094") as shop:      # doctest: +SKIP
    ...     order_id = shop.order(3)
    ...     shop.wait(order_id).status
    'complete'
"""
from __future__ import annotations

import time
from typing import Any

import requests

from labkit.pizza.errors import InvalidOrderError, OrderNotFoundError, PipelineError
from labkit.pizza.records import OrderView


class OrderClient:
    """Talks to the order API at `url` over one keep-alive session; a context manager."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def order(self, count: int | str) -> str:
        """POST /order/{count}; returns the order id (InvalidOrderError for a count the shop refuses)."""
        reply = self._call("post", f"/order/{count}")
        if reply.status_code == 422:
            raise InvalidOrderError(_detail(reply))
        self._check(reply)
        return reply.json()["order_id"]

    def get(self, order_id: str, *, wait: float = 0.0) -> OrderView:
        """GET /order/{order_id} (waiting up to `wait` s for completion); OrderNotFoundError for 404."""
        params = {"wait": wait} if wait else None
        reply = self._call("get", f"/order/{order_id}", params=params, timeout=self.timeout + wait)
        if reply.status_code == 404:
            raise OrderNotFoundError(order_id)
        self._check(reply)
        return OrderView.from_dict(reply.json())

    def wait(self, order_id: str, timeout: float = 30.0) -> OrderView:
        """Wait until the order is complete; PipelineError if it is not within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            view = self.get(order_id, wait=max(0.0, min(remaining, 30.0)))
            if view.complete:
                return view
            if time.monotonic() >= deadline:
                raise PipelineError(f"Order {order_id} has {view.ready} of {view.count} pizzas after "
                                    f"{timeout:.0f} s; is every service running? (`labkit pizza status`)")

    def orders(self) -> list[dict[str, Any]]:
        """GET /orders: every order's id, count, ready and status."""
        reply = self._call("get", "/orders")
        self._check(reply)
        return reply.json()

    def health(self) -> dict[str, Any]:
        """GET /health, or PipelineError if the API does not answer."""
        reply = self._call("get", "/health")
        self._check(reply)
        return reply.json()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> "OrderClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, self.url + path, timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException as error:
            raise PipelineError(f"The order API at {self.url} does not answer ({type(error).__name__}). "
                                "Start the shop: `labkit pizza up`, or Pipeline().start() in a notebook.") from None

    @staticmethod
    def _check(reply: requests.Response) -> None:
        if reply.status_code >= 400:
            raise PipelineError(f"The order API answered {reply.status_code}: {_detail(reply)}")


def _detail(reply: requests.Response) -> str:
    try:
        return str(reply.json().get("detail", reply.text))
    except ValueError:
        return reply.text
