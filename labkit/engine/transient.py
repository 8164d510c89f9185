"""Transient queries: push queries (EMIT CHANGES) and pull queries over streams.

A transient query is planned like a persistent one but keeps its key columns among the output columns
and ends in a collector instead of a sink. The runtime drives it like any query; `poll()` hands the rows
collected so far to the REST layer, rendered as ksqlDB renders them (`to_rest_json`). A push query starts
at `auto.offset.reset` (default latest) and runs until closed or its LIMIT; a pull query over a stream
reads from the beginning to the end offsets captured when it starts, then completes. Pull queries over
tables read materialized state (labkit.engine.pull). With `ksql.query.push.v2.enabled`, a push query that
only filters and projects the output of one persistent query runs as a scalable push query
(labkit.engine.scalable_push). Running push and stream-pull queries are listed by SHOW QUERIES
(`running_transient_queries`).
"""
from __future__ import annotations

import random
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from labkit.engine.analyzer import analyze
from labkit.engine.errors import EngineError
from labkit.engine.planner import plan_query
from labkit.engine.runtime import PersistentQuery
from labkit.engine.scalable_push import is_scalable_push_query, new_query_id, tap_written_rows
from labkit.engine.serde import to_rest_json
from labkit.engine.session import Session, offset_reset
from labkit.engine.steps import Row
from labkit.engine.types import SqlType
from labkit.sql import ast

if TYPE_CHECKING:
    from labkit.engine.engine import KsqlEngine

__all__ = ["TransientQuery", "start_transient_query", "running_transient_queries"]

_RUNNING: "weakref.WeakKeyDictionary[KsqlEngine, dict[str, TransientQuery]]" = weakref.WeakKeyDictionary()
"""Per engine, its transient queries that have not been closed yet (SHOW QUERIES lists them)."""


def running_transient_queries(engine: "KsqlEngine") -> list["TransientQuery"]:
    """The engine's push and stream-pull queries that are still running, oldest first."""
    return [q for q in list(_RUNNING.get(engine, {}).values()) if not q.closed]  # copied: other threads close


@dataclass
class TransientQuery:
    """A running push or stream-pull query: header information and the rows produced so far."""

    query_id: str
    column_names: tuple[str, ...]
    column_types: tuple[SqlType, ...]
    is_pull: bool
    limit: int | None
    engine: "KsqlEngine"
    end_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    _rows: list[list[Any]] = field(default_factory=list)
    _emitted: int = 0
    closed: bool = False
    limit_reached: bool = False
    tombstone_columns: tuple[Callable[[Row], Any] | None, ...] | None = None
    """For push queries over tables: how each output column of a delete is filled (key and window columns)."""
    sql: str = ""
    is_scalable: bool = False
    legacy_schema: str | None = None
    """The legacy /query header's schema when it is not the plain list of the columns (see `start_transient_query`)."""

    def collect(self, row: Row) -> None:
        """The query's downstream: keep one output row, or a Tombstone for a delete of a table's row.

        The legacy /query format shows tombstones (key columns filled, the others null); the others drop them.
        """
        if self.closed:
            return
        if row.value is None:
            if self.tombstone_columns is None or row.key is None:
                return
            from labkit.server.protocol import Tombstone

            self._rows.append(Tombstone(tuple(None if fill is None else fill(row) for fill in self.tombstone_columns)))
        else:
            self._rows.append([to_rest_json(v, t) for v, t in zip(row.value, self.column_types)])
        self._emitted += 1
        if self.limit is not None and self._emitted >= self.limit:
            self.limit_reached = True
            self.close()

    @property
    def column_type_names(self) -> tuple[str, ...]:
        return tuple(str(t) for t in self.column_types)

    def poll(self) -> list[list[Any]]:
        """Rows collected since the last poll (runs the engine's queries first when they are in-process)."""
        if not self.closed:
            self.engine.run_until_idle()
        rows, self._rows = self._rows, []
        if self.is_pull and not self.closed and self._caught_up():
            self.close()
        return rows

    def _caught_up(self) -> bool:
        positions = self.engine.runtime.positions(self.query_id)
        return all(positions.get(tp, 0) >= end for tp, end in self.end_offsets.items())

    @property
    def finished(self) -> bool:
        """True once the query ended (LIMIT reached, pull query complete, or closed) and all rows were polled."""
        return self.closed and not self._rows

    def close(self) -> None:
        """Stop the query (idempotent)."""
        if not self.closed:
            self.closed = True
            self.engine.runtime.stop(self.query_id)
            _RUNNING.get(self.engine, {}).pop(self.query_id, None)


def start_transient_query(engine: "KsqlEngine", query: ast.Query, session: Session) -> TransientQuery:
    """Plan and start a SELECT: a push query with EMIT CHANGES, else a pull query over a stream."""
    if query.emit is None:
        _check_pull_query(query)
    analysis = analyze(query, engine.catalog, persistent=False)
    is_pull = query.emit is None
    source = analysis.source
    if is_pull and source.is_table:  # read from the state of the query that materializes the table
        from labkit.engine.pull import start_pull_query
        pull = start_pull_query(engine, analysis, session)
        if source.schema.headers and _is_select_star(query):  # ksqlDB lists header columns after the keys
            pull.legacy_schema = source.schema.render_pull_select_star(windowed=source.is_windowed)
        return pull
    if is_pull:
        from labkit.engine.pull import check_pull_query
        check_pull_query(analysis, session)
    if is_pull and query.partition_by is not None:
        raise EngineError("Pull queries don't support PARTITION BY clauses. See https://cnfl.io/queries for more info."
                          "\nAdd EMIT CHANGES if you intended to issue a push query.")
    scalable = not is_pull and is_scalable_push_query(engine, query, session)
    plan = plan_query(analysis, custom_types=engine.catalog.types)
    names = tuple(c.name for c in plan.schema.value)
    types = tuple(c.type for c in plan.schema.value)
    query_id = new_query_id(engine, query) if scalable else f"transient_{source.name}_{random.randint(1, 2**63 - 1)}"
    reset = "earliest" if is_pull else (offset_reset(session) or "latest")
    transient = TransientQuery(query_id, names, types, is_pull, query.limit, engine, sql=query.text,
                               is_scalable=scalable)
    if plan.is_table and not is_pull and not scalable:  # the registry of a scalable query drops deletes
        transient.tombstone_columns = _tombstone_columns(names, types, [c.name for c in plan.schema.key])
    running = PersistentQuery.build(query_id, query.text, plan.root, config=session.effective(),
                                    processing_log=engine.processing_log, emit=lambda *args: None,
                                    custom_types=engine.catalog.types, offset_reset=reset,
                                    downstream=transient.collect)
    if scalable:  # taps what the writing query produces from now on
        tap_written_rows(running, keyed=bool(source.schema.key))
    elif not is_pull:  # tables and the table side of joins start from earliest unless configured
        from labkit.engine.queries import topic_offset_resets
        running.offset_reset, running.topic_offset_reset = topic_offset_resets(plan, session)
    running.bounded = is_pull
    if not scalable:  # ksqlDB's engine does not register scalable push queries with its other queries
        _RUNNING.setdefault(engine, {})[query_id] = transient
    try:
        engine.runtime.start(running)
    except BaseException:
        _RUNNING.get(engine, {}).pop(query_id, None)
        raise
    if is_pull:  # where the scan ends: the runtime's reader found it when it started, else ask the store
        found = running.scan_end_offsets
        if found is None:
            description = engine.store.describe_topic(source.topic)
            partitions = description.partitions if description else 0
            found = {(source.topic, p): engine.store.end_offset(source.topic, p) for p in range(partitions)}
        transient.end_offsets = found
    return transient


def _is_select_star(query: ast.Query) -> bool:
    return len(query.items) == 1 and isinstance(query.items[0], ast.AllColumns)


def _tombstone_columns(names: tuple[str, ...], types: tuple[SqlType, ...],
                       key_names: list[str]) -> tuple[Callable[[Row], Any] | None, ...]:
    """Per output column, how a delete fills it: key columns from the record key, window bounds from its window."""
    fills: list[Callable[[Row], Any] | None] = []
    for name, column_type in zip(names, types):
        if name in key_names:
            index = key_names.index(name)
            fills.append(lambda row, i=index, t=column_type: None if row.key is None or i >= len(row.key)
                         else to_rest_json(row.key[i], t))
        elif name in ("WINDOWSTART", "WINDOWEND"):
            bound = 0 if name == "WINDOWSTART" else 1
            fills.append(lambda row, b=bound: None if row.window is None else row.window[b])
        else:
            fills.append(None)
    return tuple(fills)


_PULL_HINT = " See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
_PULL_DISALLOWED_COLUMNS = ("ROWPARTITION", "ROWOFFSET")


def _check_pull_query(query: ast.Query) -> None:
    """What ksqlDB's pull-query validator refuses before analysing: GROUP BY, JOIN, WINDOW, some pseudo columns."""
    if query.group_by is not None:
        raise EngineError("Pull queries don't support GROUP BY clauses." + _PULL_HINT)
    if isinstance(query.source, ast.Join):
        raise EngineError("Pull queries don't support JOIN clauses." + _PULL_HINT)
    if query.window is not None:
        raise EngineError("Pull queries don't support WINDOW clauses." + _PULL_HINT)
    named = []
    for item in query.items:
        expression = getattr(item, "expression", None)
        for node in ast.iter_nodes(expression) if expression is not None else ():
            name = getattr(node, "name", None)
            if isinstance(node, ast.ColumnRef) and name in _PULL_DISALLOWED_COLUMNS and name not in named:
                named.append(name)
    if named:
        raise EngineError("Pull queries don't support the following columns in SELECT clauses: "
                          + ", ".join(f"`{n}`" for n in named))
