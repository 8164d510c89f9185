"""The /ksql entities the engine returns, built with the REST layer's shapes (labkit.server.entities).

One module so the engine depends on the REST JSON shapes in one place; the server's module is imported
lazily, which keeps `labkit.engine` importable on its own and avoids an import cycle with the server.
"""
from __future__ import annotations

from typing import Any, Sequence

from labkit.engine.catalog import DataSource, QueryInfo
from labkit.engine.schema import LogicalSchema
from labkit.engine.types import SqlType, schema_entity

__all__ = ["rest", "current_status", "source_description", "query_entity", "push_query_entity", "fields_of"]


def rest():  # type: ignore[no-untyped-def]
    """The REST entity builders (labkit.server.entities)."""
    from labkit.server import entities

    return entities


def current_status(statement_text: str, command_id: str, message: str, *, query_id: str | None = None,
                   sequence: int = -1) -> dict[str, Any]:
    """A currentStatus entity with SUCCESS."""
    return rest().current_status(statement_text, command_id, message, query_id=query_id,
                                 command_sequence_number=sequence)


def warning(statement_text: str, message: str) -> dict[str, Any]:
    return rest().warning_entity(statement_text, message)


def fields_of(schema: LogicalSchema) -> list[dict[str, Any]]:
    """DESCRIBE's `fields`: key columns marked KEY, header columns HEADER."""
    entities = rest()
    out = []
    for column in schema.key:
        out.append(entities.field_info(column.name, schema_entity(column.type), "KEY"))
    for column in schema.value:
        kind = "HEADER" if column.namespace == "HEADERS" else None
        out.append(entities.field_info(column.name, schema_entity(column.type), kind))
    return out


def query_entity(info: QueryInfo) -> dict[str, Any]:
    """A RunningQuery object."""
    return rest().running_query(info.sql, [info.sink] if info.sink else [],
                                [info.sink_topic] if info.sink_topic else [], info.query_id, state=info.state)


def push_query_entity(query_id: str, sql: str) -> dict[str, Any]:
    """A RunningQuery object for a running push (or stream pull) query: no sinks, queryType PUSH."""
    return rest().running_query(sql, [], [], query_id, query_type="PUSH")


def source_description(source: DataSource, *, extended: bool, read_queries: Sequence[QueryInfo],
                       write_queries: Sequence[QueryInfo], partitions: int, replication: int,
                       statistics: str = "", error_stats: str = "") -> dict[str, Any]:
    """The sourceDescription object of DESCRIBE."""
    return rest().source_description(
        source.name, kind=source.kind, fields=fields_of(source.schema), topic=source.topic,
        key_format=source.key_format.name, value_format=source.value_format.name, statement=source.sql,
        window_type=source.key_format.window.type if source.key_format.window else None,
        read_queries=[query_entity(q) for q in read_queries], write_queries=[query_entity(q) for q in write_queries],
        timestamp=source.timestamp_column or "", statistics=statistics, error_stats=error_stats, extended=extended,
        partitions=partitions, replication=replication)


def type_text(t: SqlType) -> str:
    return str(t)
