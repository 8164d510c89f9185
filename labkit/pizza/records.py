"""The pipeline's records: a Pizza travels the topics as JSON; a PizzaOrder says how many pizzas an order has.

Field names are the lesson material's (`order_id`, `sauce`, `cheese`, `meats`, `veggies`) plus `number`, the
pizza's position in its order (1..count), which lets the order service count each pizza once even when a
service restarts and sends a pizza twice (at-least-once delivery).

Example:
    >>> pizza = Pizza(order_id="42", number=1).with_topping("sauce", "light")
    >>> Pizza.from_json(pizza.to_json()) == pizza
    True
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from labkit.pizza.errors import MalformedPizzaError

TOPPINGS = ("sauce", "cheese", "meats", "veggies")
STATUS_COMPLETE = "complete"
STATUS_IN_PROGRESS = "in progress"


def _load_object(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise MalformedPizzaError("empty value (a tombstone)", raw)
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedPizzaError(f"not JSON: {error}", raw) from None
    if isinstance(value, str):
        raise MalformedPizzaError("a JSON string, not an object (json.dumps applied twice?)", raw)
    if not isinstance(value, dict):
        raise MalformedPizzaError(f"a JSON {type(value).__name__}, not an object", raw)
    return value


def _field(value: dict[str, Any], name: str, kind: type, raw: bytes) -> Any:
    if name not in value:
        raise MalformedPizzaError(f"missing field {name!r}", raw)
    item = value[name]
    if not isinstance(item, kind) or isinstance(item, bool):
        raise MalformedPizzaError(f"field {name!r} is {type(item).__name__}, expected {kind.__name__}", raw)
    return item


@dataclass(frozen=True)
class Pizza:
    """One pizza of an order; a topping is '' until its service has added it."""

    order_id: str
    number: int
    sauce: str = ""
    cheese: str = ""
    meats: str = ""
    veggies: str = ""

    def with_topping(self, topping: str, value: str) -> "Pizza":
        """A copy with one topping set (topping is one of TOPPINGS)."""
        if topping not in TOPPINGS:
            raise ValueError(f"Unknown topping {topping!r}; choose one of {', '.join(TOPPINGS)}.")
        return replace(self, **{topping: value})

    @property
    def finished(self) -> bool:
        """True once every topping service has added its topping."""
        return all(getattr(self, topping) for topping in TOPPINGS)

    def to_dict(self) -> dict[str, Any]:
        """The pizza as the JSON object sent on the wire."""
        return asdict(self)

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes, the record value on every pizza topic."""
        return json.dumps(self.to_dict()).encode("utf-8")

    @classmethod
    def from_dict(cls, value: dict[str, Any], raw: bytes = b"") -> "Pizza":
        """Validate a decoded JSON object; unknown fields are ignored (a tolerant reader)."""
        order_id = _field(value, "order_id", str, raw)
        if not order_id:
            raise MalformedPizzaError("field 'order_id' is empty", raw)
        number = _field(value, "number", int, raw)
        if number < 1:
            raise MalformedPizzaError(f"field 'number' is {number}, expected 1 or more", raw)
        toppings = {}
        for topping in TOPPINGS:
            item = value.get(topping, "")
            if not isinstance(item, str):
                raise MalformedPizzaError(f"field {topping!r} is {type(item).__name__}, expected str", raw)
            toppings[topping] = item
        return cls(order_id=order_id, number=number, **toppings)

    @classmethod
    def from_json(cls, raw: bytes | None) -> "Pizza":
        """Parse a record value; raises MalformedPizzaError for anything that is not a pizza."""
        value = _load_object(raw)
        return cls.from_dict(value, raw or b"")


@dataclass(frozen=True)
class PizzaOrder:
    """An order as recorded on the orders topic: its id and how many pizzas it has."""

    order_id: str
    count: int

    def to_json(self) -> bytes:
        """UTF-8 JSON bytes, the record value on the orders topic."""
        return json.dumps({"order_id": self.order_id, "count": self.count}).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes | None) -> "PizzaOrder":
        """Parse an orders-topic record; raises MalformedPizzaError if it is not an order."""
        value = _load_object(raw)
        order_id = _field(value, "order_id", str, raw or b"")
        count = _field(value, "count", int, raw or b"")
        if not order_id or count < 1:
            raise MalformedPizzaError("an order needs an id and a count of 1 or more", raw)
        return cls(order_id=order_id, count=count)


@dataclass(frozen=True)
class OrderView:
    """What GET /order/{order_id} answers: the order, its finished pizzas (by number) and a status."""

    order_id: str
    count: int
    pizzas: tuple[Pizza, ...] = field(default=())

    @property
    def ready(self) -> int:
        """How many of the order's pizzas are finished."""
        return len(self.pizzas)

    @property
    def status(self) -> str:
        """'complete' when every pizza is finished, else 'in progress'."""
        return STATUS_COMPLETE if self.ready >= self.count else STATUS_IN_PROGRESS

    @property
    def complete(self) -> bool:
        """True when every pizza of the order is finished."""
        return self.status == STATUS_COMPLETE

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the order API."""
        return {"order_id": self.order_id, "count": self.count, "ready": self.ready, "status": self.status,
                "pizzas": [pizza.to_dict() for pizza in self.pizzas]}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> "OrderView":
        """Rebuild a view from the order API's JSON (used by the HTTP client and the widgets)."""
        pizzas = tuple(Pizza.from_dict(p) for p in value.get("pizzas", []))
        return cls(order_id=str(value["order_id"]), count=int(value["count"]), pizzas=pizzas)
