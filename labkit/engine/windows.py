"""Windows of windowed aggregations: TUMBLING, HOPPING and SESSION, as Kafka Streams defines them.

Time windows are epoch-aligned `[start, start + size)`; a record belongs to every window whose start is a
multiple of the advance in `(ts - size, ts]` (negative starts are skipped). Without `GRACE PERIOD` the
deprecated default applies: windows accept late records until 24 hours after their start
(`grace = max(24h - size, 0)`; sessions: `max(24h - gap, 0)`). Stores keep windows for `RETENTION`, by
default size (or gap) plus grace.

    >>> from labkit.sql import ast
    >>> hopping = window_definition(ast.HoppingWindow(ast.Duration(10, "SECONDS"), ast.Duration(5, "SECONDS")))
    >>> hopping.windows_for(12_000)
    [(5000, 15000), (10000, 20000)]
"""
from __future__ import annotations

from dataclasses import dataclass

from labkit.engine.errors import EngineError
from labkit.engine.formats import WindowInfo
from labkit.sql import ast

__all__ = ["WindowDefinition", "window_definition", "DEFAULT_GRACE_MS"]

DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class WindowDefinition:
    """A window clause with Kafka Streams' effective grace and retention."""

    type: str  # TUMBLING, HOPPING or SESSION
    size: int = 0  # time windows
    advance: int = 0
    gap: int = 0  # session windows
    grace: int = 0
    retention: int = 0
    explicit_grace: bool = False

    @property
    def is_session(self) -> bool:
        return self.type == "SESSION"

    @property
    def info(self) -> WindowInfo:
        return WindowInfo(self.type, None if self.is_session else self.size)

    @property
    def suppression_store(self) -> str | None:
        return None

    def windows_for(self, timestamp: int) -> list[tuple[int, int]]:
        """TimeWindows.windowsFor: the (start, end) windows containing `timestamp`, oldest first."""
        start = (max(0, timestamp - self.size + self.advance) // self.advance) * self.advance
        out = []
        while start <= timestamp:
            out.append((start, start + self.size))
            start += self.advance
        return out


def window_definition(spec: ast.WindowSpec) -> WindowDefinition:
    """The definition of a WINDOW clause (ksqlDB's KsqlWindowExpression and Kafka Streams' windows)."""
    grace = spec.grace.millis if spec.grace is not None else None  # type: ignore[attr-defined]
    retention = spec.retention.millis if spec.retention is not None else None  # type: ignore[attr-defined]
    if isinstance(spec, ast.SessionWindow):
        gap = spec.gap.millis
        if gap <= 0:
            raise EngineError("Session gap must not be zero or negative.")
        effective = grace if grace is not None else max(DEFAULT_GRACE_MS - gap, 0)
        return WindowDefinition("SESSION", gap=gap, grace=effective,
                                retention=retention if retention is not None else gap + effective,
                                explicit_grace=grace is not None)
    size = spec.size.millis  # type: ignore[attr-defined]
    if isinstance(spec, ast.HoppingWindow):
        advance = spec.advance.millis
        if advance <= 0 or advance > size:
            raise EngineError(f"Window advancement interval should be more than zero and less than window duration")
        kind = "HOPPING"
    else:
        advance = size
        kind = "TUMBLING"
    if size <= 0:
        raise EngineError("Window size must be positive.")
    effective = grace if grace is not None else max(DEFAULT_GRACE_MS - size, 0)
    return WindowDefinition(kind, size=size, advance=advance, grace=effective,
                            retention=retention if retention is not None else size + effective,
                            explicit_grace=grace is not None)
