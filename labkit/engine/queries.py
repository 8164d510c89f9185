"""CREATE STREAM/TABLE ... AS SELECT, INSERT INTO ... SELECT and TERMINATE: persistent queries.

A persistent query is analysed and planned, its sink (topic, formats, TIMESTAMP column) is resolved as
ksqlDB's Analyzer and LogicalPlanner resolve it (inheriting the source's formats and partition count),
the sink source is registered in the catalog, and the steps are composed into a `PersistentQuery` that
the runtime starts at the offsets `auto.offset.reset` says.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.engine import responses
from labkit.engine.analyzer import Analysis, analyze
from labkit.engine.catalog import DataSource, QueryInfo
from labkit.engine.ddl import check_formats, check_timestamp_column, ensure_topic
from labkit.engine.errors import EngineError, UnknownSourceError
from labkit.engine.formats import FormatSpec, KeyFormat, ValueFormat
from labkit.engine.planner import InternalTopic, QueryPlan, plan_query, validate_key_present
from labkit.engine.properties import CREATE_AS, INSERT_INTO, WithClause, check_format_name, format_spec
from labkit.engine.runtime import PersistentQuery
from labkit.engine.schema import LogicalSchema
from labkit.engine.session import Session, offset_reset
from labkit.engine.steps import SinkStep
from labkit.sql import ast

if TYPE_CHECKING:
    from labkit.engine.engine import KsqlEngine

__all__ = ["create_as_select", "insert_into", "terminate", "pause_or_resume", "start_query", "stop_query",
           "names_push_query", "created_query_id"]

_INHERITABLE = {"DELIMITED": {"delimiter"}}


@dataclass
class Sink:
    """Where a persistent query writes."""

    name: str
    topic: str
    key_format: KeyFormat
    value_format: ValueFormat
    timestamp_column: str | None
    timestamp_format: str | None
    partitions: int | None
    replicas: int | None


def _inherit(name: str, explicit: dict[str, str], source: FormatSpec) -> FormatSpec:
    props: dict[str, str] = {}
    if name == source.name:
        props.update({k: v for k, v in source.properties if k in _INHERITABLE.get(name, set())})
    props.update(explicit)
    return format_spec(name, props)


def _sink_formats(analysis: Analysis, props: WithClause, session: Session) -> tuple[KeyFormat, ValueFormat]:
    """ksqlDB's Analyzer.analyzeNonStdOutSink: explicit formats, else the source's."""
    source = analysis.source
    partition_by_null = analysis.partition_by is not None and any(
        isinstance(e, ast.NullLiteral) for e in analysis.partition_by)
    explicit_key = props.key_format_name()
    if partition_by_null:
        if explicit_key is not None and explicit_key.upper() != "NONE":
            raise EngineError("Key format specified for stream without key columns.")
        key_name = "NONE"
    else:
        key_name = check_format_name(explicit_key) if explicit_key else source.key_format.name
    value_name = props.value_format_name()
    value_name = check_format_name(value_name) if value_name else source.value_format.name
    key_spec = _inherit(key_name, props.key_format_properties(), source.key_format.format)
    value_spec = _inherit(value_name, props.value_format_properties(), source.value_format.format)
    return KeyFormat(key_spec, source.key_format.window), ValueFormat(value_spec, props.wrap_single_value())


def internal_topic_prefix(session: Session, query_id: str) -> str:
    """`_confluent-ksql-<service id>query_<query id>-`: how ksqlDB prefixes a query's internal topics."""
    return f"_confluent-ksql-{session.get('ksql.service.id') or 'default_'}query_{query_id}-"


def topic_offset_resets(plan: QueryPlan, session: Session) -> tuple[str, dict[str, str]]:
    """ksqlDB's offsets: `auto.offset.reset` if set, else streams from latest and tables from earliest; the
    table side of a join always from earliest. Returns the default and the per-topic overrides."""
    configured = offset_reset(session)
    resets: dict[str, str] = {}
    for aliased in plan.analysis.sources:
        topic = aliased.source.topic
        if topic in getattr(plan, "forced_earliest", set()):
            resets[topic] = "earliest"
        else:
            resets[topic] = configured or ("earliest" if aliased.source.is_table else "latest")
    default = configured or ("earliest" if plan.analysis.source.is_table else "latest")
    return default, resets


def stop_query(engine: "KsqlEngine", query_id: str, session: Session) -> list[str]:
    """Stop a persistent query for good and delete its internal topics; returns the topics deleted.

    ksqlDB's QueryCleanupService deletes a terminated query's repartition and changelog topics
    (`_confluent-ksql-<service id>query_<query id>-...`) once the query has stopped. A replaying engine only
    forgets the ones it was about to create (the original TERMINATE deleted them).
    """
    engine.catalog.remove_query(query_id)
    engine.runtime.stop(query_id)
    prefix = internal_topic_prefix(session, query_id)
    doomed = [name for name in engine.store.list_topics()
              if name.startswith(prefix) and name.endswith(("-changelog", "-repartition"))]
    for name in doomed:
        engine.store.delete_topic(name)
    return doomed


def create_internal_topics(engine: "KsqlEngine", plan: QueryPlan, query_id: str, session: Session,
                           partitions: int | None) -> dict[str, tuple[str, str]]:
    """Name (and create) the repartition and changelog topics of a query, as ksqlDB does."""
    prefix = internal_topic_prefix(session, query_id)
    created: dict[str, tuple[str, str]] = {}
    for topic in plan.internal_topics:
        name = prefix + topic.name
        topic.topic = name
        if name in created:
            continue
        created[name] = (topic.key_format, topic.value_format)
        if engine.store.describe_topic(name) is None:
            config = {"cleanup.policy": "delete" if topic.kind == "repartition" else "compact"}
            engine.store.create_topic(name, partitions=partitions or 1, config=config)
    return created


def start_query(engine: "KsqlEngine", query_id: str, sql: str, plan: QueryPlan, sink: Sink,
                sink_schema: LogicalSchema, session: Session, kind: str) -> QueryInfo:
    """Compose the plan with its sink into a PersistentQuery and start it."""
    from labkit.engine.pull import MaterializeStep, materialization_of
    root = plan.root
    if plan.is_table and plan.analysis.is_join and kind == "PERSISTENT":
        root = MaterializeStep(root)  # ksqlDB materializes a table join's projection for pull queries
        plan.internal_topics.append(InternalTopic(f"{root.store}-changelog", sink.key_format.name,
                                                  sink.value_format.name))
    sink_step = SinkStep(root, sink.topic, sink_schema, sink.key_format, sink.value_format,
                         sink.timestamp_column, sink.timestamp_format)
    reset, resets = topic_offset_resets(plan, session)
    source_topic = engine.store.describe_topic(plan.analysis.source.topic)
    internal = create_internal_topics(engine, plan, query_id, session,
                                      source_topic.partitions if source_topic else None)
    query = PersistentQuery.build(query_id, sql, sink_step, config=session.effective(),
                                  processing_log=engine.processing_log, emit=engine.runtime.emit,
                                  custom_types=engine.catalog.types, offset_reset=reset,
                                  wall_clock=engine.insert_clock)
    query.topic_offset_reset = resets
    if sink.key_format.window is not None:  # Kafka Streams' WindowedStreamPartitioner: by the key without window
        query.sink_window_bytes = 16 if sink.key_format.window.is_session else 8  # type: ignore[attr-defined]
    from labkit.engine.describe import step_tree
    from labkit.engine.topology import describe_topology
    query.execution_plan = step_tree(sink_step, plan.internal_topics)  # type: ignore[attr-defined]  # EXPLAIN
    query.topology = describe_topology(sink_step)  # type: ignore[attr-defined]  # EXPLAIN's Kafka Streams view
    query.materialization = materialization_of(plan, root) if kind == "PERSISTENT" else None  # type: ignore
    info = QueryInfo(query_id, sql, plan.source_names, sink.name, sink.topic, kind, offset_reset=reset,
                     internal_topics=internal)
    engine.catalog.add_query(info)
    engine.runtime.start(query)
    return info


def _partitions(engine: "KsqlEngine") -> Any:
    def partitions(topic: str) -> int | None:
        description = engine.store.describe_topic(topic)
        return description.partitions if description is not None else None
    return partitions


def _query_id(engine: "KsqlEngine", prefix: str, sink: str, sequence: int) -> str:
    counter = getattr(engine, "query_counter", None)  # ksqlDB's test harness numbers queries 0, 1, 2, ...
    if counter is not None:
        sequence = counter()
    return f"{prefix}_{sink.upper()}_{sequence}" if prefix != "INSERTQUERY" else f"INSERTQUERY_{sequence}"


def create_as_select(engine: "KsqlEngine", stmt: ast.CreateAsSelect, session: Session) -> dict[str, Any]:
    """CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS SELECT ..."""
    kind = "TABLE" if isinstance(stmt, ast.CreateTableAsSelect) else "STREAM"
    props = WithClause.parse(stmt.properties, CREATE_AS)
    catalog = engine.catalog
    analysis = analyze(stmt.query, catalog, persistent=True)
    source = analysis.source
    prefix = session.get("ksql.output.topic.name.prefix") or ""
    topic = props.get("KAFKA_TOPIC") or f"{prefix}{stmt.name}"
    key_format, value_format = _sink_formats(analysis, props, session)
    plan = plan_query(analysis, custom_types=catalog.types, sink_name=stmt.name, config=session.effective(),
                      topic_partitions=_partitions(engine))
    if plan.window is not None:
        key_format = KeyFormat(key_format.format, plan.window)
    schema = plan.schema
    timestamp = check_timestamp_column(schema, props.get("TIMESTAMP"), props.get("TIMESTAMP_FORMAT"))
    validate_key_present(plan, stmt.name)
    if key_format.name == "NONE" and schema.key and props.key_format_name() is None:
        key_format = KeyFormat(FormatSpec.of(session.get("ksql.persistence.default.format.key") or "KAFKA"),
                               key_format.window)
    existing = catalog.source(stmt.name)
    if existing is not None and not stmt.if_not_exists and not stmt.or_replace:
        raise EngineError(f"Cannot add {kind.lower()} '{stmt.name}': A {existing.kind.lower()} with the same name "
                          "already exists")
    result_kind = "TABLE" if plan.is_table else "STREAM"
    if kind == "STREAM" and result_kind == "TABLE":
        raise EngineError("Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS "
                          "SELECT statement instead.")
    if kind == "TABLE" and result_kind == "STREAM":
        raise EngineError("Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS "
                          "SELECT statement instead.")
    if existing is not None and existing.is_source:
        raise EngineError(f"Cannot insert into read-only {existing.kind.lower()}: {existing.name}")
    check_formats(schema, key_format, value_format, session.effective())
    if existing is not None and stmt.if_not_exists and not stmt.or_replace:
        return responses.warning(stmt.text, f"Cannot add {kind.lower()} `{stmt.name}`: A {existing.kind.lower()} "
                                            "with the same name already exists.")
    if kind == "TABLE" and props.get("RETENTION_MS") is not None:
        raise EngineError("Invalid config variable in the WITH clause: RETENTION_MS. Non-windowed tables do not "
                          "support retention.")
    source_topic = engine.store.describe_topic(source.topic)
    partitions = props.get("PARTITIONS") or (source_topic.partitions if source_topic else 1)
    replicas = props.get("REPLICAS") or (source_topic.replicas if source_topic else 1)
    if engine.store.describe_topic(topic) is None:
        engine.store.create_topic(topic, partitions=partitions, replicas=replicas,
                                  config={"cleanup.policy": "compact" if kind == "TABLE" else "delete"})
    else:
        ensure_topic(engine, topic, partitions, replicas, "", compacted=kind == "TABLE")
    if existing is not None and stmt.or_replace:
        old = catalog.creating_query(stmt.name)
        if old is not None:
            catalog.remove_query(old.query_id)
            engine.runtime.stop(old.query_id)
    sink = Sink(stmt.name, topic, key_format, value_format, timestamp, props.get("TIMESTAMP_FORMAT"),
                partitions, replicas)
    catalog.add_source(DataSource(stmt.name, kind, schema, topic, key_format, value_format, timestamp,
                                  props.get("TIMESTAMP_FORMAT"), False, stmt.text))
    sequence = engine.next_command()
    query_id = _query_id(engine, "CTAS" if kind == "TABLE" else "CSAS", stmt.name, sequence)
    if sequence in engine.compacted_queries:  # replay: terminated later in the command log, so only the DDL
        return responses.current_status(stmt.text, f"{kind.lower()}/`{stmt.name}`/create",
                                        f"Created query with ID {query_id}", query_id=query_id, sequence=sequence)
    start_query(engine, query_id, stmt.text, plan, sink, schema, session, "PERSISTENT")
    return responses.current_status(stmt.text, f"{kind.lower()}/`{stmt.name}`/create",
                                    f"Created query with ID {query_id}", query_id=query_id, sequence=sequence)


def _compatible(result: LogicalSchema, sink: LogicalSchema) -> bool:
    ours = [(c.name, c.type, c.is_key) for c in result.columns]
    theirs = [(c.name, c.type, c.is_key) for c in sink.columns if c.namespace != "HEADERS"]
    return ours == theirs


def insert_into(engine: "KsqlEngine", stmt: ast.InsertInto, session: Session) -> dict[str, Any]:
    """INSERT INTO target [WITH (QUERY_ID=...)] SELECT ..."""
    props = WithClause.parse(stmt.properties, INSERT_INTO)
    catalog = engine.catalog
    target = catalog.source(stmt.target)
    if target is None:
        raise UnknownSourceError(f"{stmt.target} does not exist.")
    if target.is_table:
        raise EngineError(f"INSERT INTO can only be used to insert into a stream. {target.name} is a table.")
    if target.schema.headers:
        raise EngineError(f"Cannot insert into {target.name} because it has header columns")
    analysis = analyze(stmt.query, catalog, persistent=True)
    plan = plan_query(analysis, custom_types=catalog.types, sink_name=target.name, target_schema=target.schema,
                      config=session.effective(), topic_partitions=_partitions(engine))
    validate_key_present(plan, target.name)
    if plan.is_table:
        raise EngineError(f"Incompatible data sink and query result. Data sink ({target.name}) type is KSTREAM but "
                          "select query result is KTABLE.")
    if not _compatible(plan.schema, target.schema):
        raise EngineError(f"Incompatible schema between results and sink.\nResult schema is {plan.schema}\n"
                          f"Sink schema is {target.schema}")
    if target.is_source:
        raise EngineError(f"Cannot insert into read-only {target.kind.lower()}: {target.name}")
    sequence = engine.next_command()
    query_id = str(props.get("QUERY_ID")).upper() if props.get("QUERY_ID") \
        else _query_id(engine, "INSERTQUERY", target.name, sequence)
    if query_id in catalog.queries:
        raise EngineError(f"Query ID '{query_id}' already exists.")
    sink = Sink(target.name, target.topic, target.key_format, target.value_format, target.timestamp_column,
                target.timestamp_format, None, None)
    start_query(engine, query_id, stmt.text, plan, sink, target.schema, session, "INSERT")
    return responses.current_status(stmt.text, f"stream/`{target.name}`/create",
                                    f"Created query with ID {query_id}", query_id=query_id, sequence=sequence)


def created_query_id(stmt: ast.Statement, sequence: int) -> str | None:
    """The id of the query a CREATE ... AS SELECT or INSERT INTO ... SELECT run as command `sequence` starts.

    Known without analysing the statement, so a replay can tell which queries a later TERMINATE ends.
    """
    if isinstance(stmt, ast.CreateAsSelect):
        prefix = "CTAS" if isinstance(stmt, ast.CreateTableAsSelect) else "CSAS"
        return f"{prefix}_{stmt.name.upper()}_{sequence}"
    if isinstance(stmt, ast.InsertInto):
        try:
            explicit = WithClause.parse(stmt.properties, INSERT_INTO).get("QUERY_ID")
        except EngineError:
            return None
        return str(explicit).upper() if explicit else f"INSERTQUERY_{sequence}"
    return None


def _query_ids(engine: "KsqlEngine", query_id: str | None) -> list[str]:
    """The persistent query named (case-insensitively), or all of them for ALL."""
    if query_id is None:
        return list(engine.catalog.queries)
    match = next((q for q in engine.catalog.queries if q.upper() == query_id.upper()), None)
    if match is None:
        raise EngineError(f"Unknown queryId: {query_id}")
    return [match]


TRANSIENT_ID_MARK = "transient"
"""ksqlDB's validator lets a TERMINATE through unchecked when the id contains this (any case): a push query id."""


def names_push_query(engine: "KsqlEngine", stmt: ast.TerminateQuery) -> bool:
    """True when TERMINATE names a query id that is not a persistent query (ksqlDB's TerminateQueryExecutor then
    closes a push query of this server instead of writing the statement to the command topic)."""
    if stmt.query_id is None:
        return False
    wanted = stmt.query_id.upper()
    return not any(q.upper() == wanted for q in engine.catalog.queries)


def _terminate_push_query(engine: "KsqlEngine", stmt: ast.TerminateQuery) -> dict[str, Any]:
    """TERMINATE <push query id>: close the running push (or stream pull) query; its HTTP stream ends.

    As ksqlDB 0.29: an id without `transient` in it is "Unknown queryId" (the validator's check); a transient
    id that names no running query fails with "Failed to terminate query with query ID: '<id>'" (40000).
    """
    from labkit.engine.transient import running_transient_queries
    from labkit.errors import KsqlError

    query_id = stmt.query_id or ""
    if TRANSIENT_ID_MARK not in query_id.lower():
        raise EngineError(f"Unknown queryId: {query_id}")
    if getattr(engine, "validating", False):  # the sandbox only checks the statement
        return responses.rest().terminate_query(stmt.text, query_id, True)
    match = next((q for q in running_transient_queries(engine) if q.query_id.upper() == query_id.upper()), None)
    if match is None:
        raise KsqlError(40000, f"Failed to terminate query with query ID: '{query_id}'")
    match.close()
    return responses.rest().terminate_query(stmt.text, query_id, True)


def terminate(engine: "KsqlEngine", stmt: ast.TerminateQuery, session: Session) -> dict[str, Any]:
    """TERMINATE query_id | ALL (ALL ends the persistent queries only: push queries keep running, as in 0.29)."""
    if names_push_query(engine, stmt):
        return _terminate_push_query(engine, stmt)
    for query_id in _query_ids(engine, stmt.query_id):
        stop_query(engine, query_id, session)
    sequence = engine.next_command()
    return responses.current_status(stmt.text, f"terminate/{stmt.query_id or 'ALL'}/execute", "Query terminated.",
                                    sequence=sequence)


def pause_or_resume(engine: "KsqlEngine", stmt: ast.PauseQuery | ast.ResumeQuery, session: Session) -> dict[str, Any]:
    """PAUSE / RESUME query_id | ALL: a paused query keeps its position and processes nothing."""
    pause = isinstance(stmt, ast.PauseQuery)
    for query_id in _query_ids(engine, stmt.query_id):
        engine.catalog.queries[query_id].state = "PAUSED" if pause else "RUNNING"
        running = engine.runtime.queries.get(query_id)
        if running is not None and running.status in ("RUNNING", "PAUSED"):
            running.status = "PAUSED" if pause else "RUNNING"
    sequence = engine.next_command()
    word = "pause" if pause else "resume"
    return responses.current_status(stmt.text, f"{word}/{stmt.query_id or 'ALL'}/execute",
                                    "Query paused." if pause else "Query resumed.", sequence=sequence)


def start_source_table_query(engine: "KsqlEngine", source: DataSource, sequence: int, session: Session) -> str:
    """CREATE SOURCE TABLE: a hidden `CST_<NAME>_<n>` query materializes the table for pull queries."""
    from labkit.engine.pull import source_table_materialization
    from labkit.engine.steps import SourceStep
    query_id = _query_id(engine, "CST", source.name, sequence)
    step = SourceStep(source, source.name)
    query = PersistentQuery.build(query_id, source.sql, step, config=session.effective(),
                                  processing_log=engine.processing_log, emit=engine.runtime.emit,
                                  custom_types=engine.catalog.types, offset_reset="earliest",
                                  downstream=lambda row: None, wall_clock=engine.insert_clock)
    query.materialization = source_table_materialization(  # type: ignore[attr-defined]
        source.schema, step.store_name or "KsqlTopic-Reduce", step.schema)
    from labkit.engine.topology import describe_topology
    query.topology = describe_topology(step)  # type: ignore[attr-defined]
    prefix = internal_topic_prefix(session, query_id)
    changelog = f"{prefix}{step.store_name}-changelog"
    if engine.store.describe_topic(changelog) is None:
        description = engine.store.describe_topic(source.topic)
        engine.store.create_topic(changelog, partitions=description.partitions if description else 1,
                                  config={"cleanup.policy": "compact"})
    info = QueryInfo(query_id, source.sql, (source.name,), source.name, source.topic, "PERSISTENT",
                     offset_reset="earliest",
                     internal_topics={changelog: (source.key_format.name, source.value_format.name)})
    engine.catalog.add_query(info)
    engine.runtime.start(query)
    return query_id
