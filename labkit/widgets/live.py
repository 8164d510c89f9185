"""What every live widget shares: a worker thread, a visible Stop button, and clean-up at kernel shutdown.

Rules from the notebook standard: the worker thread changes the view only by assigning widget traits
(`HTML.value`, `IntProgress.value`, `Box.children`), never with `with out:` and never by printing; a new
widget of the same kind stops the previous one (a re-run cell must not leave two threads behind); every
live widget stops when the interpreter exits, which is what a kernel shutdown is.
"""
from __future__ import annotations

import atexit
import html
import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import ipywidgets as widgets

_live: dict[str, "LiveWidget"] = {}
_live_lock = threading.Lock()


class LiveWidget(ABC):
    """Base of the live widgets: `start()`, `stop()`, `running`, `snapshot()`, and a Stop button."""

    kind: ClassVar[str] = "live"

    def __init__(self) -> None:
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="warning",
                                          tooltip="Stop updating this view", layout=widgets.Layout(width="90px"))
        self.stop_button.on_click(lambda _: self.stop())
        self.message = widgets.HTML("")
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def registry_key(self) -> str:
        """Widgets with the same key replace each other (one live instance per key)."""
        return self.kind

    @property
    @abstractmethod
    def widget(self) -> widgets.Widget:
        """The ipywidgets view to display."""

    @abstractmethod
    def _work(self) -> None:
        """The worker thread's body; returns when `self._stop` is set."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """The widget's state as plain data, for asserts in lessons and tests."""

    def start(self) -> "LiveWidget":
        """Start the worker thread (stopping an earlier widget of the same key); returns self."""
        if self.running:
            return self
        with _live_lock:
            previous = _live.get(self.registry_key)
            _live[self.registry_key] = self
        if previous is not None and previous is not self:
            previous.stop()
        self._stop.clear()
        self.stop_button.disabled = False
        self.stop_button.description = "Stop"
        self._thread = threading.Thread(target=self._work_guarded, name=f"widget-{self.registry_key}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker thread and mark the view stopped (safe to call twice)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.stop_button.disabled = True
        self.stop_button.description = "Stopped"
        with _live_lock:
            if _live.get(self.registry_key) is self:
                del _live[self.registry_key]

    @property
    def running(self) -> bool:
        """True while the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def show_error(self, error: BaseException | str) -> None:
        """Show an error under the widget (and keep it in `.error` for snapshots)."""
        self.error = str(error)
        self.message.value = f'<span style="color:#b00020">{html.escape(self.error)}</span>'

    def clear_error(self) -> None:
        """Remove a shown error."""
        if self.error is not None:
            self.error = None
            self.message.value = ""

    def _work_guarded(self) -> None:
        try:
            self._work()
        except Exception as error:  # shown in the widget: a worker thread has nowhere else to report
            self.show_error(f"{type(error).__name__}: {error}")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


class PeriodicWidget(LiveWidget):
    """A live widget whose thread calls `refresh()` every `interval` seconds until stopped."""

    def __init__(self, *, interval: float) -> None:
        super().__init__()
        self.interval = interval
        self.refreshes = 0

    @abstractmethod
    def refresh(self) -> None:
        """Read the current state and update the view (called on the worker thread, or by hand)."""

    def _work(self) -> None:
        from kafka.errors import KafkaError

        from labkit.errors import LabkitError

        while not self._stop.is_set():
            try:
                self.refresh()
                self.refreshes += 1
                self.clear_error()
            except (LabkitError, KafkaError) as error:  # e.g. the shop is stopped: say so, keep trying
                self.show_error(error)
            self._stop.wait(self.interval)


def stop_all() -> None:
    """Stop every live widget (runs at interpreter exit, i.e. on kernel shutdown)."""
    with _live_lock:
        running = list(_live.values())
    for widget in running:
        widget.stop()


atexit.register(stop_all)
