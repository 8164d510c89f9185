"""The pipeline monitor: a diagram of the stages with messages per topic and pizzas in flight, updated live.

    order API ─► [pizza 12] ─► (sauce 0) ─► [pizza-with-sauce 12] ─► (cheese 3) ─► …

A stage's in-flight count is how many records of its input topic its consumer group has not committed: the
pizzas waiting for it or in its hands. A stage that keeps the biggest number is the bottleneck.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

import ipywidgets as widgets

from labkit.config import Settings
from labkit.pizza.monitor import Load, LoadReader, Stage
from labkit.pizza.topics import ERRORS, ORDERS, PizzaTopics
from labkit.widgets.live import PeriodicWidget

_TOPIC_STYLE = ("display:inline-block;padding:4px 8px;margin:2px;border:1px solid #999;border-radius:4px;"
                "background:#f4f4f4;font-family:monospace;font-size:12px")
_STAGE_STYLE = ("display:inline-block;padding:6px 10px;margin:2px;border-radius:14px;color:white;"
                "font-weight:bold;font-size:12px;background:{color}")
_ARROW = "<span style='margin:0 2px'>&#9654;</span>"


class PipelineMonitor(PeriodicWidget):
    """Messages per topic and in-flight pizzas per stage, read from Kafka every `interval` seconds."""

    kind = "pizza-pipeline-monitor"

    def __init__(self, shop: Any = None, *, stages: Sequence[Stage] | None = None,
                 topics: PizzaTopics | None = None, settings: Settings | None = None, interval: float = 0.5,
                 start: bool = True) -> None:
        super().__init__(interval=interval)
        if shop is not None:
            stages, topics, settings = shop.stages, shop.topics, shop.settings
        if not stages:
            raise ValueError("PipelineMonitor needs a shop (a Pipeline) or the stages to watch.")
        self.stages = list(stages)
        self.topics = topics or PizzaTopics()
        self._reader = LoadReader(self.stages, topics=self.topics, extra_topics=[ORDERS, ERRORS],
                                  settings=settings)
        self.load = Load()
        self.peak_in_flight = {stage.name: 0 for stage in self.stages}
        self.waiting_total = {stage.name: 0 for stage in self.stages}
        self.diagram = widgets.HTML(self._render(self.load))
        title = widgets.HTML("<b>Pizza pipeline</b> &nbsp; messages per topic, pizzas in flight per stage")
        self._widget = widgets.VBox([widgets.HBox([title, self.stop_button]), self.diagram, self.message])
        if start:
            self.refresh()  # a first reading before the monitor is shown, so its snapshot is never empty
            self.start()

    @property
    def widget(self) -> widgets.Widget:
        """The monitor to display."""
        return self._widget

    def refresh(self) -> None:
        """Read the load from Kafka and redraw the diagram."""
        load = self._reader.read()
        for name, count in load.in_flight.items():
            self.peak_in_flight[name] = max(self.peak_in_flight.get(name, 0), count)
            self.waiting_total[name] = self.waiting_total.get(name, 0) + count
        self.load = load
        self.diagram.value = self._render(load)

    def reset_peaks(self) -> None:
        """Forget the in-flight counts seen so far (before a new experiment)."""
        self.peak_in_flight = {stage.name: 0 for stage in self.stages}
        self.waiting_total = {stage.name: 0 for stage in self.stages}

    @property
    def bottleneck(self) -> str | None:
        """The stage where pizzas waited most since the last reset (in-flight summed over readings), or None.

        A sum, not the peak: right after an order every pizza sits briefly at the first stage; a bottleneck
        is where they keep waiting.
        """
        name, total = max(self.waiting_total.items(), key=lambda item: item[1], default=(None, 0))
        return name if total else None

    def snapshot(self) -> dict[str, Any]:
        """Messages per topic, in flight per stage (now and peak), the bottleneck, and the monitor's state."""
        return {"running": self.running, "messages": dict(self.load.messages),
                "in_flight": dict(self.load.in_flight), "peak_in_flight": dict(self.peak_in_flight),
                "waiting_total": dict(self.waiting_total),
                "bottleneck": self.bottleneck, "refreshes": self.refreshes, "error": self.error}

    def stop(self, timeout: float = 10.0) -> None:
        """Stop updating and close the Kafka clients."""
        super().stop(timeout)
        self._reader.close()

    def _render(self, load: Load) -> str:
        parts = ["<span style='font-weight:bold'>order API</span>", _ARROW]
        first = self.stages[0].source if self.stages else ""
        parts.append(_topic_box(first, load.messages.get(first)))
        for stage in self.stages:
            waiting = load.in_flight.get(stage.name)
            color = "#2e7d32" if not waiting else "#ef6c00"
            if waiting and stage.name == load.busiest:
                color = "#c62828"
            label = f"{html.escape(stage.name)} · {waiting if waiting is not None else '?'} in flight"
            parts += [_ARROW, f"<span style='{_STAGE_STYLE.format(color=color)}'>{label}</span>", _ARROW,
                      _topic_box(stage.target, load.messages.get(stage.target))]
        parts += [_ARROW, "<span style='font-weight:bold'>order service</span>"]
        extras = " &nbsp; ".join(_topic_box(t, load.messages.get(t)) for t in (ORDERS, ERRORS))
        return (f"<div style='line-height:2.4'>{''.join(parts)}</div>"
                f"<div style='font-size:12px;color:#555'>also: {extras}</div>")


def _topic_box(name: str, count: int | None) -> str:
    shown = "?" if count is None else str(count)
    return f"<span style='{_TOPIC_STYLE}'>{html.escape(name)} <b>{shown}</b></span>"
