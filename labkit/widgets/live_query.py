"""A live table over any iterator of rows: a ksqlDB push query, or the order service's own updates.

Rows may be mappings, objects with `to_dict()`, or sequences (with `columns`). With `key`, a row replaces the
row with the same key (a table, like `SELECT … FROM a_table EMIT CHANGES`); without, rows are appended and
the newest `max_rows` kept (a stream). `None` items are heartbeats: they let the view notice Stop while
the source is idle. The table is redrawn at most every RENDER_INTERVAL_S; the last rows of a burst are drawn
by a short timer, so the view never lags behind `snapshot()` while the source waits for more.

Example:
    >>> view = LiveQueryView(shop.order_service.updates(), key="order_id",     # doctest: +SKIP
    ...                      columns=["order_id", "count", "ready", "status"])
"""
from __future__ import annotations

import html
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import ipywidgets as widgets

from labkit.widgets.live import LiveWidget

RENDER_INTERVAL_S = 0.25


class LiveQueryView(LiveWidget):
    """Consume `rows` on a thread and show them as a table until the iterator ends or Stop is pressed."""

    kind = "live-query"

    def __init__(self, rows: Iterable[Any], *, columns: Sequence[str] | None = None, key: str | None = None,
                 title: str = "live query", max_rows: int = 20, on_stop: Callable[[], None] | None = None,
                 start: bool = True) -> None:
        super().__init__()
        self.rows = rows
        self.columns = list(columns) if columns else None
        self.key = key
        self.title = title
        self.max_rows = max_rows
        self.on_stop = on_stop
        self.received = 0
        self.finished = False
        self._table: OrderedDict[Any, dict[str, Any]] = OrderedDict()
        self._stream: deque[dict[str, Any]] = deque(maxlen=max_rows)
        self._rows_lock = threading.Lock()  # the worker adds rows while a render timer reads them
        self._render_timer: threading.Timer | None = None
        self._last_render = 0.0
        self.view = widgets.HTML(_table([], self.columns or []))
        self.status = widgets.Label("waiting for rows…")
        header = widgets.HTML(f"<b>{html.escape(title)}</b>")
        self._widget = widgets.VBox([widgets.HBox([header, self.status, self.stop_button]), self.view, self.message])
        if start:
            self.start()

    @property
    def registry_key(self) -> str:
        """One live view per title."""
        return f"{self.kind}:{self.title}"

    @property
    def widget(self) -> widgets.Widget:
        """The table to display."""
        return self._widget

    def stop(self, timeout: float = 10.0) -> None:
        """Stop consuming; `on_stop` (e.g. closing an HTTP response) unblocks a source that waits for rows."""
        self._stop.set()
        if self.on_stop is not None:
            self.on_stop()
        super().stop(timeout)

    def current_rows(self) -> list[dict[str, Any]]:
        """The rows shown now (table rows in first-seen key order, or the newest stream rows)."""
        with self._rows_lock:
            return list(self._table.values()) if self.key else list(self._stream)

    def snapshot(self) -> dict[str, Any]:
        """Columns, rows shown, how many rows arrived, and whether the view still runs."""
        return {"running": self.running, "finished": self.finished, "columns": self._columns(),
                "rows": self.current_rows(), "received": self.received, "error": self.error}

    def _work(self) -> None:
        iterator: Iterator[Any] = iter(self.rows)
        try:
            for item in iterator:
                if self._stop.is_set():
                    break
                if item is not None:
                    self._add(self._normalise(item))
                    self._render_soon()
            else:
                self.finished = True
        except Exception:
            if not self._stop.is_set():
                raise  # shown under the table by LiveWidget
            # Stop closed the source under a blocked read (on_stop): that error is how the read ends.
        finally:
            timer = self._render_timer
            if timer is not None:
                timer.cancel()
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            self._render()
            self.status.value = f"{self.received} row(s) · " + ("ended" if self.finished else "stopped")

    def _render_soon(self) -> None:
        """Render now if the last render is old enough, else once the interval is over (one timer at a time)."""
        wait = self._last_render + RENDER_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self._render()
        elif self._render_timer is None or not self._render_timer.is_alive():
            self._render_timer = threading.Timer(wait, self._render_pending)
            self._render_timer.daemon = True
            self._render_timer.start()

    def _render_pending(self) -> None:
        if not self._stop.is_set():
            self._render()

    def _normalise(self, item: Any) -> dict[str, Any]:
        if isinstance(item, Mapping):
            row = dict(item)
        elif hasattr(item, "to_dict"):
            row = dict(item.to_dict())
        elif isinstance(item, Sequence) and not isinstance(item, str) and self.columns:
            row = dict(zip(self.columns, item))
        else:
            raise TypeError(f"Cannot show {item!r} as a row: give mappings, or sequences with columns=.")
        if self.columns:
            row = {column: row.get(column) for column in self.columns}
        return row

    def _add(self, row: dict[str, Any]) -> None:
        with self._rows_lock:
            self.received += 1
            if self.key:
                self._table[row.get(self.key)] = row
            else:
                self._stream.append(row)

    def _columns(self) -> list[str]:
        if self.columns:
            return self.columns
        rows = self.current_rows()
        return list(rows[0]) if rows else []

    def _render(self) -> None:
        self._last_render = time.monotonic()
        rows = self.current_rows()[-self.max_rows:]
        self.view.value = _table(rows, self._columns())
        self.status.value = f"{self.received} row(s) · live"


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "<i>No rows yet.</i>"
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(str(row.get(c, '')))}</td>"
                                    for c in columns) + "</tr>" for row in rows)
    return f"<table class='live-query-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
