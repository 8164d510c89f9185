"""Typed errors of the pizza pipeline; every one is a `LabkitError` with a message a learner can act on."""
from __future__ import annotations

from labkit.errors import LabkitError


class PizzaError(LabkitError):
    """Base of the pizza pipeline's errors."""


class MalformedPizzaError(PizzaError):
    """A record on a pizza topic is not a pizza (not JSON, not an object, a field missing or of the wrong type)."""

    def __init__(self, reason: str, raw: bytes | None) -> None:
        self.reason = reason
        self.raw = raw
        excerpt = repr(raw[:80]) if raw is not None else "None"
        super().__init__(f"Not a pizza record ({reason}): {excerpt}")


class InvalidOrderError(PizzaError):
    """An order asks for a number of pizzas the shop does not make (a whole number from 1 to 50)."""


class OrderNotFoundError(PizzaError):
    """No order has this id (never placed, or its topics were deleted)."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"Order {order_id} not found. Check the id returned by POST /order/{{count}}.")


class ProduceFailedError(PizzaError):
    """Kafka did not acknowledge a record; the service stops without committing, so nothing is lost."""


class PipelineError(PizzaError):
    """A pipeline service did not start, stopped with an error, or a wait timed out."""


class EngineRequiredError(PizzaError):
    """A ksqlDB view of the pizza flow was asked for, but no ksqlDB engine answers or can run its statements."""
