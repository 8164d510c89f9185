"""A live widget counting the records on a few topics (main, retry, redirect, error) while apps run.

The counting runs in a background thread that updates the widget only by assigning `Output.outputs`
(never `with out:` from a thread, never print), so it behaves the same in JupyterLab and under nbval.
`snapshot()` returns the last counts for check-yourself cells; `stop()` takes one last count first.

Example:
    >>> counter = TopicCounter({"main": "orders"}, count=lambda topics: {t: 3 for t in topics})
    >>> counter.refresh()
    {'main': 3}
"""
from __future__ import annotations

import atexit
import html
import threading
from typing import Callable, Mapping, Sequence

from kafka import KafkaConsumer, TopicPartition

from labkit.config import Settings, settings as load_settings
from labkit.patterns import clients
from labkit.patterns.errors import PatternError

CountFunction = Callable[[Sequence[str]], Mapping[str, int]]

_RUNNING: dict[str, "TopicCounter"] = {}  # title -> the counter showing it (a re-run cell stops the old one)


def kafka_counter(consumer: KafkaConsumer) -> CountFunction:
    """A count function over one consumer: end offset minus beginning offset, summed over partitions."""
    def count(topics: Sequence[str]) -> dict[str, int]:
        totals = {}
        for topic in topics:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not partitions:
                totals[topic] = 0
                continue
            ends = consumer.end_offsets(partitions)
            starts = consumer.beginning_offsets(partitions)
            totals[topic] = sum(ends[tp] - starts[tp] for tp in partitions)
        return totals

    return count


class TopicCounter:
    """A table of record counts per topic, refreshed every `interval` seconds by a thread, with a Stop button."""

    def __init__(self, topics: Mapping[str, str], *, title: str = "Records per topic", interval: float = 0.5,
                 settings: Settings | None = None, count: CountFunction | None = None) -> None:
        import ipywidgets as widgets

        self.topics = dict(topics)
        self.title = title
        self.interval = interval
        self.settings = settings
        self.error: BaseException | None = None
        self._count = count
        self._counts: dict[str, int] = {label: 0 for label in self.topics}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._output = widgets.Output()
        self._button = widgets.Button(description="Stop", icon="stop", tooltip="Stop counting")
        self._button.on_click(lambda _: self.stop())
        self.widget = widgets.VBox([widgets.HTML(f"<b>{html.escape(title)}</b>"), self._output, self._button])

    # --- counting ---------------------------------------------------------------------------------------
    def refresh(self) -> dict[str, int]:
        """Count now (in the calling thread) and update the table; returns the counts by label."""
        if self._count is not None:
            return self._apply(self._count(list(self.topics.values())))
        consumer = clients.consumer(self.settings or load_settings(), group_id=None)
        try:
            return self._apply(kafka_counter(consumer)(list(self.topics.values())))
        finally:
            consumer.close()

    def _apply(self, by_topic: Mapping[str, int]) -> dict[str, int]:
        counts = {label: int(by_topic.get(topic, 0)) for label, topic in self.topics.items()}
        with self._lock:
            self._counts = counts
        self._render(counts)
        return dict(counts)

    def _render(self, counts: Mapping[str, int], note: str = "") -> None:
        rows = "".join(f"<tr><td>{html.escape(label)}</td><td><code>{html.escape(self.topics[label])}</code></td>"
                       f"<td style='text-align:right'>{n}</td></tr>" for label, n in counts.items())
        table = (f"<table><tr><th>role</th><th>topic</th><th>records</th></tr>{rows}</table>"
                 + (f"<p>{html.escape(note)}</p>" if note else ""))
        text = "\n".join(f"{label}: {n}" for label, n in counts.items()) + (f"\n{note}" if note else "")
        self._output.outputs = ({"output_type": "display_data", "metadata": {},
                                 "data": {"text/html": table, "text/plain": text}},)

    def snapshot(self) -> dict[str, int]:
        """The last counts, by label."""
        with self._lock:
            return dict(self._counts)

    # --- the thread ---------------------------------------------------------------------------------
    def _loop(self) -> None:
        consumer = None
        try:
            if self._count is None:
                consumer = clients.consumer(self.settings or load_settings(), group_id=None)
                count = kafka_counter(consumer)
            else:
                count = self._count
            while True:
                self._apply(count(list(self.topics.values())))
                if self._stopping.wait(self.interval):
                    self._apply(count(list(self.topics.values())))  # one last count after stop()
                    break
        except Exception as error:  # shown in the widget and kept in .error; the thread ends
            self.error = error
            self._render(self.snapshot(), note=f"stopped: {type(error).__name__}: {error}")
        finally:
            if consumer is not None:
                consumer.close()

    def start(self) -> "TopicCounter":
        """Start counting in a background thread (stops a running counter with the same title first)."""
        previous = _RUNNING.get(self.title)
        if previous is not None and previous is not self:
            previous.stop()
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="labkit-topic-counter", daemon=True)
        self._thread.start()
        _RUNNING[self.title] = self
        self._button.disabled = False
        return self

    def stop(self, timeout: float = 10.0) -> dict[str, int]:
        """Stop the thread after one last count; returns the final counts."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise PatternError(f"The topic counter did not stop within {timeout:.0f} s.")
        self._thread = None
        if _RUNNING.get(self.title) is self:
            del _RUNNING[self.title]
        self._button.disabled = True
        return self.snapshot()

    @property
    def running(self) -> bool:
        """True while the counting thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "TopicCounter":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


@atexit.register
def _stop_all() -> None:
    """Stop every counter when the kernel exits."""
    for counter in list(_RUNNING.values()):
        counter.stop(timeout=2.0)
