"""Topping choices: the lesson material's lists, its weighting, and seeded reproducibility."""
from __future__ import annotations

import random
from fractions import Fraction

import pytest

from labkit.pizza import toppings


def test_the_lists_are_the_lesson_materials():
    assert toppings.SAUCES == ("regular", "light", "extra", "none", "alfredo", "regular", "light", "extra",
                               "alfredo")
    assert toppings.CHEESES == ("extra", "none", "three cheese", "goat cheese", "extra", "three cheese",
                                "goat cheese")
    assert len(toppings.MEATS) == len(toppings.VEGGIES) == 12
    assert set(toppings.MEATS) == {"pepperoni", "sausage", "ham", "anchovies", "salami", "bacon"}
    assert set(toppings.VEGGIES) == {"tomato", "olives", "onions", "peppers", "pineapple", "mushrooms"}


def test_repeated_entries_weight_sauce_and_cheese_but_not_meats():
    assert toppings.odds(toppings.SAUCES) == {"regular": Fraction(2, 9), "light": Fraction(2, 9),
                                              "extra": Fraction(2, 9), "none": Fraction(1, 9),
                                              "alfredo": Fraction(2, 9)}
    assert toppings.odds(toppings.CHEESES)["none"] == Fraction(1, 7)
    assert set(toppings.odds(toppings.MEATS).values()) == {Fraction(1, 6)}


@pytest.mark.parametrize("topping", ["sauce", "cheese"])
def test_sauce_and_cheese_pick_one_entry(topping):
    rng = random.Random(1)
    for _ in range(200):
        assert toppings.choose(topping, rng) in toppings.CHOICES[topping]


@pytest.mark.parametrize("topping", ["meats", "veggies"])
def test_meats_and_veggies_pick_up_to_four_distinct_items_or_none(topping):
    rng = random.Random(2)
    seen_none = seen_many = False
    for _ in range(500):
        value = toppings.choose(topping, rng)
        if value == "none":
            seen_none = True
            continue
        items = value.split(" & ")
        assert len(items) == len(set(items)) <= toppings.MAX_PICKS
        assert set(items) <= set(toppings.CHOICES[topping])
        seen_many |= len(items) >= 3
    assert seen_none and seen_many


def test_a_seed_makes_each_pizzas_toppings_depend_only_on_its_identity():
    first = [toppings.choose(t, toppings.rng_for(6, t, "42", n)) for t in toppings.CHOICES for n in (1, 2, 3)]
    again = [toppings.choose(t, toppings.rng_for(6, t, "42", n)) for t in toppings.CHOICES for n in (1, 2, 3)]
    other = [toppings.choose(t, toppings.rng_for(7, t, "42", n)) for t in toppings.CHOICES for n in (1, 2, 3)]
    assert first == again
    assert first != other


def test_several_picks_keep_first_pick_order_not_set_order():
    class Scripted(random.Random):
        def __init__(self, values):
            super().__init__()
            self.values = list(values)

        def randint(self, a, b):
            return self.values.pop(0)

    # 3 picks: bacon (5), ham (2), bacon (11) → "bacon & ham", whatever the hash seed of this process
    assert toppings.choose_several(Scripted([3, 5, 2, 11]), toppings.MEATS) == "bacon & ham"
    assert toppings.choose_several(Scripted([0]), toppings.MEATS) == "none"
