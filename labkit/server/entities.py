"""ksqlDB 0.29's REST JSON shapes, in one place: built here by the server and engine, read here by the client.

Each builder returns a plain dict with the keys in the order ksqlDB's Jackson mapper writes them (see
io.confluent.ksql.rest.entity.* at tag v0.29.0). `dumps` writes JSON the way ksqlDB does (compact, UTF-8,
decimals as plain numbers, NaN/Infinity as strings).

Example:
    >>> current_status("CREATE STREAM S (ID INT) WITH (...);", "stream/`S`/create", "Stream created",
    ...                command_sequence_number=2)["commandStatus"]
    {'status': 'SUCCESS', 'message': 'Stream created', 'queryId': None}
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

__all__ = [
    # content types and error codes
    "DELIMITED", "JSON", "KSQL_V1_JSON",
    "BAD_REQUEST", "BAD_STATEMENT", "QUERY_ENDPOINT", "HTTP2_ONLY", "NOT_FOUND", "PAYLOAD_TOO_LARGE",
    "SERVER_ERROR", "status_for",
    # errors
    "generic_error", "statement_error", "ErrorMessage", "read_error",
    # /ksql entities
    "warning", "command_status", "current_status", "warning_entity", "source_info", "streams_list",
    "tables_list", "running_query", "queries_list", "property_entry", "properties_list", "topic_info",
    "kafka_topics", "topic_info_extended", "kafka_topics_extended", "schema_info", "field_info",
    "source_description", "source_description_entity", "source_descriptions", "query_description",
    "query_description_entity", "query_descriptions", "terminate_query", "simple_function_info",
    "function_names", "argument_info", "function_info", "describe_function", "type_list", "variables_list",
    "execution_plan", "topic_description", "entity_type",
    # streaming shapes
    "query_header", "legacy_schema", "streamed_header", "streamed_row", "streamed_final", "streamed_error",
    "insert_ack", "insert_error",
    # other endpoints
    "server_info", "health_check", "dumps",
]

DELIMITED = "application/vnd.ksqlapi.delimited.v1"
JSON = "application/json"
KSQL_V1_JSON = "application/vnd.ksql.v1+json"

BAD_REQUEST = 40000
BAD_STATEMENT = 40001
QUERY_ENDPOINT = 40002
HTTP2_ONLY = 40004
NOT_FOUND = 40400
PAYLOAD_TOO_LARGE = 41300
SERVER_ERROR = 50000


def status_for(error_code: int) -> int:
    """The HTTP status ksqlDB pairs with an error code (code // 100), or 500 for a code out of range."""
    status = error_code // 100
    return status if 400 <= status <= 599 else 500


# ---------------------------------------------------------------------------------------------- errors

def generic_error(error_code: int, message: str) -> dict[str, Any]:
    """KsqlErrorMessage: `{"@type":"generic_error","error_code":..,"message":..}`."""
    return {"@type": "generic_error", "error_code": error_code, "message": message}


def statement_error(error_code: int, message: str, statement_text: str,
                    entities: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """KsqlStatementErrorMessage: a generic error plus `statementText` and the `entities` produced so far."""
    return {"@type": "statement_error", "error_code": error_code, "message": message,
            "statementText": statement_text, "entities": [dict(e) for e in entities]}


@dataclass(frozen=True)
class ErrorMessage:
    """An error envelope read back from a response body."""

    error_code: int
    message: str
    error_type: str = "generic_error"
    statement_text: str | None = None
    entities: list = field(default_factory=list)


def read_error(body: Any) -> ErrorMessage | None:
    """The error in a parsed response body (either envelope, or an insert error), or None if it is not one."""
    if not isinstance(body, Mapping) or "error_code" not in body or "message" not in body:
        return None
    code = body["error_code"]
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    entities = body.get("entities") or []
    return ErrorMessage(code, str(body["message"]), str(body.get("@type", "generic_error")),
                        body.get("statementText"), list(entities) if isinstance(entities, list) else [])


# ---------------------------------------------------------------------------------------------- /ksql

def _entity(kind: str, statement_text: str, fields: Mapping[str, Any],
            warnings: Iterable[Mapping[str, Any] | str] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"@type": kind, "statementText": statement_text}
    body.update(fields)
    body["warnings"] = [warning(w) if isinstance(w, str) else dict(w) for w in warnings]
    return body


def entity_type(entity: Mapping[str, Any]) -> str:
    """The `@type` of an entity ("currentStatus", "streams", ...), or "" if it has none."""
    return str(entity.get("@type", ""))


def warning(message: str) -> dict[str, Any]:
    """KsqlWarning: `{"message": ...}`."""
    return {"message": message}


def command_status(status: str, message: str, query_id: str | None = None) -> dict[str, Any]:
    """CommandStatus (status ∈ QUEUED, PARSING, EXECUTING, SUCCESS, ERROR, TERMINATED); also /status/<id>."""
    return {"status": status, "message": message, "queryId": query_id}


def current_status(statement_text: str, command_id: str, message: str, *, status: str = "SUCCESS",
                   query_id: str | None = None, command_sequence_number: int = -1,
                   warnings: Iterable[Mapping[str, Any] | str] = ()) -> dict[str, Any]:
    """CommandStatusEntity (`@type` currentStatus): CREATE/DROP/CSAS/CTAS/INSERT…SELECT/TERMINATE/…."""
    return _entity("currentStatus", statement_text, {
        "commandId": command_id,
        "commandStatus": command_status(status, message, query_id),
        "commandSequenceNumber": command_sequence_number,
    }, warnings)


def warning_entity(statement_text: str, message: str) -> dict[str, Any]:
    """WarningEntity, e.g. CREATE … IF NOT EXISTS on an existing name."""
    return _entity("warning_entity", statement_text, {"message": message})


def source_info(name: str, topic: str, key_format: str, value_format: str, *, is_windowed: bool = False,
                kind: str = "STREAM") -> dict[str, Any]:
    """SourceInfo.Stream / SourceInfo.Table: one element of `streams` / `tables` (kind STREAM or TABLE)."""
    return {"type": kind, "name": name, "topic": topic, "keyFormat": key_format, "valueFormat": value_format,
            "isWindowed": is_windowed}


def streams_list(statement_text: str, streams: Iterable[Mapping[str, Any]],
                 warnings: Iterable[Mapping[str, Any] | str] = ()) -> dict[str, Any]:
    """StreamsList (SHOW STREAMS)."""
    return _entity("streams", statement_text, {"streams": [dict(s) for s in streams]}, warnings)


def tables_list(statement_text: str, tables: Iterable[Mapping[str, Any]],
                warnings: Iterable[Mapping[str, Any] | str] = ()) -> dict[str, Any]:
    """TablesList (SHOW TABLES)."""
    return _entity("tables", statement_text, {"tables": [dict(t) for t in tables]}, warnings)


def running_query(query_string: str, sinks: Sequence[str], sink_kafka_topics: Sequence[str], query_id: str,
                  *, query_type: str = "PERSISTENT", state: str = "RUNNING",
                  status_count: Mapping[str, int] | None = None) -> dict[str, Any]:
    """RunningQuery: one element of `queries`, `readQueries`, `writeQueries` (query_type PERSISTENT or PUSH)."""
    return {"queryString": query_string, "sinks": list(sinks), "sinkKafkaTopics": list(sink_kafka_topics),
            "id": query_id, "statusCount": dict(status_count) if status_count is not None else {state: 1},
            "queryType": query_type, "state": state}


def queries_list(statement_text: str, queries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Queries (SHOW QUERIES), including running push queries."""
    return _entity("queries", statement_text, {"queries": [dict(q) for q in queries]})


def property_entry(name: str, value: Any, *, scope: str = "KSQL", editable: bool = False,
                   level: str = "SERVER") -> dict[str, Any]:
    """PropertiesList.Property: `value` is always written as a string."""
    return {"name": name, "scope": scope, "value": None if value is None else str(value),
            "editable": editable, "level": level}


def properties_list(statement_text: str, properties: Iterable[Mapping[str, Any]],
                    overwritten: Iterable[str] = (), defaults: Iterable[str] = ()) -> dict[str, Any]:
    """PropertiesList (SHOW PROPERTIES): `properties` is a list, not a map."""
    return _entity("properties", statement_text, {
        "properties": [dict(p) for p in properties],
        "overwrittenProperties": list(overwritten), "defaultProperties": list(defaults)})


def topic_info(name: str, replica_info: Sequence[int]) -> dict[str, Any]:
    """KafkaTopicInfo: one replica count per partition."""
    return {"name": name, "replicaInfo": list(replica_info)}


def kafka_topics(statement_text: str, topics: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """KafkaTopicsList (SHOW TOPICS)."""
    return _entity("kafka_topics", statement_text, {"topics": [dict(t) for t in topics]})


def topic_info_extended(name: str, replica_info: Sequence[int], consumer_count: int,
                        consumer_group_count: int) -> dict[str, Any]:
    """KafkaTopicInfoExtended (SHOW TOPICS EXTENDED)."""
    return {"name": name, "replicaInfo": list(replica_info), "consumerCount": consumer_count,
            "consumerGroupCount": consumer_group_count}


def kafka_topics_extended(statement_text: str, topics: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """KafkaTopicsListExtended (SHOW TOPICS EXTENDED)."""
    return _entity("kafka_topics_extended", statement_text, {"topics": [dict(t) for t in topics]})


def schema_info(type_name: str, *, fields: Sequence[Mapping[str, Any]] | None = None,
                member_schema: Mapping[str, Any] | None = None,
                parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """SchemaInfo: STRUCT lists `fields`, ARRAY/MAP put the element schema in `memberSchema`, DECIMAL adds
    `parameters` ({"precision":p,"scale":s}; omitted when empty)."""
    info: dict[str, Any] = {"type": type_name, "fields": None if fields is None else [dict(f) for f in fields],
                            "memberSchema": None if member_schema is None else dict(member_schema)}
    if parameters:
        info["parameters"] = dict(parameters)
    return info


def field_info(name: str, schema: Mapping[str, Any], column_type: str | None = None) -> dict[str, Any]:
    """FieldInfo: `type` appears only for KEY (or HEADER) columns."""
    info: dict[str, Any] = {"name": name, "schema": dict(schema)}
    if column_type is not None:
        info["type"] = column_type
    return info


def source_description(name: str, *, kind: str, fields: Sequence[Mapping[str, Any]], topic: str,
                       key_format: str, value_format: str, statement: str, window_type: str | None = None,
                       read_queries: Sequence[Mapping[str, Any]] = (),
                       write_queries: Sequence[Mapping[str, Any]] = (), timestamp: str = "",
                       statistics: str = "", error_stats: str = "", extended: bool = False,
                       partitions: int = 1, replication: int = 1,
                       source_constraints: Sequence[str] = ()) -> dict[str, Any]:
    """SourceDescription (the object inside a sourceDescription entity); kind is STREAM or TABLE."""
    return {"name": name, "windowType": window_type, "readQueries": [dict(q) for q in read_queries],
            "writeQueries": [dict(q) for q in write_queries], "fields": [dict(f) for f in fields],
            "type": kind, "timestamp": timestamp, "statistics": statistics, "errorStats": error_stats,
            "extended": extended, "keyFormat": key_format, "valueFormat": value_format, "topic": topic,
            "partitions": partitions, "replication": replication, "statement": statement,
            "queryOffsetSummaries": [], "sourceConstraints": list(source_constraints),
            "clusterStatistics": [], "clusterErrorStats": []}


def source_description_entity(statement_text: str, description: Mapping[str, Any],
                              warnings: Iterable[Mapping[str, Any] | str] = ()) -> dict[str, Any]:
    """SourceDescriptionEntity (DESCRIBE x [EXTENDED])."""
    return _entity("sourceDescription", statement_text, {"sourceDescription": dict(description)}, warnings)


def source_descriptions(statement_text: str, descriptions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """SourceDescriptionList (SHOW STREAMS EXTENDED, DESCRIBE STREAMS)."""
    return _entity("source_descriptions", statement_text,
                   {"sourceDescriptions": [dict(d) for d in descriptions]})


def query_description(query_id: str, statement_text: str, *, fields: Sequence[Mapping[str, Any]],
                      sources: Sequence[str], sinks: Sequence[str], topology: str = "",
                      execution_plan: str = "", window_type: str | None = None,
                      overridden_properties: Mapping[str, Any] | None = None,
                      host_status: Mapping[str, str] | None = None, query_type: str = "PERSISTENT",
                      query_errors: Sequence[Mapping[str, Any]] = (), consumer_group_id: str = "",
                      state: str = "RUNNING") -> dict[str, Any]:
    """QueryDescription (EXPLAIN): `host_status` maps "host:port" to a state."""
    return {"id": query_id, "statementText": statement_text, "windowType": window_type,
            "fields": [dict(f) for f in fields], "sources": list(sources), "sinks": list(sinks),
            "topology": topology, "executionPlan": execution_plan,
            "overriddenProperties": dict(overridden_properties or {}),
            "ksqlHostQueryStatus": dict(host_status or {}), "queryType": query_type,
            "queryErrors": [dict(e) for e in query_errors], "tasksMetadata": [],
            "consumerGroupId": consumer_group_id, "state": state}


def query_description_entity(statement_text: str, description: Mapping[str, Any]) -> dict[str, Any]:
    """QueryDescriptionEntity (EXPLAIN <query id | statement>)."""
    return _entity("queryDescription", statement_text, {"queryDescription": dict(description)})


def query_descriptions(statement_text: str, descriptions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """QueryDescriptionList (SHOW QUERIES EXTENDED)."""
    return _entity("query_descriptions", statement_text,
                   {"queryDescriptions": [dict(d) for d in descriptions]})


def terminate_query(statement_text: str, query_id: str, was_terminated: bool = True) -> dict[str, Any]:
    """TerminateQueryEntity: TERMINATE of a *push* query id (persistent ones answer currentStatus)."""
    return _entity("terminate_query", statement_text, {"queryId": query_id, "wasTerminated": was_terminated})


def simple_function_info(name: str, function_type: str = "SCALAR", category: str = "") -> dict[str, Any]:
    """SimpleFunctionInfo: one element of SHOW FUNCTIONS (type SCALAR, AGGREGATE or TABLE)."""
    return {"name": name, "type": function_type, "category": category}


def function_names(statement_text: str, functions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """FunctionNameList (SHOW FUNCTIONS)."""
    return _entity("function_names", statement_text, {"functions": [dict(f) for f in functions]})


def argument_info(name: str, type_name: str, description: str = "", is_variadic: bool = False) -> dict[str, Any]:
    """ArgumentInfo of a function variant."""
    return {"name": name, "type": type_name, "description": description, "isVariadic": is_variadic}


def function_info(arguments: Sequence[Mapping[str, Any]], return_type: str,
                  description: str = "") -> dict[str, Any]:
    """FunctionInfo: one variant of a function (argumentTypes is derived from the arguments)."""
    return {"arguments": [dict(a) for a in arguments], "returnType": return_type, "description": description,
            "argumentTypes": [a["type"] for a in arguments]}


def describe_function(statement_text: str, name: str, *, description: str,
                      functions: Iterable[Mapping[str, Any]], function_type: str = "SCALAR",
                      author: str = "Confluent", version: str = "", path: str = "internal") -> dict[str, Any]:
    """FunctionDescriptionList (DESCRIBE FUNCTION x)."""
    return _entity("describe_function", statement_text, {
        "name": name, "description": description, "author": author, "version": version, "path": path,
        "functions": [dict(f) for f in functions], "type": function_type})


def type_list(statement_text: str, types: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """TypeList (SHOW TYPES): custom type name → schema_info."""
    return _entity("type_list", statement_text, {"types": {k: dict(v) for k, v in types.items()}})


def variables_list(statement_text: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """VariablesList (SHOW VARIABLES)."""
    return _entity("variables", statement_text,
                   {"variables": [{"name": k, "value": str(v)} for k, v in variables.items()]})


def execution_plan(statement_text: str, plan: str) -> dict[str, Any]:
    """ExecutionPlan entity (warnings come before the plan in ksqlDB's output)."""
    return {"@type": "executionPlan", "statementText": statement_text, "warnings": [], "executionPlan": plan}


def topic_description(statement_text: str, name: str, kafka_topic: str, value_format: str,
                      schema_string: str | None = None) -> dict[str, Any]:
    """TopicDescription entity."""
    return {"@type": "topicDescription", "statementText": statement_text, "name": name,
            "format": value_format, "schemaString": schema_string, "warnings": [], "kafkaTopic": kafka_topic}


# ---------------------------------------------------------------------------------------------- streaming

def query_header(query_id: str, column_names: Sequence[str], column_types: Sequence[str]) -> dict[str, Any]:
    """QueryResponseMetadata: the first line of /query-stream."""
    return {"queryId": query_id, "columnNames": list(column_names), "columnTypes": list(column_types)}


def legacy_schema(column_names: Sequence[str], column_types: Sequence[str],
                  key_columns: Iterable[str] = ()) -> str:
    """The legacy header's schema string: `` `ID` STRING KEY, `COUNT` BIGINT `` (keys marked for pull only)."""
    keys = set(key_columns)
    return ", ".join(f"`{name.replace('`', '``')}` {kind}" + (" KEY" if name in keys else "")
                     for name, kind in zip(column_names, column_types))


def streamed_header(query_id: str, schema: str) -> dict[str, Any]:
    """StreamedRow header of the legacy /query array."""
    return {"header": {"queryId": query_id, "schema": schema}}


def streamed_row(columns: Sequence[Any], *, tombstone: bool = False) -> dict[str, Any]:
    """StreamedRow data row of the legacy /query array (tombstone: a delete on a table push query)."""
    row: dict[str, Any] = {"columns": list(columns)}
    if tombstone:
        row["tombstone"] = True
    return {"row": row}


def streamed_final(message: str) -> dict[str, Any]:
    """StreamedRow final message: "Limit Reached" or "Query Completed"."""
    return {"finalMessage": message}


def streamed_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """StreamedRow error: an error envelope written after the header."""
    return {"errorMessage": dict(error)}


def insert_ack(seq: int) -> dict[str, Any]:
    """InsertAck: `{"seq":n,"status":"ok"}`."""
    return {"seq": seq, "status": "ok"}


def insert_error(seq: int, error_code: int, message: str) -> dict[str, Any]:
    """InsertError: ends an inserts stream; clients should key off `status`."""
    return {"@type": "InsertError", "error_code": error_code, "message": message, "status": "error", "seq": seq}


# ---------------------------------------------------------------------------------------------- others

def server_info(version: str, kafka_cluster_id: str, ksql_service_id: str, server_status: str) -> dict[str, Any]:
    """GET /info body."""
    return {"KsqlServerInfo": {"version": version, "kafkaClusterId": kafka_cluster_id,
                               "ksqlServiceId": ksql_service_id, "serverStatus": server_status}}


def health_check(is_healthy: bool, details: Mapping[str, bool], server_state: str | None) -> dict[str, Any]:
    """GET /healthcheck body."""
    return {"isHealthy": is_healthy, "details": {k: {"isHealthy": bool(v)} for k, v in details.items()},
            "serverState": server_state}


# ---------------------------------------------------------------------------------------------- JSON

def dumps(value: Any) -> str:
    """JSON as ksqlDB writes it: compact, non-ASCII kept, Decimal plain, NaN/±Infinity as strings."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return "".join(_encode(value))


def _encode(value: Any) -> Iterable[str]:
    if isinstance(value, Decimal):
        yield format(value, "f") if value.is_finite() else json.dumps("NaN" if value.is_nan() else str(value))
    elif isinstance(value, float) and not math.isfinite(value):
        yield '"NaN"' if math.isnan(value) else ('"Infinity"' if value > 0 else '"-Infinity"')
    elif isinstance(value, Mapping):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + json.dumps(str(key), ensure_ascii=False) + ":"
            yield from _encode(item)
        yield "}"
    elif isinstance(value, (list, tuple)):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _encode(item)
        yield "]"
    else:
        yield json.dumps(value, ensure_ascii=False)
