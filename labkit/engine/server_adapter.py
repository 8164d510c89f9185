"""The engine behind labkit's REST server: KsqlEngine adapted to `labkit.server.protocol.Engine`.

`create_engine()` (what `python -m labkit.server` loads) builds the live engine: KafkaTopicStore for topics,
KafkaRuntime for running queries, the command topic replayed into a KsqlEngine, and the processing log
(`default_ksql_processing_log` topic and the KSQL_PROCESSING_LOG stream, as ksqlDB's stock server config).
`ServerEngine` is the adapter itself; over an InMemoryTopicStore and the in-process runtime it serves the
same API without a broker (the RQTT runner and unit tests use that).

Statements that change the engine's state are written to the command topic before they run (their offset
is the `commandSequenceNumber` and the number in new query ids); SELECT and PRINT become streams the server
pulls rows or lines from.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from labkit.engine.command_topic import (
    CommandDecodeError,
    CommandTopic,
    ReplayStore,
    command_id,
    compact_commands,
    decode_command,
)
from labkit.engine.engine import KsqlEngine
from labkit.engine.errors import KsqlStatementError
from labkit.engine.queries import names_push_query
from labkit.engine.runtime import PersistentQuery
from labkit.engine.session import UNRECOGNIZED_PROPERTY, Session, offset_reset, unknown_properties
from labkit.engine.topics import SandboxTopicStore, TopicDescription, TopicStore, TopicStoreError
from labkit.engine.transient import TransientQuery
from labkit.errors import KsqlError, LabkitError
from labkit.server import entities
from labkit.server.protocol import (
    HealthStatus,
    InsertSink,
    NotAQueryError,
    PrintStream,
    QueryHeader,
    QueryStream,
    ServerInfo,
    StatementError,
)
from labkit.sql import SqlParseError, ast, parse, substitute_variables
from labkit.sql.statements import Statement

__all__ = ["ServerEngine", "create_engine", "SERVER_DEFAULTS"]

_log = logging.getLogger("labkit.engine.server")

SERVER_DEFAULTS: dict[str, Any] = {
    "ksql.service.id": "default_",
    "ksql.logging.processing.topic.auto.create": True,
    "ksql.logging.processing.stream.auto.create": True,
}
"""What ksqlDB's stock config/ksql-server.properties sets on top of the code defaults."""

VERSION = "0.29.0"
HEALTH_CACHE_S = 3.0
PRINT_MISSING = ("Could not find topic '{}', or the KSQL user does not have permissions to list the topic. Topic "
                 "names are case-sensitive.")


def _statement_error(error: KsqlError, fallback_text: str = "") -> StatementError:
    entities_so_far = getattr(error, "entities", ())
    return StatementError(error.error_code, error.message, error.statement_text or fallback_text, entities_so_far)


def _check_properties(properties: Mapping[str, Any], sql: str) -> None:
    """ksqlDB's KsqlRequest.getConfigOverrides: an unknown property fails the request (500, error code 50000)."""
    unknown = unknown_properties(properties)
    if unknown:
        raise StatementError(50000, UNRECOGNIZED_PROPERTY.format(unknown[0]), sql)


class _RecordingSandboxStore(SandboxTopicStore):
    """A sandbox topic store that remembers, in order, the topics the statements validated on it would create."""

    def __init__(self, real: TopicStore) -> None:
        super().__init__(real)
        self.creations: list[TopicDescription] = []

    def create_topic(self, name: str, *, partitions: int = 1, replicas: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        super().create_topic(name, partitions=partitions, replicas=replicas, config=config)
        self.creations.append(TopicDescription(name, partitions, replicas, dict(config or {})))


def _parse(sql: str) -> list[Statement]:
    try:
        return parse(sql)
    except SqlParseError as error:
        raise StatementError(40001, error.ksql_message, sql.strip()) from None


class ServerQueryStream:
    """A running SELECT as the REST layer consumes it (labkit.server.protocol.QueryStream)."""

    def __init__(self, owner: "ServerEngine", transient: TransientQuery, running: PersistentQuery | None) -> None:
        self._owner = owner
        self.transient = transient
        self._running = running
        self.header = QueryHeader(transient.query_id, transient.column_names, transient.column_type_names,
                                  is_pull=getattr(transient, "is_table_pull", False),
                                  key_columns=getattr(transient, "key_columns", ()),
                                  legacy_schema=transient.legacy_schema)

    @property
    def limit_reached(self) -> bool:
        return self.transient.limit_reached

    def _failure(self) -> BaseException | None:
        return None if self._running is None else self._running.error

    def next_rows(self, timeout: float) -> list | None:
        deadline = time.monotonic() + timeout
        while True:
            condition = self._owner.rows_condition(self.transient.query_id)
            with condition:
                rows = self.transient.poll()
                if rows:
                    return rows
                error = self._failure()
                if error is not None:
                    self.transient.close()
                    raise LabkitError(f"The query failed: {error}")
                if self.transient.finished:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                condition.wait(remaining)

    def close(self) -> None:
        query_id = self.transient.query_id
        with self._owner.engine_lock(in_process_only=True):
            self.transient.close()
        self._owner.wake(query_id)


class _NullCondition:
    """A condition for a query that is gone: waits never block, there is nothing to wait for."""

    def __enter__(self) -> "_NullCondition":
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def wait(self, timeout: float) -> bool:
        return False


class _InsertSink:
    """/inserts-stream rows become INSERT INTO ... VALUES statements (each acknowledged once written)."""

    def __init__(self, owner: "ServerEngine", target: str, properties: Mapping[str, Any]) -> None:
        self._owner = owner
        self._target = target
        self._properties = dict(properties)

    def insert(self, row: Mapping[str, Any]) -> None:
        source = self._owner.engine.catalog.source(self._target)
        if source is None:
            raise KsqlError(40001, f"Cannot insert values into an unknown stream/table: {self._target}")
        by_name = {c.name.upper(): c for c in source.schema.columns}
        names, values = [], []
        for name, value in row.items():
            column = by_name.get(str(name).upper())
            if column is None:
                raise KsqlError(40000, f"Column {name} does not exist in {source.name}")
            names.append(f"`{column.name}`")
            values.append(_literal(value, column.type))
        sql = f"INSERT INTO `{source.name}` ({', '.join(names)}) VALUES ({', '.join(values)});"
        self._owner.execute(sql, properties=self._properties, variables={}, command_sequence=None)

    def close(self) -> None:
        return None


def _literal(value: Any, column_type: Any) -> str:
    from labkit.ksql import quote_literal

    if isinstance(value, Mapping):
        base = getattr(column_type, "base", "")
        if base == "STRUCT":
            fields = {f.name.upper(): f for f in column_type.fields}
            parts = []
            for name, item in value.items():
                field = fields.get(str(name).upper())
                parts.append(f"`{field.name if field else name}` := {_literal(item, field.type if field else None)}")
            return "STRUCT(" + ", ".join(parts) + ")"
        value_type = getattr(column_type, "value", None)
        return "MAP(" + ", ".join(f"{quote_literal(str(k))} := {_literal(v, value_type)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        item_type = getattr(column_type, "item", None)
        return "ARRAY[" + ", ".join(_literal(v, item_type) for v in value) + "]"
    return quote_literal(value)


class ServerEngine:
    """KsqlEngine behind the REST API, with a command log (the command topic) and health/info for the server.

    `kafka_cluster_id` and `kafka_healthy` are callables (the live engine asks Kafka); `wait_for_data` lets an
    in-process runtime block until a record is written instead of spinning.
    """

    def __init__(self, engine: KsqlEngine, *, commands: CommandTopic | None = None,
                 kafka_cluster_id: Callable[[], str] = lambda: "", kafka_healthy: Callable[[], bool] = lambda: True,
                 service_id: str = "default_", on_close: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.commands = commands
        self.service_id = service_id
        self.statuses: dict[str, dict[str, Any]] = {}
        self.state = "INITIALIZING"
        self._kafka_cluster_id = kafka_cluster_id
        self._kafka_healthy = kafka_healthy
        self._health_cache: tuple[float, bool] = (0.0, True)
        self._cluster_id: str | None = None
        self._lock = threading.RLock()
        self._on_close = on_close
        self._in_process = not hasattr(engine.runtime, "rows_lock")
        self._appended = threading.Condition(self._lock)
        add_listener = getattr(engine.store, "add_listener", None)
        if self._in_process and add_listener is not None:
            add_listener(self._record_appended)

    # -- start-up

    def start(self) -> "ServerEngine":
        """Replay the command topic (if any) and become READY."""
        if self.commands is not None:
            self.commands.ensure()
            self.replay()
        self.state = "READY"
        return self

    def replay(self) -> int:
        """Run every command of the command topic again; returns how many ran. Bad commands are skipped."""
        assert self.commands is not None
        engine = self.engine
        records = self.commands.records()
        started = time.monotonic()
        commands = []
        for record in records:
            try:
                commands.append(decode_command(record))
            except CommandDecodeError as error:
                _log.warning("skipping command at offset %d of %s: %s", record.offset, self.commands.topic, error)
        items, left_out = compact_commands(commands)  # queries ended later in the log are not planned again
        for command in left_out:
            if command.command_id.startswith("terminate/"):
                self.statuses[command.command_id] = entities.command_status("SUCCESS", "Query terminated.")
        hold = getattr(engine.runtime, "hold", None)
        release = getattr(engine.runtime, "release", None)
        real_store = engine.store
        replay_store = ReplayStore(real_store)
        engine.store = replay_store  # type: ignore[assignment]
        engine.replaying = True
        if hold is not None:
            hold()
        ran = 0
        engine.compacted_queries = {item.command.offset for item in items if item.ddl_only}
        try:
            for item in items:
                command = item.command
                engine.set_next_command(command.offset)
                try:
                    if item.statement is None:
                        results = engine.execute(command.statement, properties=command.streams_properties,
                                                 validate=False)
                    else:
                        entity = engine.run_statement(item.statement, engine.session(command.streams_properties))
                        results = [] if entity is None else [entity]
                except Exception as error:  # noqa: BLE001 - one bad command must not keep the server down
                    _log.warning("command at offset %d (%s) failed on replay and is skipped: %s", command.offset,
                                 command.command_id, error, exc_info=not isinstance(error, LabkitError))
                    self.statuses[command.command_id] = entities.command_status("ERROR", str(error))
                    continue
                self._record_status(command.command_id, results)
                ran += 1
        finally:
            engine.compacted_queries = set()
            engine.store = real_store
            engine.replaying = False
            created = replay_store.finish()
            if release is not None:
                release()
        if records:
            engine.set_next_command(records[-1].offset + 1)
        _log.info("replayed %d of %d commands from %s in %.2f s (%d left out as ended later, %d queries as DDL only; "
                  "%d topics created)", ran, len(records), self.commands.topic, time.monotonic() - started,
                  len(left_out), sum(1 for item in items if item.ddl_only), len(created))
        return ran

    def _record_status(self, cid: str, results: list[dict[str, Any]]) -> None:
        for entity in results:
            status = entity.get("commandStatus")
            if status is not None:
                self.statuses[cid] = dict(status)

    # -- locking: one lock for the in-process runtime (it runs queries in the caller's thread)

    def engine_lock(self, *, in_process_only: bool = False) -> Any:
        """The lock statements run under (a live runtime needs it only for statements)."""
        if in_process_only and not self._in_process:
            return _NullCondition()
        return self._lock

    def rows_condition(self, query_id: str) -> Any:
        if self._in_process:
            return self._appended
        condition = self.engine.runtime.rows_lock(query_id)  # type: ignore[attr-defined]
        return condition if condition is not None else _NullCondition()

    def wake(self, query_id: str) -> None:
        condition = self.rows_condition(query_id)
        if isinstance(condition, threading.Condition):
            with condition:
                condition.notify_all()

    def wake_all(self) -> None:
        """Wake every query stream waiting for rows of the in-process runtime (records were written)."""
        if self._in_process:
            with self._appended:
                self._appended.notify_all()

    def _record_appended(self, record: Any) -> None:
        if self._lock.acquire(blocking=False):  # appends come from the lock holder, or nobody waits
            try:
                self._appended.notify_all()
            finally:
                self._lock.release()

    def _check_ready(self) -> None:
        if self.state == "INITIALIZING":
            raise KsqlError(50302, "KSQL is not yet ready to serve requests.")
        if self.state in ("TERMINATING", "TERMINATED"):
            raise KsqlError(50303 if self.state == "TERMINATING" else 50304,
                            "The server is shutting down" if self.state == "TERMINATING" else "The server is shut down")

    # -- POST /ksql

    def execute(self, sql: str, *, properties: Mapping[str, Any], variables: Mapping[str, Any],
                command_sequence: int | None = None) -> list[dict[str, Any]]:
        self._check_ready()
        self._wait_for_command(command_sequence)
        _check_properties(properties, sql)
        with self._lock:
            engine = self.engine
            session = engine.session(properties, {k: str(v) for k, v in variables.items()})
            statements = _parse(sql)
            topics: list[list[TopicDescription]] = []  # per statement: the source/sink topics it creates
            try:
                recorder = _RecordingSandboxStore(engine.store)
                sandbox = engine.sandbox(store=recorder)
                trial = Session(session.server, dict(session.overrides), dict(session.variables))
                for statement in statements:
                    before = len(recorder.creations)
                    sandbox.run_statement(statement, trial)
                    topics.append(recorder.creations[before:])
            except KsqlStatementError as error:
                raise _statement_error(error, sql) from None
            results: list[dict[str, Any]] = []
            for statement, creates in zip(statements, topics):
                try:
                    entity = self._run(statement, session, creates)
                except KsqlStatementError as error:
                    error.entities = results
                    raise _statement_error(error, statement.text) from None
                if entity is not None:
                    results.append(entity)
            if self._in_process:
                engine.run_until_idle()
                self._appended.notify_all()
            return results

    def _create_topics(self, statement: Statement, creates: list[TopicDescription]) -> None:
        """Create a statement's source/sink topics before its command is written (ksqlDB's TopicCreateInjector).

        A topic Kafka refuses (replicas > brokers, ...) then fails the statement before the command topic
        has it, so a restart never replays a statement that was refused. Internal topics (repartition,
        changelog) are named after the query id, known only once the command has its offset: the statement
        creates those itself.
        """
        store = self.engine.store
        for topic in creates:
            if topic.name.startswith("_confluent-ksql-") or store.describe_topic(topic.name) is not None:
                continue
            try:
                store.create_topic(topic.name, partitions=topic.partitions, replicas=topic.replicas,
                                   config=topic.config)
            except TopicStoreError as error:
                raise KsqlStatementError(str(error), statement.text, 40001) from error

    def _run(self, statement: Statement, session: Session,
             creates: Sequence[TopicDescription] = ()) -> dict[str, Any] | None:
        if session.variables and "${" in statement.text:
            [statement] = self.engine._parse(substitute_variables(statement.text, session.variables))  # noqa: SLF001
        cid = command_id(statement)
        if isinstance(statement, ast.TerminateQuery) and names_push_query(self.engine, statement):
            cid = None  # ksqlDB's TerminateQueryExecutor closes a push query here: nothing for the command topic
        if cid is None or self.commands is None:
            entity = self.engine.execute_statement(statement, session)
            if cid is not None and entity is not None:
                self._record_status(cid, [entity])
            return entity
        self._create_topics(statement, list(creates))
        offset = self.commands.append(cid, statement.text, session.overrides, self.engine.config,
                                      timestamp=int(time.time() * 1000))
        self.engine.set_next_command(offset)
        try:
            entity = self.engine.execute_statement(statement, session)
        except KsqlStatementError as error:
            self.statuses[cid] = entities.command_status("ERROR", error.message)
            raise
        if entity is not None:
            self._record_status(cid, [entity])
        return entity

    def _wait_for_command(self, sequence: int | None, timeout: float = 5.0) -> None:
        if sequence is None or sequence < 0:
            return
        deadline = time.monotonic() + timeout
        while self.engine.command_sequence < sequence:
            if time.monotonic() > deadline:
                raise KsqlError(50301, "Timed out while waiting for a previous command to execute. "
                                       f"command sequence number: {sequence}")
            time.sleep(0.05)

    # -- POST /query, /query-stream

    def open_query(self, sql: str, *, properties: Mapping[str, Any], variables: Mapping[str, Any],
                   command_sequence: int | None = None, strict_properties: bool = True) -> QueryStream | PrintStream:
        """Start a SELECT or PRINT. `strict_properties`: refuse unknown properties (/query's KsqlRequest does;
        /query-stream's QueryStreamArgs pass them on unchecked in ksqlDB 0.29)."""
        self._check_ready()
        self._wait_for_command(command_sequence)
        variables = {k: str(v) for k, v in variables.items()}
        text = substitute_variables(sql, variables) if variables else sql
        try:
            statements = parse(text)
        except SqlParseError as error:  # /query and /query-stream add the statement, as ksqlDB's parser does
            message = error.ksql_message + ("\n" if error.ksql_message.endswith("Syntax Error") else "")
            raise StatementError(40001, f"{message}\nStatement: {text.strip()}", text.strip()) from None
        if len(statements) != 1:
            raise StatementError(40001, f"Expected exactly one KSQL statement; found {len(statements)} instead",
                                 sql.strip())
        [statement] = statements
        if strict_properties:  # after parsing and waiting, as StreamedQueryResource reads them
            _check_properties(properties, sql)
        if isinstance(statement, ast.PrintTopic):
            return self._open_print(statement, self.engine.session(properties, variables))
        if not isinstance(statement, ast.Query):
            raise NotAQueryError(statement.text)
        with self._lock:
            try:
                transient = self.engine.query(text, properties=properties)
            except KsqlStatementError as error:
                raise _statement_error(error, statement.text) from None
            running = self.engine.runtime.queries.get(transient.query_id)
            if transient.limit == 0:  # LIMIT 0: nothing to wait for
                transient.limit_reached = True
                transient.close()
        return ServerQueryStream(self, transient, running)

    def _open_print(self, statement: ast.PrintTopic, session: Session) -> PrintStream:
        store = self.engine.store
        description = store.describe_topic(statement.topic)
        if description is None:
            raise StatementError(40001, PRINT_MISSING.format(statement.topic), statement.text)
        from_beginning = statement.from_beginning or offset_reset(session) == "earliest"
        readers = getattr(self.engine.runtime, "readers", None)
        if readers is None:
            from labkit.engine.print_topic import InMemoryPrintStream

            return InMemoryPrintStream(store, statement.topic, description.partitions, from_beginning=from_beginning,
                                       interval=statement.interval, limit=statement.limit)
        from kafka import TopicPartition

        from labkit.engine.print_topic import KafkaPrintStream

        from kafka.errors import KafkaTimeoutError

        from labkit.engine.kafka_runtime import STALE_READER_TIMEOUT_MS

        partitions = [TopicPartition(statement.topic, p) for p in range(description.partitions)]
        for fresh in (False, True):
            consumer = readers.fresh() if fresh else readers.acquire()
            try:
                return KafkaPrintStream(consumer, statement.topic, partitions, from_beginning=from_beginning,
                                        interval=statement.interval, limit=statement.limit, release=readers.release,
                                        timeout_ms=None if fresh else STALE_READER_TIMEOUT_MS)
            except KafkaTimeoutError:  # a pooled reader may know a deleted topic of the same name
                if fresh:
                    readers.release(consumer)
                    raise
                readers.discard(consumer)
            except BaseException:
                readers.release(consumer)
                raise
        raise AssertionError("unreachable")

    # -- POST /inserts-stream

    def open_inserts(self, target: str, *, properties: Mapping[str, Any]) -> InsertSink:
        self._check_ready()
        name = target[1:-1] if len(target) >= 2 and target[0] == target[-1] == "`" else target.upper()
        source = self.engine.catalog.source(name)
        if source is None:
            raise KsqlError(40001, f"Cannot insert values into an unknown stream/table: {target}")
        if source.is_windowed:
            raise KsqlError(40001, "Cannot insert values into windowed stream/table")
        return _InsertSink(self, name, properties)

    # -- GET /info, /healthcheck, /status

    def info(self) -> ServerInfo:
        if self._cluster_id is None:
            try:
                self._cluster_id = self._kafka_cluster_id() or ""
            except (LabkitError, OSError) as error:
                _log.warning("could not read the Kafka cluster id: %s", error)
                return ServerInfo(VERSION, "", self.service_id, "RUNNING")
        return ServerInfo(VERSION, self._cluster_id, self.service_id, "RUNNING")

    def health(self) -> HealthStatus:
        checked, healthy = self._health_cache
        if time.monotonic() - checked > HEALTH_CACHE_S:
            healthy = bool(self._kafka_healthy())
            self._health_cache = (time.monotonic(), healthy)
        ready = self.state == "READY"
        return HealthStatus(healthy and ready, {"metastore": True, "kafka": healthy, "commandRunner": ready},
                            self.state)

    def command_statuses(self) -> Mapping[str, Mapping[str, Any]]:
        return dict(self.statuses)

    # -- shutdown

    def close(self) -> None:
        """Stop every query and the Kafka clients."""
        self.state = "TERMINATING"
        try:
            with self._lock:
                self.engine.close()
            self._on_close()
        finally:
            self.state = "TERMINATED"


def create_engine(settings: Any = None, *, config: Mapping[str, Any] | None = None) -> ServerEngine:
    """The live engine over the configured Kafka cluster, its command topic replayed, ready to serve.

    `settings` defaults to `labkit.config.settings()`; `config` adds ksqlDB server properties (for example
    `{"ksql.streams.auto.offset.reset": "earliest"}`) on top of ksqlDB's stock server configuration.
    """
    from labkit import config as labkit_config
    from labkit.engine.kafka_runtime import KafkaRuntime

    settings = settings or labkit_config.settings()
    properties = {**SERVER_DEFAULTS, "ksql.service.id": settings.ksql_service_id, **dict(config or {})}
    service_id = str(properties.get("ksql.service.id") or "default_")
    store = _connect(settings)
    try:
        brokers = store.broker_count()
        replicas = min(3, max(1, brokers))
        runtime = KafkaRuntime(settings, store=store, service_id=service_id, replicas=replicas)
    except BaseException:
        store.close()
        raise
    engine = KsqlEngine(store, properties, runtime=runtime)
    runtime.processing_log = engine.processing_log
    _send_processing_log_with(engine, runtime, service_id)

    def shutdown() -> None:
        try:
            runtime.close()
        finally:
            store.close()

    server = ServerEngine(engine, commands=CommandTopic(store, service_id, replicas=replicas),
                          kafka_cluster_id=store.cluster_id, kafka_healthy=store.reachable,
                          service_id=service_id, on_close=shutdown)
    try:
        server.start()
    except BaseException:
        shutdown()
        raise
    return server


def _connect(settings: Any, *, timeout: float = 120.0) -> Any:
    """The engine's topic store, connected once Kafka answers (a broker may be down or restarting)."""
    from labkit.engine.kafka_store import KafkaTopicStore
    from labkit.engine.topics import TopicStoreError

    deadline = time.monotonic() + timeout
    while True:
        try:
            store = KafkaTopicStore(settings, client_id="labkit-engine")
        except Exception as error:  # noqa: BLE001 - kafka-python raises several kinds while brokers are away
            if time.monotonic() > deadline:
                raise LabkitError(f"Kafka at {settings.bootstrap_servers} did not answer within {timeout:.0f} s: "
                                  f"{error}. Is the cluster up (`labkit status`)?") from None
            _log.warning("waiting for Kafka: %s", error)
            time.sleep(2)
            continue
        try:
            store.describe_cluster()
            return store
        except TopicStoreError as error:
            store.close()
            if time.monotonic() > deadline:
                raise LabkitError(f"{error}. Is the cluster up (`labkit status`)?") from None
            _log.warning("waiting for Kafka: %s", error)
            time.sleep(2)


def _send_processing_log_with(engine: KsqlEngine, runtime: Any, service_id: str) -> None:
    """Write processing-log entries through the runtime's producer (flushed with the batch that failed)."""
    if engine.processing_log.sink is None:
        return
    session = engine.session()
    topic = session.get("ksql.logging.processing.topic.name") or f"{service_id}ksql_processing_log"
    include_rows = session.flag("ksql.logging.processing.rows.include")
    import json

    def write(entry: Any) -> None:
        runtime.send(topic, None, json.dumps(entry.as_row(include_rows)).encode(), entry.time, ())

    engine.processing_log.sink = write
