"""The topping choices of the lesson material, and how each service picks one.

The lists are the material's, repeats included: a repeated entry is a weight (sauce 'regular' is 2 of 9
entries, 'none' 1 of 9). The meat and veggie lists hold each item twice, so their repeats change nothing:
`randint(0, 11)` over 12 entries is uniform over 6 items. With a seed, every pizza's toppings depend only
on (seed, topping, order id, pizza number), so reruns and restarts pick the same toppings.

Example:
    >>> choose("sauce", rng_for(6, "sauce", "42", 1)) in SAUCES
    True
"""
from __future__ import annotations

import random
from fractions import Fraction
from typing import Callable, Sequence

SAUCES = ("regular", "light", "extra", "none", "alfredo", "regular", "light", "extra", "alfredo")
CHEESES = ("extra", "none", "three cheese", "goat cheese", "extra", "three cheese", "goat cheese")
MEATS = ("pepperoni", "sausage", "ham", "anchovies", "salami", "bacon",
         "pepperoni", "sausage", "ham", "anchovies", "salami", "bacon")
VEGGIES = ("tomato", "olives", "onions", "peppers", "pineapple", "mushrooms",
           "tomato", "olives", "onions", "peppers", "pineapple", "mushrooms")
MAX_PICKS = 4
CHOICES = {"sauce": SAUCES, "cheese": CHEESES, "meats": MEATS, "veggies": VEGGIES}


def choose_one(rng: random.Random, items: Sequence[str]) -> str:
    """One entry, as the sauce and cheese services pick: `items[randint(0, len - 1)]`."""
    return items[rng.randint(0, len(items) - 1)]


def choose_several(rng: random.Random, items: Sequence[str]) -> str:
    """0-4 picks joined by ' & ' ('none' for zero), as the meat and veggie services pick.

    The material joins `set(selection)`, whose order changes from one Python process to the next (string
    hashing is randomised); keeping the first-pick order makes a seeded pizza the same on every run.
    """
    picks = rng.randint(0, MAX_PICKS)
    if picks == 0:
        return "none"
    selection = [items[rng.randint(0, len(items) - 1)] for _ in range(picks)]
    return " & ".join(dict.fromkeys(selection))


_CHOOSERS: dict[str, Callable[[random.Random, Sequence[str]], str]] = {
    "sauce": choose_one, "cheese": choose_one, "meats": choose_several, "veggies": choose_several,
}


def choose(topping: str, rng: random.Random) -> str:
    """Pick a value for one topping ('sauce', 'cheese', 'meats' or 'veggies')."""
    return _CHOOSERS[topping](rng, CHOICES[topping])


_UNSEEDED = random.Random()


def rng_for(seed: int | None, topping: str, order_id: str, number: int) -> random.Random:
    """A random generator for one pizza's topping: seeded from the pizza's identity, or a shared unseeded one."""
    if seed is None:
        return _UNSEEDED
    return random.Random(f"{seed}/{topping}/{order_id}/{number}")


def odds(items: Sequence[str]) -> dict[str, Fraction]:
    """The chance of each distinct entry when one is picked uniformly from `items` (shows the weighting)."""
    return {item: Fraction(items.count(item), len(items)) for item in dict.fromkeys(items)}
