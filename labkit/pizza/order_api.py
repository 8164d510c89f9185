"""The order API on FastAPI (port 8094): the lesson material's endpoints, with proper JSON and status codes.

    POST /order/{count}      → 200 {"order_id": "…"}         422 {"detail": "…"} unless 1 ≤ count ≤ 50
    GET  /order/{order_id}   → 200 the order, its pizzas and status ('in progress' or 'complete'); 404 if unknown
                               (?wait=N waits up to N seconds for the order to complete)
    GET  /orders             → every order (without pizzas)
    GET  /health             → {"ready": true, "orders": n}

The material returned `json.dumps({...})` from the POST handler: FastAPI encodes the return value again, so
clients got a JSON *string* holding JSON. Here the handler returns the dict.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from labkit.pizza.errors import InvalidOrderError, OrderNotFoundError, PipelineError, ProduceFailedError
from labkit.pizza.records import OrderView

MAX_WAIT_S = 30.0


class Orders(Protocol):
    """What the API needs from an order service (a seam: unit tests pass a fake)."""

    @property
    def ready(self) -> bool: ...

    def order(self, count: object) -> str: ...

    def get(self, order_id: str) -> OrderView: ...

    def wait(self, order_id: str, timeout: float) -> OrderView: ...

    def orders(self) -> list[OrderView]: ...


def create_app(orders: Orders):
    """The FastAPI application serving `orders`."""
    from fastapi import FastAPI, HTTPException, Query

    app = FastAPI(title="Pizza shop", description="Order pizzas; watch them pass the topping services.")

    @app.post("/order/{count}")
    def order_pizzas(count: str) -> dict[str, str]:
        """Order `count` pizzas (1-50); answers with the new order's id."""
        try:
            return {"order_id": orders.order(count)}
        except InvalidOrderError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        except (PipelineError, ProduceFailedError) as error:
            raise HTTPException(status_code=503, detail=str(error)) from None

    @app.get("/order/{order_id}")
    def get_order(order_id: str, wait: float = Query(0.0, ge=0.0, le=MAX_WAIT_S)) -> dict[str, Any]:
        """The order with its finished pizzas and status; `wait` seconds to wait for it to complete."""
        try:
            view = orders.wait(order_id, wait) if wait > 0 else orders.get(order_id)
        except OrderNotFoundError as error:
            raise HTTPException(status_code=404, detail=str(error)) from None
        return view.to_dict()

    @app.get("/orders")
    def list_orders() -> list[dict[str, Any]]:
        """Every order in the order placed: id, count, ready and status."""
        return [{k: v for k, v in view.to_dict().items() if k != "pizzas"} for view in orders.orders()]

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Whether the service has rebuilt its orders and takes new ones."""
        return {"ready": orders.ready, "orders": len(orders.orders())}

    return app


class ApiServer:
    """Serve an app with uvicorn on a background thread (for notebooks and tests); stop() shuts it down."""

    def __init__(self, app, *, host: str = "127.0.0.1", port: int = 8094) -> None:
        import uvicorn

        self.host = host
        self.port = port
        # log_config=None: uvicorn's own config prints to stderr from its thread, into whichever notebook cell
        # is running; its records go to the "uvicorn" loggers instead (a log file in process mode).
        logging.getLogger("uvicorn").addHandler(logging.NullHandler())
        config = uvicorn.Config(app, host=host, port=port, log_config=None, log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "ApiServer":
        """Start serving and wait until the socket listens."""
        from labkit.cluster.processes import port_is_free
        from labkit.errors import PortInUseError

        if not port_is_free(self.port, self.host):
            raise PortInUseError(self.port, "pizza order API")
        self._server.should_exit = False
        self._thread = threading.Thread(target=self._server.run, name=f"pizza-api-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise PipelineError(f"The order API could not start on {self.url}.")
            if time.monotonic() > deadline:
                raise PipelineError(f"The order API did not start on {self.url} within {timeout:.0f} s.")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
