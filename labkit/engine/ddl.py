"""CREATE STREAM/TABLE, DROP, CREATE/DROP TYPE and ALTER, with ksqlDB's checks and messages.

CREATE follows ksqlDB's order: WITH properties (prepare stage), default formats, format names, topic
existence (create it when PARTITIONS is given), columns, existing source, PRIMARY KEY, TIMESTAMP column,
and finally that the key and value formats can carry the columns. DROP refuses sources other sources or
INSERT queries depend on, and terminates the query that populated a CREATE ... AS SELECT sink.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from labkit.engine import responses
from labkit.engine.catalog import DataSource
from labkit.engine.errors import EngineError
from labkit.engine.formats import FormatSpec, KeyFormat, RecordSerde, ValueFormat
from labkit.engine.properties import CREATE, WithClause, check_format_name, format_spec
from labkit.engine.schema import Column, LogicalSchema, UnknownTypeError, is_system_column, sql_type
from labkit.engine.serde import SchemaRegistryNotConfiguredError, SerdeError
from labkit.engine.session import Session
from labkit.engine.types import SqlArray, SqlMap, SqlStruct, SqlType
from labkit.sql import ast, parse_columns

if TYPE_CHECKING:
    from labkit.engine.engine import KsqlEngine

__all__ = ["create_source", "drop_source", "create_type", "drop_type", "alter_source", "check_formats",
           "check_timestamp_column", "ensure_topic", "setup_processing_log", "persistence_text"]


# --------------------------------------------------------------------------------------------- helpers


def _contains_map(t: SqlType) -> bool:
    if isinstance(t, SqlMap):
        return True
    if isinstance(t, SqlArray):
        return _contains_map(t.item)
    if isinstance(t, SqlStruct):
        return any(_contains_map(f.type) for f in t.fields)
    return False


def persistence_text(columns: Sequence[Column], is_key: bool, features: Sequence[str]) -> str:
    """ksqlDB's PersistenceSchema.toString: Persistence{columns=[`K` INTEGER KEY], features=[...]}."""
    cols = ", ".join(f"`{c.name}` {c.type}{' KEY' if is_key else ''}" for c in columns)
    return f"Persistence{{columns=[{cols}], features=[{', '.join(features)}]}}"


def check_formats(schema: LogicalSchema, key_format: KeyFormat, value_format: ValueFormat,
                  config: dict[str, Any]) -> None:
    """Fail as ksqlDB does when the formats cannot carry the schema (creates the serdes once)."""
    for column in schema.key:
        if _contains_map(column.type):
            raise EngineError("Map keys, including types that contain maps, are not supported as they may lead to "
                              "unexpected behavior due to inconsistent serialization. Key column name: "
                              f"`{column.name}`. Column type: {column.type}. See "
                              "https://github.com/confluentinc/ksql/issues/6621 for more.")
    wrap = value_format.wrap_single_value
    value_columns = [c for c in schema.value if c.namespace != "HEADERS"]
    if wrap is not None:
        if len(value_columns) != 1:
            raise EngineError("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas")
        if wrap and value_format.name in ("KAFKA", "DELIMITED"):
            raise EngineError(f"Format '{value_format.name}' does not support 'WRAP_SINGLE_VALUE' set to 'true'.")
    key_features = ["UNWRAP_SINGLES"] if len(schema.key) == 1 and key_format.name == "JSON" else []
    value_features = [] if wrap is None else (["WRAP_SINGLES"] if wrap else ["UNWRAP_SINGLES"])
    try:
        RecordSerde(LogicalSchema(schema.key, ()), key_format, ValueFormat(FormatSpec("NONE")), config)
    except SchemaRegistryNotConfiguredError as error:
        raise EngineError(error.message) from None
    except SerdeError as error:
        raise EngineError(f"Key format does not support schema.\nformat: {key_format.name}\nschema: "
                          f"{persistence_text(schema.key, True, key_features)}\nreason: {error.message}") from None
    try:
        RecordSerde(LogicalSchema((), schema.value), KeyFormat(FormatSpec("NONE")), value_format, config)
    except SchemaRegistryNotConfiguredError as error:
        raise EngineError(error.message) from None
    except SerdeError as error:
        raise EngineError(f"Value format does not support schema.\nformat: {value_format.name}\nschema: "
                          f"{persistence_text(value_columns, False, value_features)}\nreason: {error.message}"
                          ) from None


def column_name(text: str) -> str:
    """A column name given as a property value: upper-cased unless back-quoted."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "`":
        return text[1:-1].replace("``", "`")
    return text.upper()


def check_timestamp_column(schema: LogicalSchema, name: str | None, timestamp_format: str | None) -> str | None:
    """ksqlDB's TimestampExtractionPolicyFactory.validateTimestampColumn; returns the resolved name."""
    if name is None:
        return None
    resolved = column_name(name)
    column = schema.find(resolved)
    if column is None:
        raise EngineError(f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{resolved}'")
    base = column.type.base
    if base == "STRING":
        if timestamp_format is None:
            raise EngineError("A String timestamp field has been specified without also specifying the "
                              "timestamp_format")
        return resolved
    if timestamp_format is not None:
        raise EngineError("'TIMESTAMP_FORMAT' set in the WITH clause can only be used when the timestamp column "
                          "is of type STRING.")
    if base not in ("BIGINT", "TIMESTAMP"):
        raise EngineError(f"Timestamp column, `{resolved}`, should be LONG(INT64), TIMESTAMP, or a String with a "
                          "timestamp_format specified.")
    return resolved


def ensure_topic(engine: "KsqlEngine", topic: str, partitions: int | None, replicas: int | None,
                 example: str, *, compacted: bool, create: bool = True) -> int:
    """Check (and with PARTITIONS create) a source's topic; returns its partition count.

    A replayed command (engine restart) was accepted when it was submitted: as ksqlDB replays the command's
    plan without its topic checks, the topic is taken as it is now (created again only if it is missing).
    """
    description = engine.store.describe_topic(topic)
    replaying = getattr(engine, "replaying", False)
    if replaying and description is not None:
        return description.partitions
    if replaying and partitions is None:
        return 1  # deleted since; queries reading it pick its partitions up if it comes back
    if description is None:
        if partitions is None:
            raise EngineError(
                f"Topic '{topic}' does not exist. If you want to create a new topic for the stream/table please "
                "re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and "
                f"optionally 'REPLICAS'). For example: {example}")
        if create:
            engine.store.create_topic(topic, partitions=partitions, replicas=replicas or 1,
                                      config={"cleanup.policy": "compact" if compacted else "delete"})
        return partitions
    wanted_partitions = partitions if partitions is not None else description.partitions
    wanted_replicas = replicas if replicas is not None else description.replicas
    if wanted_partitions != description.partitions or wanted_replicas != description.replicas:
        raise EngineError(
            f"A Kafka topic with the name '{topic}' already exists, with different partition/replica configuration "
            f"than required. KSQL expects {wanted_partitions} partitions (topic has {description.partitions}), "
            f"{wanted_replicas} replication factor (topic has {description.replicas}).")
    return description.partitions


def _with_partitions(stmt: ast.CreateSource) -> str:
    """The statement re-rendered with PARTITIONS=2, as ksqlDB's "topic does not exist" hint shows it."""
    from dataclasses import replace

    from labkit.sql import render

    props = tuple(p for p in stmt.properties if p.name.upper() != "PARTITIONS")
    props += (ast.Property("PARTITIONS", ast.IntegerLiteral(2)),)
    return render(replace(stmt, properties=props))


# --------------------------------------------------------------------------------------------- CREATE


def source_schema(elements: Sequence[ast.TableElement], custom_types: dict[str, SqlType]) -> LogicalSchema:
    """The logical schema of CREATE's column list."""
    if not elements:
        raise EngineError("The statement does not define any columns.")
    for element in elements:
        if is_system_column(element.name):
            raise EngineError(f"'{element.name}' is a reserved column name. You cannot use it as a name for a column.")
    keys, values = [], []
    seen: set[str] = set()
    for element in elements:
        try:
            column_type = sql_type(element.type, custom_types)
        except UnknownTypeError as error:
            raise EngineError(f"Failed to prepare statement: {error}") from None
        if element.name in seen:
            raise EngineError(f"Duplicate column names: {element.name}")
        seen.add(element.name)
        if element.is_key:
            keys.append(Column(element.name, column_type, "KEY"))
        elif element.constraint in ("HEADERS", "HEADER"):
            values.append(Column(element.name, column_type, "HEADERS", element.header_key))
        else:
            values.append(Column(element.name, column_type))
    return LogicalSchema(tuple(keys), tuple(values))


def create_source(engine: "KsqlEngine", stmt: ast.CreateSource, session: Session) -> dict[str, Any]:
    """CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name (columns) WITH (...)."""
    kind = "TABLE" if isinstance(stmt, ast.CreateTable) else "STREAM"
    props = WithClause.parse(stmt.properties, CREATE)
    if stmt.is_source and not session.flag("ksql.source.table.materialization.enabled"):
        raise EngineError("Cannot execute command because source table materialization is disabled.")
    for element in stmt.elements:  # custom types resolve while the statement is prepared
        try:
            sql_type(element.type, engine.catalog.types)
        except UnknownTypeError as error:
            raise EngineError(f"Failed to prepare statement: {error}") from None
    key_name = props.key_format_name() or session.get("ksql.persistence.default.format.key")
    value_name = props.value_format_name() or session.get("ksql.persistence.default.format.value")
    if key_name is None:
        raise EngineError("Statement is missing the 'KEY_FORMAT' property from the WITH clause. Either provide one "
                          "or set a default via the 'ksql.persistence.default.format.key' config.")
    if value_name is None:
        raise EngineError("Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide "
                          "one or set a default via the 'ksql.persistence.default.format.value' config.")
    check_format_name(value_name)
    check_format_name(key_name)
    window = props.window_info()
    key_format = KeyFormat(format_spec(key_name, props.key_format_properties()), window)
    value_format = ValueFormat(format_spec(value_name, props.value_format_properties()), props.wrap_single_value())
    topic = props.get("KAFKA_TOPIC")
    if topic is None:
        raise EngineError("Missing required property \"KAFKA_TOPIC\" which has no default value.")
    if props.get("CLEANUP_POLICY") is not None:
        raise EngineError("Invalid config variable in the WITH clause: CLEANUP_POLICY.\nThe CLEANUP_POLICY config is "
                          "automatically inferred based on the type of source (STREAM or TABLE).\nUsers can't set "
                          "the CLEANUP_POLICY config manually.")
    ensure_topic(engine, topic, props.get("PARTITIONS"), props.get("REPLICAS"), _with_partitions(stmt),
                 compacted=kind == "TABLE", create=False)
    schema = source_schema(stmt.elements, engine.catalog.types)
    existing = engine.catalog.source(stmt.name)
    if existing is not None and not stmt.or_replace and not stmt.if_not_exists:
        raise EngineError(f"Cannot add {kind.lower()} '{stmt.name}': A {existing.kind.lower()} with the same name "
                          "already exists")
    if kind == "TABLE" and not schema.key:
        raise EngineError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.")
    if stmt.or_replace and (stmt.is_source or (existing is not None and existing.is_source)):
        plural = kind.lower() + "s"
        raise EngineError(f"Cannot add {kind.lower()} '{stmt.name}': CREATE OR REPLACE is not supported on source "
                          f"{plural}.")
    timestamp = check_timestamp_column(schema, props.get("TIMESTAMP"), props.get("TIMESTAMP_FORMAT"))
    if window is not None and not schema.key:
        raise EngineError("Windowed sources require a key column.")
    check_formats(schema, key_format, value_format, session.effective())
    if existing is not None and not stmt.or_replace:
        return responses.warning(stmt.text, f"Cannot add {kind.lower()} `{stmt.name}`: A {existing.kind.lower()} "
                                            "with the same name already exists.")
    ensure_topic(engine, topic, props.get("PARTITIONS"), props.get("REPLICAS"), "", compacted=kind == "TABLE")
    source = DataSource(stmt.name, kind, schema, topic, key_format, value_format, timestamp,
                        props.get("TIMESTAMP_FORMAT"), stmt.is_source, stmt.text)
    engine.catalog.add_source(source)
    sequence = engine.next_command()
    if kind == "TABLE" and stmt.is_source:
        from labkit.engine.queries import start_source_table_query
        start_source_table_query(engine, source, sequence, session)
    return responses.current_status(stmt.text, f"{kind.lower()}/`{stmt.name}`/create",
                                    "Stream created" if kind == "STREAM" else "Table created", sequence=sequence)


# ----------------------------------------------------------------------------------------------- DROP


def drop_source(engine: "KsqlEngine", stmt: ast.DropSource, session: Session) -> dict[str, Any]:
    """DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]."""
    kind = "TABLE" if isinstance(stmt, ast.DropTable) else "STREAM"
    catalog = engine.catalog
    source = catalog.source(stmt.name)
    if source is None:
        if not stmt.if_exists:
            hint = ""
            similar = catalog.similar_names(stmt.name)
            if similar:
                hint = (f"\nDid you mean \"{similar[0]}\"? Hint: wrap the source name in double quotes to make it "
                        "case-sensitive.")
            raise EngineError(f"{kind.capitalize()} {stmt.name} does not exist.{hint}")
        sequence = engine.next_command()
        return responses.current_status(stmt.text, f"{kind.lower()}/{stmt.name}/drop",
                                        f"Source `{stmt.name}` does not exist.", sequence=sequence)
    if source.kind != kind:
        raise EngineError(f"Incompatible data source type is {source.kind.lower()}, but statement was DROP "
                          f"{kind.lower()}")
    if source.is_source and stmt.delete_topic:
        raise EngineError(f"Cannot delete topic for read-only source: {stmt.name}")
    readers = sorted(q.query_id for q in catalog.readers_of(stmt.name) if q.kind == "INSERT")
    writers = sorted(q.query_id for q in catalog.writers_of(stmt.name) if q.kind == "INSERT")
    if readers or writers:
        raise EngineError(f"Cannot drop {stmt.name}.\nThe following queries read from this source: "
                          f"[{', '.join(readers)}].\nThe following queries write into this source: "
                          f"[{', '.join(writers)}].\nYou need to terminate them before dropping {stmt.name}.")
    dependents = sorted({q.sink for q in catalog.readers_of(stmt.name)
                         if q.kind == "PERSISTENT" and q.sink and q.sink != stmt.name})
    if dependents:
        raise EngineError(f"Cannot drop {stmt.name}.\nThe following streams and/or tables read from this source: "
                          f"[{', '.join(dependents)}].\nYou need to drop them before dropping {stmt.name}.")
    creating = catalog.creating_query(stmt.name)
    catalog.remove_source(stmt.name)
    if creating is not None:
        from labkit.engine.queries import stop_query
        stop_query(engine, creating.query_id, session)
    if stmt.delete_topic:
        engine.store.delete_topic(source.topic)
    sequence = engine.next_command()
    return responses.current_status(stmt.text, f"{kind.lower()}/{stmt.name}/drop",
                                    f"Source `{stmt.name}` (topic: {source.topic}) was dropped.", sequence=sequence)


# ----------------------------------------------------------------------------------------------- TYPES


def create_type(engine: "KsqlEngine", stmt: ast.CreateType, session: Session) -> dict[str, Any]:
    """CREATE TYPE [IF NOT EXISTS] name AS type."""
    types = engine.catalog.types
    try:
        new_type = sql_type(stmt.type, types)
    except Exception as error:  # noqa: BLE001 - unknown nested custom type
        raise EngineError(str(error)) from None
    sequence = engine.next_command()
    if stmt.name.upper() in {n.upper() for n in types}:
        existing = next(t for n, t in types.items() if n.upper() == stmt.name.upper())
        if not stmt.if_not_exists:
            raise EngineError(f"Cannot register custom type '{stmt.name}' since it is already registered with type: "
                              f"{existing}")
        message = f"{stmt.name} is already registered with type {existing}"
    else:
        types[stmt.name] = new_type
        message = f"Registered custom type with name '{stmt.name}' and SQL type {new_type}"
    return responses.current_status(stmt.text, f"type/{stmt.name}/create", message, sequence=sequence)


def drop_type(engine: "KsqlEngine", stmt: ast.DropType, session: Session) -> dict[str, Any]:
    """DROP TYPE [IF EXISTS] name."""
    types = engine.catalog.types
    match = next((n for n in types if n.upper() == stmt.name.upper()), None)
    if match is None and not stmt.if_exists:
        raise EngineError(f"Type {stmt.name} does not exist.")
    sequence = engine.next_command()
    if match is None:
        message = f"Type '{stmt.name}' does not exist"
    else:
        del types[match]
        message = f"Dropped type '{stmt.name}'"
    return responses.current_status(stmt.text, f"type/{stmt.name}/drop", message, sequence=sequence)


def alter_source(engine: "KsqlEngine", stmt: ast.AlterSource, session: Session) -> dict[str, Any]:
    """ALTER STREAM|TABLE name ADD COLUMN ..."""
    source = engine.catalog.source(stmt.name)
    if source is None:
        raise EngineError(f"Source {stmt.name} does not exist.")
    if source.is_source:
        raise EngineError(f"Cannot alter {source.kind.lower()} '{stmt.name}': ALTER operations are not supported on "
                          f"source {source.kind.lower()}s.")
    if source.kind != stmt.kind.upper():
        raise EngineError(f"Incompatible data source type is {source.kind}, but statement was ALTER "
                          f"{stmt.kind.upper()}")
    if engine.catalog.creating_query(stmt.name) is not None:
        raise EngineError("ALTER command is not supported for CREATE ... AS statements.")
    value = list(source.schema.value)
    names = {c.name for c in source.schema.columns}
    for option in stmt.options:
        if option.name in names:
            raise EngineError(f"Cannot add column `{option.name}` to schema. A column with the same name already "
                              "exists.")
        value.append(Column(option.name, sql_type(option.type, engine.catalog.types)))
        names.add(option.name)
    from dataclasses import replace
    engine.catalog.add_source(replace(source, schema=LogicalSchema(source.schema.key, tuple(value)),
                                      sql=stmt.text))
    sequence = engine.next_command()
    return responses.current_status(stmt.text, f"{source.kind.lower()}/`{stmt.name}`/alter",
                                    f"{source.kind.capitalize()} {stmt.name} altered.", sequence=sequence)


# ------------------------------------------------------------------------------------- processing log


def setup_processing_log(engine: "KsqlEngine") -> None:
    """With ksql.logging.processing.topic/stream.auto.create, create the log topic and KSQL_PROCESSING_LOG."""
    session = engine.session()
    if not session.flag("ksql.logging.processing.topic.auto.create"):
        return
    service_id = session.get("ksql.service.id") or "default_"
    topic = session.get("ksql.logging.processing.topic.name") or f"{service_id}ksql_processing_log"
    if engine.store.describe_topic(topic) is None:
        engine.store.create_topic(topic, partitions=1)
    include_rows = session.flag("ksql.logging.processing.rows.include")

    def write(entry: Any) -> None:
        import json

        engine.store.append(topic, None, json.dumps(entry.as_row(include_rows)).encode(), timestamp=entry.time)

    engine.processing_log.sink = write
    if not session.flag("ksql.logging.processing.stream.auto.create"):
        return
    from labkit.engine.processing_log import PROCESSING_LOG_SCHEMA
    name = session.get("ksql.logging.processing.stream.name") or "KSQL_PROCESSING_LOG"
    columns = parse_columns(PROCESSING_LOG_SCHEMA)
    schema = source_schema(columns, {})
    sql = (f"CREATE STREAM {name} ({PROCESSING_LOG_SCHEMA}) WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', "
           "KEY_FORMAT='KAFKA');")
    engine.catalog.add_source(DataSource(name, "STREAM", schema, topic, KeyFormat(FormatSpec("KAFKA")),
                                         ValueFormat(FormatSpec("JSON")), sql=sql))

