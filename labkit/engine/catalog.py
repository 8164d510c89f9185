"""The metastore: streams, tables, custom types and persistent queries, and who depends on whom.

A `DataSource` is a stream or table: its logical schema, the topic it reads, the key and value formats,
the TIMESTAMP column, and whether it is read-only (CREATE SOURCE ...). `QueryInfo` records what a
persistent query reads and writes, which DROP and TERMINATE check. The catalog holds facts only; the
running queries live in the runtime.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from labkit.engine.formats import KeyFormat, ValueFormat
from labkit.engine.schema import LogicalSchema
from labkit.engine.types import SqlType

__all__ = ["DataSource", "QueryInfo", "Catalog"]


@dataclass(frozen=True)
class DataSource:
    """A stream or a table."""

    name: str
    kind: str  # "STREAM" or "TABLE"
    schema: LogicalSchema
    topic: str
    key_format: KeyFormat
    value_format: ValueFormat
    timestamp_column: str | None = None
    timestamp_format: str | None = None
    is_source: bool = False  # CREATE SOURCE STREAM/TABLE: read-only
    sql: str = ""

    @property
    def is_table(self) -> bool:
        return self.kind == "TABLE"

    @property
    def is_windowed(self) -> bool:
        return self.key_format.is_windowed

    @property
    def kind_lower(self) -> str:
        return self.kind.lower()

    def with_sql(self, sql: str) -> "DataSource":
        return replace(self, sql=sql)


@dataclass
class QueryInfo:
    """A persistent query as the metastore knows it."""

    query_id: str
    sql: str
    sources: tuple[str, ...]
    sink: str | None
    sink_topic: str | None
    kind: str = "PERSISTENT"  # or "INSERT" for INSERT INTO ... SELECT
    state: str = "RUNNING"
    offset_reset: str = "latest"
    internal_topics: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Repartition and changelog topics of the query: name -> (key format, value format)."""


@dataclass
class Catalog:
    """Streams, tables, types and persistent queries, by name."""

    sources: dict[str, DataSource] = field(default_factory=dict)
    types: dict[str, SqlType] = field(default_factory=dict)
    queries: dict[str, QueryInfo] = field(default_factory=dict)

    # --- sources ----------------------------------------------------------------------------------

    def source(self, name: str) -> DataSource | None:
        return self.sources.get(name)

    def add_source(self, source: DataSource) -> None:
        self.sources[source.name] = source

    def remove_source(self, name: str) -> DataSource | None:
        return self.sources.pop(name, None)

    def similar_names(self, name: str) -> list[str]:
        """Existing source names equal to `name` ignoring case (for "Did you mean" hints)."""
        return [n for n in self.sources if n.upper() == name.upper() and n != name]

    def sources_on_topic(self, topic: str) -> list[DataSource]:
        return [s for s in self.sources.values() if s.topic == topic]

    # --- queries ----------------------------------------------------------------------------------

    def add_query(self, info: QueryInfo) -> None:
        self.queries[info.query_id] = info

    def remove_query(self, query_id: str) -> QueryInfo | None:
        return self.queries.pop(query_id, None)

    def readers_of(self, name: str) -> list[QueryInfo]:
        return [q for q in self.queries.values() if name in q.sources]

    def writers_of(self, name: str) -> list[QueryInfo]:
        return [q for q in self.queries.values() if q.sink == name]

    def creating_query(self, name: str) -> QueryInfo | None:
        """The CREATE ... AS SELECT query that populates source `name`, if any."""
        for info in self.queries.values():
            if info.sink == name and info.kind == "PERSISTENT":
                return info
        return None

    def query_ids(self) -> Iterable[str]:
        return list(self.queries)
