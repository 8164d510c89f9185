"""The four topping services of the lesson material, on one base class: sauce, cheese, meats, veggies.

Each adds one topping and passes the pizza on: pizza → sauce → pizza-with-sauce → cheese →
pizza-with-cheese → meats → pizza-with-meats → veggies → pizza-with-veggies.
(The material's file for the last one is `veggie_servivce.py`, a typo; here it is `VeggieService`.)
"""
from __future__ import annotations

from typing import ClassVar

from labkit.pizza import toppings
from labkit.pizza.records import Pizza
from labkit.pizza.service import PizzaService
from labkit.pizza.topics import PIZZA, WITH_CHEESE, WITH_MEATS, WITH_SAUCE, WITH_VEGGIES


class ToppingService(PizzaService):
    """A stage that sets one topping, chosen as the lesson material chooses it (seeded if a seed is given)."""

    topping: ClassVar[str]

    def prepare(self, pizza: Pizza) -> Pizza:
        """The pizza with this service's topping added."""
        rng = toppings.rng_for(self.seed, self.topping, pizza.order_id, pizza.number)
        return pizza.with_topping(self.topping, toppings.choose(self.topping, rng))


class SauceService(ToppingService):
    """Adds the sauce: pizza → pizza-with-sauce."""

    name = topping = "sauce"
    source, target = PIZZA, WITH_SAUCE


class CheeseService(ToppingService):
    """Adds the cheese: pizza-with-sauce → pizza-with-cheese."""

    name = topping = "cheese"
    source, target = WITH_SAUCE, WITH_CHEESE


class MeatService(ToppingService):
    """Adds 0-4 meats: pizza-with-cheese → pizza-with-meats."""

    name = topping = "meats"
    source, target = WITH_CHEESE, WITH_MEATS


class VeggieService(ToppingService):
    """Adds 0-4 veggies: pizza-with-meats → pizza-with-veggies."""

    name = topping = "veggies"
    source, target = WITH_MEATS, WITH_VEGGIES


TOPPING_SERVICES: tuple[type[ToppingService], ...] = (SauceService, CheeseService, MeatService, VeggieService)
