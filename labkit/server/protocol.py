"""What labkit's REST server needs from a ksqlDB-compatible engine, and the records that cross the boundary.

The server (labkit.server.app) is a thin HTTP layer: it parses requests, negotiates content types, streams
rows and renders errors exactly as ksqlDB 0.29 does. Everything about SQL lives behind `Engine`. An engine
builds the JSON entities of /ksql with the helpers of `labkit.server.entities` and signals failures by
raising `StatementError` (or any `labkit.errors.KsqlError`), which the server turns into ksqlDB's error
envelope. Any other exception is treated as a bug: logged with its traceback and answered with a 500.

Blocking is fine on this side of the boundary: the server calls every method from a worker thread, never from
its event loop, and may call `close()` from another thread while `next_rows` is blocked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, Union, runtime_checkable

from labkit.errors import KsqlError

__all__ = [
    "Engine",
    "HealthStatus",
    "InsertSink",
    "NotAQueryError",
    "PrintStream",
    "QueryHeader",
    "QueryStream",
    "Row",
    "ServerInfo",
    "StatementError",
    "Tombstone",
    "QUERY_ENDPOINT_MESSAGE",
]

#: ksqlDB's message (error 40002) when a SELECT or PRINT is sent to /ksql.
QUERY_ENDPOINT_MESSAGE = (
    "The following statement types should be issued to the websocket endpoint '/query':\n"
    "\t* PRINT\n"
    "\t* SELECT"
)


class StatementError(KsqlError):
    """A statement failed: rendered as ksqlDB's `statement_error` (HTTP status = error_code // 100).

    `entities` are those produced by earlier statements of the same /ksql request (ksqlDB validates every
    statement before running any, so this is normally empty).
    """

    def __init__(self, error_code: int, message: str, statement_text: str,
                 entities: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(error_code, message, statement_text)
        self.entities = [dict(entity) for entity in entities]

    @classmethod
    def bad_statement(cls, message: str, statement_text: str) -> "StatementError":
        """A parse or validation failure (ksqlDB's 40001 BAD_STATEMENT)."""
        return cls(40001, message, statement_text)

    @classmethod
    def query_endpoint(cls, statement_text: str) -> "StatementError":
        """A SELECT or PRINT sent to /ksql (ksqlDB's 40002, with its exact three-line message)."""
        return cls(40002, QUERY_ENDPOINT_MESSAGE, statement_text)


class NotAQueryError(StatementError):
    """`open_query` was given a statement that is neither a query nor PRINT.

    The server words it per endpoint, as ksqlDB does: /query-stream answers 400 statement_error 40001
    "Neither a query nor a print statement"; /query answers 400 generic_error 40000 "Statement type ... not
    supported for this resource".
    """

    def __init__(self, statement_text: str) -> None:
        super().__init__(40001, "Neither a query nor a print statement", statement_text)


@dataclass(frozen=True)
class QueryHeader:
    """What the server writes before the first row: ksqlDB's QueryResponseMetadata plus two flags.

    `column_types` use ksqlDB's type spelling (`INTEGER`, `DECIMAL(4, 2)`, ``STRUCT<`A` INTEGER>``).
    `is_pull` is True only for *table* pull queries (buffered legacy output, no final message, ` KEY` marks
    in the legacy schema, not closable by /close-query); stream pull queries run as push queries that end by
    themselves, so they are `is_pull=False`. `key_columns` names the key columns (legacy pull header only).
    """

    query_id: str
    column_names: tuple[str, ...]
    column_types: tuple[str, ...]
    is_pull: bool = False
    key_columns: tuple[str, ...] = field(default=())
    legacy_schema: str | None = None  # the legacy header's schema when not the plain column list (pull SELECT *)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(self.column_names))
        object.__setattr__(self, "column_types", tuple(self.column_types))
        object.__setattr__(self, "key_columns", tuple(self.key_columns))
        if len(self.column_names) != len(self.column_types):
            raise ValueError(f"{len(self.column_names)} column names but {len(self.column_types)} column types")


@dataclass(frozen=True)
class Tombstone:
    """A delete from a push query on a table: value columns None, key columns filled.

    Only the legacy format shows it (`{"row":{"columns":[...],"tombstone":true}}`); the delimited and JSON
    formats of /query-stream drop it, as ksqlDB does.
    """

    columns: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))


#: One row of a query: a list of JSON-able values in header order, or a Tombstone.
Row = Union[list, Tombstone]


@dataclass(frozen=True)
class ServerInfo:
    """GET /info: `{"KsqlServerInfo":{"version","kafkaClusterId","ksqlServiceId","serverStatus"}}`."""

    version: str = "0.29.0"
    kafka_cluster_id: str = ""
    ksql_service_id: str = "default_"
    server_status: str = "RUNNING"


@dataclass(frozen=True)
class HealthStatus:
    """GET /healthcheck: overall health, one flag per subsystem, and the server state.

    ksqlDB's subsystems are `metastore`, `kafka` and `commandRunner`; `server_state` is one of
    INITIALIZING, READY, TERMINATING, TERMINATED.
    """

    is_healthy: bool
    details: Mapping[str, bool] = field(default_factory=lambda: {
        "metastore": True, "kafka": True, "commandRunner": True})
    server_state: str = "READY"


@runtime_checkable
class QueryStream(Protocol):
    """A running query as /query and /query-stream consume it.

    The server writes `header` first, then polls `next_rows` until it returns None, the client disconnects,
    or /close-query names this query; it always calls `close()` at the end (close must be idempotent and
    may come from another thread while `next_rows` is blocked, which should then return promptly).
    """

    @property
    def header(self) -> QueryHeader:
        """Query id, column names and types; known before the first row."""
        ...

    @property
    def limit_reached(self) -> bool:
        """True once the query ended because it hit its LIMIT (legacy /query then says "Limit Reached")."""
        ...

    def next_rows(self, timeout: float) -> list[Row] | None:
        """Rows available within `timeout` seconds ([] if none yet); None once the query has ended.

        Values must already be JSON-able as ksqlDB renders them (NOTES §1.9); decimal.Decimal is allowed and
        written as a plain number. A raised exception ends the stream with an error row (error_code 50000,
        the exception's message).
        """
        ...

    def close(self) -> None:
        """Stop the query and free its resources (idempotent)."""
        ...


@runtime_checkable
class PrintStream(Protocol):
    """A running PRINT: text lines (`Key format: ...`, `rowtime: ..., key: ..., value: ..., partition: 0`)."""

    def next_lines(self, timeout: float) -> list[str] | None:
        """Lines (without newline) available within `timeout` seconds; None once PRINT has ended."""
        ...

    def close(self) -> None:
        """Stop printing (idempotent)."""
        ...


class InsertSink(Protocol):
    """An open /inserts-stream target; each row is acknowledged once `insert` returns."""

    def insert(self, row: Mapping[str, Any]) -> None:
        """Write one row (`{"COL": value}`, names matched case-insensitively); raise KsqlError to reject it."""
        ...

    def close(self) -> None:
        """Flush and release the target (idempotent)."""
        ...


class Engine(Protocol):
    """The engine behind the REST server: exactly what ksqlDB's endpoints need, nothing else."""

    def execute(self, sql: str, *, properties: Mapping[str, Any], variables: Mapping[str, Any],
                command_sequence: int | None) -> list[dict[str, Any]]:
        """POST /ksql: run every statement of `sql`, return one entity per statement that has one.

        ksqlDB validates all statements before running any; SET/UNSET/DEFINE/UNDEFINE and INSERT VALUES
        produce no entity. `properties` are the request's `streamsProperties` (unknown key: raise
        KsqlError(40000, ...)); `variables` its `sessionVariables`; `command_sequence` the number to wait for
        (timeout: KsqlError(50301, ...)). SELECT/PRINT: raise `StatementError.query_endpoint(stmt)`.
        Failures: raise StatementError carrying the entities produced so far.
        """
        ...

    def open_query(self, sql: str, *, properties: Mapping[str, Any], variables: Mapping[str, Any],
                   command_sequence: int | None = None, strict_properties: bool = True) -> QueryStream | PrintStream:
        """POST /query and /query-stream: start one SELECT (push or pull) or PRINT and return its stream.

        `strict_properties`: refuse properties ksqlDB does not recognise (/query does, /query-stream does not).

        Errors before the first row: StatementError (parse/validation, "Expected exactly one KSQL
        statement; found N instead"), NotAQueryError for any other statement type.
        """
        ...

    def open_inserts(self, target: str, *, properties: Mapping[str, Any]) -> InsertSink:
        """POST /inserts-stream: open a stream or table for row inserts (target case-insensitive unless quoted).

        Unknown target: raise KsqlError(40001, "Cannot insert values into an unknown stream/table: X").
        """
        ...

    def info(self) -> ServerInfo:
        """GET /info."""
        ...

    def health(self) -> HealthStatus:
        """GET /healthcheck."""
        ...

    def command_statuses(self) -> Mapping[str, Mapping[str, Any]]:
        """GET /status and /status/<commandId>: commandId → `entities.command_status(...)` dict."""
        ...
