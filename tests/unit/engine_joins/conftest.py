"""A broker-free harness: plan a query with the engine's planner, build its steps and feed them records."""
from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from labkit.engine.analyzer import analyze
from labkit.engine.catalog import Catalog, DataSource
from labkit.engine.formats import FormatSpec, KeyFormat, ValueFormat, WindowInfo
from labkit.engine.planner import plan_query
from labkit.engine.processing_log import ProcessingLog
from labkit.engine.runtime import PersistentQuery
from labkit.engine.schema import LogicalSchema
from labkit.engine.steps import Row
from labkit.engine.topics import TopicRecord
from labkit.engine.types import BIGINT, INTEGER, STRING, SqlType
from labkit.sql import parse_statement

KAFKA, JSON = KeyFormat(FormatSpec("KAFKA")), ValueFormat(FormatSpec("JSON"))


def source(name: str, kind: str, key: tuple[str, SqlType], values: list[tuple[str, SqlType]],
           window: WindowInfo | None = None) -> DataSource:
    schema = LogicalSchema.of(key=[key], value=values)
    return DataSource(name, kind, schema, name.lower(), KeyFormat(FormatSpec("KAFKA"), window), JSON)


def catalog() -> Catalog:
    cat = Catalog()
    cat.add_source(source("L", "STREAM", ("ID", INTEGER), [("A", STRING)]))
    cat.add_source(source("R", "STREAM", ("ID", INTEGER), [("B", STRING)]))
    cat.add_source(source("T", "TABLE", ("ID", INTEGER), [("C", STRING)]))
    cat.add_source(source("U", "TABLE", ("ID", INTEGER), [("D", STRING)]))
    cat.add_source(source("S", "STREAM", ("K", STRING), [("V", BIGINT), ("N", STRING)]))
    return cat


class Query:
    """The steps of one persistent query; `send` feeds a record, `rows` are what reached the sink."""

    def __init__(self, sql: str, *, config: dict[str, Any] | None = None, clock: int = 0,
                 sources: list[DataSource] = ()) -> None:  # type: ignore[assignment]
        statement = parse_statement(sql)
        self.cat = catalog()
        for extra in sources:
            self.cat.add_source(extra)
        self.analysis = analyze(statement.query, self.cat, persistent=True)  # type: ignore[attr-defined]
        self.plan = plan_query(self.analysis, sink_name="OUT", config=config or {})
        self.rows: list[Row] = []
        self.log = ProcessingLog()
        self.query = PersistentQuery.build("Q", sql, self.plan.root, config=config or {}, processing_log=self.log,
                                           emit=lambda *args: None, downstream=self.rows.append,
                                           wall_clock=lambda: clock)
        self.offsets: dict[str, int] = {}

    def send(self, topic: str, key: Any, value: dict | None, timestamp: int,
             window: tuple[int, int] | None = None, *, long_key: bool = False) -> None:
        key_bytes = None
        if key is not None:
            key_bytes = struct.pack(">q" if long_key else ">i", key) if isinstance(key, int) else str(key).encode()
            if window is not None:
                key_bytes += struct.pack(">q", window[0])
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        self.query.process(TopicRecord(topic, 0, offset, timestamp, key_bytes,
                                       None if value is None else json.dumps(value).encode()))

    def output(self) -> list[tuple[Any, Any, int]]:
        """(key, value columns by name, timestamp) of each output row."""
        names = [c.name for c in self.plan.schema.value]
        out = []
        for row in self.rows:
            key = row.key[0] if row.key and len(row.key) == 1 else row.key
            value = None if row.value is None else dict(zip(names, row.value))
            out.append((key, value, row.timestamp) if row.window is None else (key, value, row.timestamp, row.window))
        self.rows.clear()
        return out


@pytest.fixture
def make_query():  # type: ignore[no-untyped-def]
    return Query
