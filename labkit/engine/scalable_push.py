"""Scalable push queries (ksqlDB's push queries v2, `ksql.query.push.v2.enabled`).

With the feature on, a push query that only filters and projects the output of one persistent query
(`SELECT ... FROM S WHERE ... EMIT CHANGES` where S is the sink of exactly one CSAS/CTAS/INSERT INTO, read
from `latest`) does not start a streams application of its own: it taps the rows that query writes, from
the moment it registers. Its id starts with `SCALABLE_PUSH_QUERY_`, and rows with a null value (tombstones),
or with a null key on a keyed source, are not passed on. Every other push query (joins, GROUP BY, WINDOW,
HAVING, PARTITION BY, `earliest`, a source nobody writes, ROWPARTITION/ROWOFFSET) silently runs as a classic
push query, as in ksqlDB 0.29 (ScalablePushUtil.isScalablePushQuery).

ksqlDB also needs `ksql.query.push.v2.registry.installed` for the writing query to carry the registry the
push query taps; without it the query fails with ksqlDB's message. labkit reads that flag from the server
configuration (ksqlDB reads it from the writing query's configuration when the query starts). As in ksqlDB,
a scalable push query may use `*` only as its sole select item.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Callable

from labkit.engine.errors import EngineError
from labkit.engine.runtime import PersistentQuery
from labkit.engine.session import Session, config_bool, offset_reset
from labkit.engine.topics import TopicRecord
from labkit.sql import ast

if TYPE_CHECKING:
    from labkit.engine.engine import KsqlEngine

__all__ = ["PUSH_V2_ENABLED", "REGISTRY_INSTALLED", "QUERY_ID_PREFIX", "is_scalable_push_query",
           "new_query_id", "tap_written_rows"]

PUSH_V2_ENABLED = "ksql.query.push.v2.enabled"
REGISTRY_INSTALLED = "ksql.query.push.v2.registry.installed"
QUERY_ID_PREFIX = "SCALABLE_PUSH_QUERY_"
REGISTRY_NOT_FOUND = ("Scalable push registry cannot be found. "
                      "Make sure that ksql.query.push.v2.registry.installed is set to true.")
WILDCARD_NOT_ALONE = "Scalable push queries only support wildcards in the projects if they are the only expression"
_DISALLOWED_COLUMNS = ("ROWPARTITION", "ROWOFFSET")


def is_scalable_push_query(engine: "KsqlEngine", query: ast.Query, session: Session) -> bool:
    """True when ksqlDB 0.29 would run `query` as a scalable push query (else a classic push query runs)."""
    if not session.flag(PUSH_V2_ENABLED) or query.emit != "CHANGES":
        return False
    if not isinstance(query.source, ast.AliasedSource):  # joins are not scalable
        return False
    if (query.group_by is not None or query.window is not None or query.having is not None
            or query.partition_by is not None):
        return False
    if (offset_reset(session) or "latest") != "latest":
        return False
    source = engine.catalog.source(query.source.name)
    if source is None or len(engine.catalog.writers_of(source.name)) != 1:
        return False
    return not _uses_disallowed_columns(query)


def _uses_disallowed_columns(query: ast.Query) -> bool:
    expressions = [item.expression for item in query.items if isinstance(item, ast.SingleColumn)]
    if query.where is not None:
        expressions.append(query.where)
    return any(isinstance(node, ast.ColumnRef) and node.name in _DISALLOWED_COLUMNS
               for expression in expressions for node in ast.iter_nodes(expression))


def new_query_id(engine: "KsqlEngine", query: ast.Query) -> str:
    """A fresh scalable push query id, after the checks ksqlDB makes while planning one (raises EngineError)."""
    if any(isinstance(item, ast.AllColumns) for item in query.items) and len(query.items) != 1:
        raise EngineError(WILDCARD_NOT_ALONE)
    if not config_bool(engine.config.get(REGISTRY_INSTALLED)):
        raise EngineError(REGISTRY_NOT_FOUND)
    return f"{QUERY_ID_PREFIX}{uuid.uuid4()}"


def tap_written_rows(running: PersistentQuery, *, keyed: bool) -> None:
    """Start `running` at the end of its topic and pass on only the rows ksqlDB's registry hands over."""
    running.offset_reset, running.topic_offset_reset = "latest", {}
    for topic, handler in list(running.handlers.items()):
        running.handlers[topic] = _complete_rows_only(handler, keyed)


def _complete_rows_only(handler: Callable[[TopicRecord], None], keyed: bool) -> Callable[[TopicRecord], None]:
    def handle(record: TopicRecord) -> None:
        if record.value is None or (keyed and record.key is None):
            return
        handler(record)

    return handle
