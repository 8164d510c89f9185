"""Topic and group names live in one module; a prefix gives a test its own copy."""
from __future__ import annotations

from labkit.pizza import topics
from labkit.pizza.services import TOPPING_SERVICES


def test_the_chain_is_the_lesson_materials():
    assert topics.CHAIN == ("pizza", "pizza-with-sauce", "pizza-with-cheese", "pizza-with-meats",
                            "pizza-with-veggies")
    assert [(s.source, s.target) for s in TOPPING_SERVICES] == list(zip(topics.CHAIN, topics.CHAIN[1:]))


def test_every_service_has_its_own_group():
    names = topics.PizzaTopics()
    groups = [names.group(s.name) for s in TOPPING_SERVICES]
    assert len(set(groups)) == 4 and "meats" not in groups
    assert groups[0] == "pizza-sauce-service"


def test_a_prefix_renames_every_topic_and_group():
    names = topics.PizzaTopics(prefix="t1-")
    assert names.name(topics.PIZZA) == "t1-pizza"
    assert names.orders == "t1-pizza-orders" and names.errors == "t1-pizza-errors"
    assert names.group("cheese") == "t1-pizza-cheese-service"
