"""ipywidgets views of the workbook: the pizza order panel, the pipeline monitor and a live query table.

Every view runs its work on a background thread, has a Stop button, stops when the kernel shuts down, and
exposes `.snapshot()` so lessons and tests can assert on what it shows.
"""
from __future__ import annotations

from labkit.widgets.live import LiveWidget, stop_all
from labkit.widgets.live_query import LiveQueryView
from labkit.widgets.order_panel import OrderPanel
from labkit.widgets.pipeline_monitor import PipelineMonitor

__all__ = ["LiveQueryView", "LiveWidget", "OrderPanel", "PipelineMonitor", "stop_all"]
