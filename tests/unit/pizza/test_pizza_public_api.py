"""The public names of labkit.pizza and labkit.widgets are pinned: changing them is a decision, not an accident."""
from __future__ import annotations

import labkit.pizza
import labkit.widgets


def test_pizza_exports():
    assert sorted(labkit.pizza.__all__) == sorted([
        "CheeseService", "DEFAULT_STAGES", "EngineRequiredError", "InvalidOrderError", "Load", "LoadReader",
        "MalformedPizzaError", "MeatService", "OrderClient", "OrderNotFoundError", "OrderService", "OrderView",
        "Pipeline", "PipelineError", "Pizza", "PizzaError", "PizzaOrder", "PizzaService", "PizzaTopics",
        "ProduceFailedError", "SauceService", "Stage", "ToppingService", "VeggieService", "wait_until",
    ])
    for name in labkit.pizza.__all__:
        assert hasattr(labkit.pizza, name)


def test_widget_exports():
    assert {"LiveQueryView", "OrderPanel", "PipelineMonitor", "LiveWidget", "stop_all"} <= set(labkit.widgets.__all__)


def test_every_pizza_error_is_a_labkit_error():
    from labkit.errors import LabkitError

    for name in ("EngineRequiredError", "InvalidOrderError", "MalformedPizzaError", "OrderNotFoundError",
                 "PipelineError", "ProduceFailedError"):
        assert issubclass(getattr(labkit.pizza, name), LabkitError)
