"""The engine: a catalog, a topic store and running queries, executing ksqlDB statements.

`KsqlEngine.execute(sql)` runs every statement of a /ksql request and returns their REST entities;
`execute_statement(statement, session)` runs one parsed statement. Statement kinds are dispatched to the
modules that implement them (`ddl`, `queries`, `inserts`, `describe`); each raises `EngineError` with
ksqlDB's message, which becomes a `KsqlStatementError` carrying the statement text.

    >>> from labkit.engine.topics import InMemoryTopicStore
    >>> engine = KsqlEngine(InMemoryTopicStore())
    >>> [e["commandStatus"]["message"] for e in engine.execute(
    ...     "CREATE STREAM S (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');")]
    ['Stream created']
"""
from __future__ import annotations

import itertools
from copy import deepcopy
from typing import Any, Callable, Mapping

from labkit.engine import ddl, describe, inserts, queries
from labkit.engine.catalog import Catalog
from labkit.engine.errors import EngineError, KsqlStatementError, NotSupportedError
from labkit.engine.processing_log import ProcessingLog
from labkit.engine.runtime import QueryRuntime, Runtime
from labkit.engine.serde import SerdeError
from labkit.engine.session import Session
from labkit.engine.transient import TransientQuery, start_transient_query
from labkit.engine.topics import SandboxTopicStore, TopicStore, TopicStoreError
from labkit.engine.types import SqlTypeError
from labkit.errors import KsqlError, LabkitError, SqlSyntaxError
from labkit.sql import SqlParseError, ast, parse, substitute_variables
from labkit.sql.statements import Statement

__all__ = ["KsqlEngine"]

Handler = Callable[["KsqlEngine", Any, Session], "dict[str, Any] | None"]


def _set_property(engine: "KsqlEngine", stmt: ast.SetProperty, session: Session) -> None:
    session.overrides[stmt.name] = stmt.value
    return None


def _unset_property(engine: "KsqlEngine", stmt: ast.UnsetProperty, session: Session) -> None:
    session.overrides.pop(stmt.name, None)
    return None


def _define(engine: "KsqlEngine", stmt: ast.DefineVariable, session: Session) -> None:
    session.variables[stmt.name] = stmt.value
    return None


def _undefine(engine: "KsqlEngine", stmt: ast.UndefineVariable, session: Session) -> None:
    session.variables.pop(stmt.name, None)
    return None


QUERY_ENDPOINT_MESSAGE = ("The following statement types should be issued to the websocket endpoint '/query':\n"
                          "\t* PRINT\n\t* SELECT")


def _query_endpoint(engine: "KsqlEngine", stmt: Statement, session: Session) -> None:
    raise KsqlStatementError(QUERY_ENDPOINT_MESSAGE, stmt.text, 40002)


def _not_supported(engine: "KsqlEngine", stmt: Statement, session: Session) -> None:
    raise NotSupportedError(f"{type(stmt).__name__} statements are not supported by labkit's engine yet.")


CONNECT_URL_DEFAULT = "http://localhost:8083"
CONNECT_REFUSED = ("io.confluent.ksql.util.KsqlServerException: org.apache.hc.client5.http.HttpHostConnectException: "
                   "Connect to {url} [{addresses}] failed: Connection refused\n"
                   "Caused by: Could not connect to the server. Please check the server details are\n"
                   "\tcorrect and that the server is running.")
"""ksqlDB 0.29's answer (500, error code 50000) when nothing listens at `ksql.connect.url`: DefaultConnectClient's
KsqlServerException around the HTTP client's refused connection, as ErrorMessageUtil renders the chain."""


def _connect_statement(engine: "KsqlEngine", stmt: Statement, session: Session) -> None:
    """Connector statements need a Kafka Connect cluster at `ksql.connect.url`; labkit's engine runs none."""
    from urllib.parse import urlsplit

    url = str(session.get("ksql.connect.url") or CONNECT_URL_DEFAULT).rstrip("/")
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or (443 if parts.scheme == "https" else 80)
    if not _accepts_connections(host, port):
        addresses = ", ".join(f"{host}/{address}" for address in _addresses(host, port))
        raise KsqlStatementError(CONNECT_REFUSED.format(url=url, addresses=addresses), stmt.text, 50000)
    _not_supported(engine, stmt, session)


def _addresses(host: str, port: int) -> list[str]:
    """The IP addresses `host` resolves to, as Java's InetAddress prints them (IPv6 uncompressed)."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    out: list[str] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        text = str(address) if address.version == 4 else ":".join(
            format(int(group, 16), "x") for group in address.exploded.split(":"))
        if text not in out:
            out.append(text)
    return out


def _accepts_connections(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether something listens at host:port (a TCP connect succeeds)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


STATEMENT_HANDLERS: dict[type, Handler] = {
    ast.CreateStream: ddl.create_source,
    ast.CreateTable: ddl.create_source,
    ast.DropStream: ddl.drop_source,
    ast.DropTable: ddl.drop_source,
    ast.CreateType: ddl.create_type,
    ast.DropType: ddl.drop_type,
    ast.AlterSource: ddl.alter_source,
    ast.CreateStreamAsSelect: queries.create_as_select,
    ast.CreateTableAsSelect: queries.create_as_select,
    ast.InsertInto: queries.insert_into,
    ast.TerminateQuery: queries.terminate,
    ast.PauseQuery: queries.pause_or_resume,
    ast.ResumeQuery: queries.pause_or_resume,
    ast.InsertValues: inserts.insert_values,
    ast.ListStreams: describe.list_streams,
    ast.ListTables: describe.list_tables,
    ast.ListTopics: describe.list_topics,
    ast.ListQueries: describe.list_queries,
    ast.ListProperties: describe.list_properties,
    ast.ListTypes: describe.list_types,
    ast.ListVariables: describe.list_variables,
    ast.ListFunctions: describe.list_functions,
    ast.DescribeSource: describe.describe_source,
    ast.DescribeStreams: describe.describe_sources,
    ast.DescribeTables: describe.describe_sources,
    ast.DescribeFunction: describe.describe_function,
    ast.Explain: describe.explain,
    ast.Query: _query_endpoint,
    ast.PrintTopic: _query_endpoint,
    ast.SetProperty: _set_property,
    ast.UnsetProperty: _unset_property,
    ast.DefineVariable: _define,
    ast.UndefineVariable: _undefine,
    ast.ListConnectors: _connect_statement,
    ast.ListConnectorPlugins: _connect_statement,
    ast.DescribeConnector: _connect_statement,
    ast.CreateConnector: _connect_statement,
    ast.DropConnector: _connect_statement,
}
"""Statement type → handler; a new statement kind is one entry here plus its handler."""


class KsqlEngine:
    """ksqlDB's engine over a TopicStore: metastore, persistent queries, statement execution."""

    def __init__(self, store: TopicStore, config: Mapping[str, Any] | None = None, *,
                 runtime: Runtime | None = None) -> None:
        self.store = store
        self.config: dict[str, Any] = dict(config or {})
        self.catalog = Catalog()
        self.processing_log = ProcessingLog()
        self.runtime: Runtime = runtime if runtime is not None else QueryRuntime(store)
        self._sequence = itertools.count()
        self.command_sequence = -1
        self.insert_clock: Callable[[], int] | None = None
        self.replaying = False
        """True while a server replays its command topic: accepted commands are not validated against topics."""
        self.validating = False
        """True on a sandbox copy: statements are checked, nothing outside the copy is touched (push queries)."""
        self.compacted_queries: set[int] = set()
        """Command sequence numbers whose query a replay leaves out (terminated later in the log): DDL only."""
        ddl.setup_processing_log(self)

    # --- sessions and statements ----------------------------------------------------------------

    def session(self, properties: Mapping[str, Any] | None = None,
                variables: Mapping[str, str] | None = None) -> Session:
        """A session over the server config, with request properties and variables."""
        return Session(self.config, dict(properties or {}), dict(variables or {}))

    def next_command(self) -> int:
        """The sequence number of the next command (query ids take their number from it)."""
        self.command_sequence = next(self._sequence)
        return self.command_sequence

    def set_next_command(self, sequence: int) -> None:
        """Continue numbering commands at `sequence` (a server replaying its command topic sets the offset)."""
        self._sequence = itertools.count(sequence)

    def execute(self, sql: str, *, properties: Mapping[str, Any] | None = None,
                variables: Mapping[str, str] | None = None, session: Session | None = None,
                validate: bool = True) -> list[dict[str, Any]]:
        """Run every statement of `sql` (POST /ksql); returns the entities of those that produce one.

        As ksqlDB does, every statement is first validated against a sandbox copy of the engine (so a
        script creating a stream and then a query over it validates), and nothing runs if one fails.
        """
        session = session or self.session(properties, variables)
        statements = self._parse(sql)
        if validate:
            sandbox, trial = self.sandbox(), Session(session.server, dict(session.overrides), dict(session.variables))
            for statement in statements:
                sandbox.run_statement(statement, trial)
        entities: list[dict[str, Any]] = []
        for statement in statements:
            try:
                entity = self.run_statement(statement, session)
            except KsqlStatementError as error:
                error.entities = entities  # what the statements before the failing one produced
                raise
            if entity is not None:
                entities.append(entity)
        return entities

    @staticmethod
    def _parse(sql: str) -> list[Statement]:
        try:
            return parse(sql)
        except SqlParseError as error:
            raise KsqlStatementError(error.ksql_message, sql.strip()) from None

    def run_statement(self, statement: Statement, session: Session) -> dict[str, Any] | None:
        """Substitute the session's variables into a parsed statement (re-parsing it) and run it."""
        if session.variables and "${" in statement.text:
            text = substitute_variables(statement.text, session.variables)
            [statement] = self._parse(text)
        return self.execute_statement(statement, session)

    def execute_text(self, text: str, session: Session) -> dict[str, Any] | None:
        """Parse one statement's text (after variable substitution) and run it."""
        result = None
        for statement in self._parse(text):
            result = self.run_statement(statement, session)
        return result

    def sandbox(self, *, store: SandboxTopicStore | None = None) -> "KsqlEngine":
        """A copy of this engine to validate statements on: same catalog and topics, nothing written or run.

        `store`: the sandbox view of this engine's topics to use (default: a new `SandboxTopicStore`)."""
        copy = KsqlEngine.__new__(KsqlEngine)
        copy.store = store if store is not None else SandboxTopicStore(self.store)
        copy.config = self.config
        copy.catalog = deepcopy(self.catalog)
        copy.processing_log = ProcessingLog()
        copy.runtime = QueryRuntime(copy.store)
        copy._sequence = itertools.count(self.command_sequence + 1)
        copy.command_sequence = self.command_sequence
        copy.insert_clock = self.insert_clock
        copy.replaying = False
        copy.validating = True
        copy.compacted_queries = set()
        return copy

    def execute_statement(self, statement: Statement, session: Session) -> dict[str, Any] | None:
        """Run one parsed statement; errors become KsqlStatementError with the statement text."""
        text = statement.text
        handler = STATEMENT_HANDLERS.get(type(statement), _not_supported)
        try:
            return handler(self, statement, session)
        except KsqlError:
            raise
        except (EngineError, SerdeError, SqlTypeError, TopicStoreError) as error:
            message = error.message if isinstance(error, (EngineError, SerdeError)) else str(error)
            raise KsqlStatementError(message, text, getattr(error, "error_code", 40001)) from error
        except SqlSyntaxError as error:
            raise KsqlStatementError(getattr(error, "ksql_message", str(error)), text) from error
        except LabkitError as error:
            raise KsqlStatementError(str(error), text) from error

    def query(self, sql: str, *, properties: Mapping[str, Any] | None = None,
              variables: Mapping[str, str] | None = None) -> TransientQuery:
        """Start one SELECT (POST /query, /query-stream): a push query, or a pull query over a stream."""
        session = self.session(properties, variables)
        statements = self._parse(substitute_variables(sql, session.variables) if session.variables else sql)
        if len(statements) != 1:
            raise KsqlStatementError(f"Expected exactly one KSQL statement; found {len(statements)} instead",
                                     sql.strip())
        [statement] = statements
        if not isinstance(statement, ast.Query):
            raise KsqlStatementError("Neither a query nor a print statement", statement.text)
        try:
            return start_transient_query(self, statement, session)
        except (EngineError, SerdeError) as error:
            raise KsqlStatementError(error.message, statement.text) from error

    # --- running ----------------------------------------------------------------------------------

    def run_until_idle(self, *, raise_errors: bool = False) -> int:
        """Let every persistent query process all available records (tests, notebooks)."""
        return self.runtime.run_until_idle(raise_errors=raise_errors)

    def close(self) -> None:
        """Stop every query."""
        for query_id in list(self.runtime.queries):
            self.runtime.stop(query_id)
