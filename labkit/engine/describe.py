"""SHOW / LIST / DESCRIBE / EXPLAIN: read-only statements answered from the catalog and the store."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.engine import responses
from labkit.engine.catalog import DataSource, QueryInfo
from labkit.engine.errors import EngineError
from labkit.engine.functions import function_names, get_function
from labkit.engine.session import DEFAULTS, Session
from labkit.engine.topics import HIDDEN_TOPIC_PREFIXES
from labkit.engine.types import schema_entity
from labkit.sql import ast

if TYPE_CHECKING:
    from labkit.engine.engine import KsqlEngine

__all__ = ["query_status", "step_tree", "list_streams", "list_tables", "list_topics", "list_queries",
           "list_properties", "list_types", "list_variables", "list_functions", "describe_source", "describe_sources",
           "describe_function", "explain"]


def _info(source: DataSource) -> dict[str, Any]:
    return responses.rest().source_info(source.name, source.topic, source.key_format.name, source.value_format.name,
                                        is_windowed=source.is_windowed, kind=source.kind)


def query_status(engine: "KsqlEngine", query_id: str, paused: bool = False) -> str:
    """ksqlDB's KsqlQueryStatus of a query on this server: PAUSED, ERROR (its runtime failed) or RUNNING."""
    if paused:
        return "PAUSED"
    running = engine.runtime.queries.get(query_id)
    return "ERROR" if running is not None and running.status == "ERROR" else "RUNNING"


def _aggregate(status: str) -> str:
    """RunningQuery/QueryDescription `state` in 0.29: ERROR when a host reports ERROR, else RUNNING."""
    return "ERROR" if status == "ERROR" else "RUNNING"


def _running_query(engine: "KsqlEngine", info: QueryInfo) -> dict[str, Any]:
    """A RunningQuery of a persistent query: `statusCount` {status: 1} and its aggregate `state`."""
    status = query_status(engine, info.query_id, info.state == "PAUSED")
    return responses.rest().running_query(info.sql, [info.sink] if info.sink else [],
                                          [info.sink_topic] if info.sink_topic else [], info.query_id,
                                          state=_aggregate(status), status_count={status: 1})


def _description(engine: "KsqlEngine", source: DataSource, extended: bool) -> dict[str, Any]:
    topic = engine.store.describe_topic(source.topic)
    readers, writers = engine.catalog.readers_of(source.name), engine.catalog.writers_of(source.name)
    description = responses.source_description(
        source, extended=extended, read_queries=readers, write_queries=writers,
        partitions=topic.partitions if topic else 0, replication=topic.replicas if topic else 0)
    description["readQueries"] = [_running_query(engine, q) for q in readers]
    description["writeQueries"] = [_running_query(engine, q) for q in writers]
    return description


def _sources(engine: "KsqlEngine", kind: str) -> list[DataSource]:
    return sorted((s for s in engine.catalog.sources.values() if s.kind == kind), key=lambda s: s.name)


def list_streams(engine: "KsqlEngine", stmt: ast.ListStreams, session: Session) -> dict[str, Any]:
    if stmt.extended:
        return responses.rest().source_descriptions(stmt.text, [_description(engine, s, True)
                                                                for s in _sources(engine, "STREAM")])
    return responses.rest().streams_list(stmt.text, [_info(s) for s in _sources(engine, "STREAM")])


def list_tables(engine: "KsqlEngine", stmt: ast.ListTables, session: Session) -> dict[str, Any]:
    if stmt.extended:
        return responses.rest().source_descriptions(stmt.text, [_description(engine, s, True)
                                                                for s in _sources(engine, "TABLE")])
    return responses.rest().tables_list(stmt.text, [_info(s) for s in _sources(engine, "TABLE")])


def list_topics(engine: "KsqlEngine", stmt: ast.ListTopics, session: Session) -> dict[str, Any]:
    rest = responses.rest()
    topics = []
    for name in engine.store.list_topics():
        if not stmt.show_all and name.startswith(HIDDEN_TOPIC_PREFIXES):
            continue
        description = engine.store.describe_topic(name)
        if description is None:
            continue
        replicas = [description.replicas] * description.partitions
        if stmt.extended:
            consumers = sum(1 for q in engine.runtime.queries.values() if name in q.source_topics)
            topics.append(rest.topic_info_extended(name, replicas, consumers, consumers))
        else:
            topics.append(rest.topic_info(name, replicas))
    if stmt.extended:
        return rest.kafka_topics_extended(stmt.text, topics)
    return rest.kafka_topics(stmt.text, topics)


def list_queries(engine: "KsqlEngine", stmt: ast.ListQueries, session: Session) -> dict[str, Any]:
    from labkit.engine.transient import running_transient_queries
    rest = responses.rest()
    pushes = []
    for query in running_transient_queries(engine):
        status = query_status(engine, query.query_id)
        pushes.append(rest.running_query(query.sql, [], [], query.query_id, query_type="PUSH",
                                         state=_aggregate(status), status_count={status: 1}))
    return rest.queries_list(stmt.text, [_running_query(engine, q) for q in engine.catalog.queries.values()] + pushes)


def list_properties(engine: "KsqlEngine", stmt: ast.ListProperties, session: Session) -> dict[str, Any]:
    rest = responses.rest()
    merged = session.effective()
    entries = [rest.property_entry(name, str(value).lower() if isinstance(value, bool) else value,
                                   level="QUERY" if name in session.overrides else "SERVER")
               for name, value in sorted(merged.items()) if value is not None]
    return rest.properties_list(stmt.text, entries, overwritten=sorted(session.overrides),
                                defaults=sorted(n for n in DEFAULTS if n not in engine.config))


def list_types(engine: "KsqlEngine", stmt: ast.ListTypes, session: Session) -> dict[str, Any]:
    return responses.rest().type_list(stmt.text, {name: schema_entity(t)
                                                  for name, t in sorted(engine.catalog.types.items())})


def list_variables(engine: "KsqlEngine", stmt: ast.ListVariables, session: Session) -> dict[str, Any]:
    return responses.rest().variables_list(stmt.text, dict(session.variables))


def list_functions(engine: "KsqlEngine", stmt: ast.ListFunctions, session: Session) -> dict[str, Any]:
    rest = responses.rest()
    infos = []
    for name in function_names():
        function = get_function(name)
        infos.append(rest.simple_function_info(name, "SCALAR", function.category))
    return rest.function_names(stmt.text, infos)


def describe_source(engine: "KsqlEngine", stmt: ast.DescribeSource, session: Session) -> dict[str, Any]:
    source = engine.catalog.source(stmt.name)
    if source is None:
        raise EngineError(f"Could not find STREAM/TABLE '{stmt.name}' in the Metastore")
    return responses.rest().source_description_entity(stmt.text, _description(engine, source, stmt.extended))


def describe_sources(engine: "KsqlEngine", stmt: ast.DescribeStreams | ast.DescribeTables,
                     session: Session) -> dict[str, Any]:
    kind = "STREAM" if isinstance(stmt, ast.DescribeStreams) else "TABLE"
    return responses.rest().source_descriptions(stmt.text, [_description(engine, s, stmt.extended)
                                                            for s in _sources(engine, kind)])


def describe_function(engine: "KsqlEngine", stmt: ast.DescribeFunction, session: Session) -> dict[str, Any]:
    try:
        function = get_function(stmt.name)
    except Exception as error:  # noqa: BLE001 - FunctionResolutionError: unknown name
        raise EngineError(f"Can't find any functions with the name '{stmt.name}'") from error
    described = function.describe()
    rest = responses.rest()
    infos = [rest.function_info([rest.argument_info(a["name"], a["type"], a["description"], a["isVariadic"])
                                 for a in f["arguments"]], f["returnType"], f["description"])
             for f in described["functions"]]
    return rest.describe_function(stmt.text, described["name"], description=described["description"],
                                  author=described["author"], version=described["version"], path="internal",
                                  functions=infos, function_type="SCALAR")


def explain(engine: "KsqlEngine", stmt: ast.Explain, session: Session) -> dict[str, Any]:
    """EXPLAIN query_id, or EXPLAIN of a SELECT / CREATE ... AS SELECT / INSERT INTO ... SELECT (planned only)."""
    rest = responses.rest()
    group = f"_confluent-ksql-{session.get('ksql.service.id') or 'default_'}query_"
    if stmt.query_id is not None:
        info = next((q for q in engine.catalog.queries.values() if q.query_id.upper() == stmt.query_id.upper()), None)
        if info is None:
            raise EngineError(f"Query with id:{stmt.query_id} does not exist, use SHOW QUERIES to view the full set "
                              "of queries.")
        sink = engine.catalog.source(info.sink) if info.sink else None
        fields = responses.fields_of(sink.schema) if sink else []
        running = engine.runtime.queries.get(info.query_id)
        plan_text, topology = "", ""
        errors: list[dict[str, Any]] = []
        if running is not None:
            plan_text = getattr(running, "execution_plan", None) or _plan_text(running.handlers)
            topology = getattr(running, "topology", "")
            if running.status == "ERROR" and running.error is not None:  # ksqlDB's QueryError
                errors.append({"timestamp": getattr(running, "error_time_ms", 0), "errorMessage": str(running.error),
                               "type": "UNKNOWN"})
        description = rest.query_description(info.query_id, info.sql, fields=fields, sources=list(info.sources),
                                             sinks=[info.sink] if info.sink else [], execution_plan=plan_text,
                                             topology=topology, query_errors=errors,
                                             consumer_group_id=group + info.query_id,
                                             state=_aggregate(query_status(engine, info.query_id)))
        return rest.query_description_entity(stmt.text, description)
    inner = stmt.statement
    if isinstance(inner, ast.CreateAsSelect):
        query, sink_name = inner.query, inner.name
    elif isinstance(inner, ast.InsertInto):
        query, sink_name = inner.query, inner.target
    elif isinstance(inner, ast.Query):
        query, sink_name = inner, None
    else:
        raise EngineError("The provided statement does not run a ksql query")
    from labkit.engine.analyzer import analyze
    from labkit.engine.planner import plan_query

    analysis = analyze(query, engine.catalog, persistent=sink_name is not None)
    plan = plan_query(analysis, custom_types=engine.catalog.types, sink_name=sink_name, config=session.effective())
    fields = responses.fields_of(plan.schema) if sink_name else responses.fields_of(
        type(plan.schema)((), plan.schema.value))
    from labkit.engine.topology import describe_topology

    description = rest.query_description("", inner.text, fields=fields, sources=list(plan.source_names),
                                         sinks=[sink_name] if sink_name else [],
                                         execution_plan=_step_chain(plan.root, plan.internal_topics),
                                         topology=describe_topology(plan.root),
                                         query_type="PERSISTENT" if sink_name else "PUSH")
    return rest.query_description_entity(stmt.text, description)


def _step_chain(step: Any, internal: Any = ()) -> str:
    """The steps from `step` down to its sources, one per line and indented as a tree (joins have two inputs),
    as ksqlDB prints its execution plan; then the internal (repartition and changelog) topics."""
    lines: list[str] = []

    def visit(current: Any, depth: int) -> None:
        lines.append(f"{' ' * (2 * depth)} > [ {current.describe()} ]")
        for attribute in ("parent", "left", "right"):
            child = getattr(current, attribute, None)
            if child is not None and hasattr(child, "describe"):
                visit(child, depth + 1)
    visit(step, 0)
    for topic in internal:
        lines.append(f" Internal topic: {getattr(topic, 'topic', None) or topic.name}")
    return "\n".join(lines)


def _plan_text(handlers: dict[str, Any]) -> str:
    return "\n".join(f" > [ Source: {topic} ]" for topic in handlers)


def step_tree(step: Any, internal: Any = ()) -> str:
    """The execution plan text of a query's steps (EXPLAIN)."""
    return _step_chain(step, internal)
