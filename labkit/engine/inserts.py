"""INSERT INTO ... VALUES: evaluate the values, coerce them to the columns, write one record.

As ksqlDB's InsertValuesExecutor: the target must exist, not be windowed or read-only; columns default
to all key then value columns; ROWTIME may be set (else the wall clock), ROWPARTITION and ROWOFFSET may
not; values are expressions without column references, coerced strictly to the column types. The
statement returns no entity.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from labkit.engine.analyzer import unknown_source_message
from labkit.engine.compile import RUNTIME_ERRORS, ExpressionCompiler, Scope
from labkit.engine.errors import EngineError, TypeCheckError, UnknownColumnError
from labkit.engine.exprtext import expression_text
from labkit.engine.formats import RecordSerde
from labkit.engine.functions.casts import coerce_value
from labkit.engine.schema import PSEUDO_COLUMNS, ROWTIME
from labkit.engine.serde import SerdeError
from labkit.engine.session import Session
from labkit.engine.types import CastError, SqlType, infer_type
from labkit.sql import ast

if TYPE_CHECKING:
    from labkit.engine.engine import KsqlEngine

__all__ = ["insert_values", "coerce_insert_value"]


def coerce_insert_value(value: Any, column_type: SqlType, column: str) -> Any:
    """Strict coercion of a computed value to a column type (ksqlDB's error text on failure)."""
    if value is None:
        return None
    try:
        return coerce_value(value, column_type)
    except (CastError, ArithmeticError, ValueError) as error:
        value_type = infer_type(value)
        base = value_type.base if value_type is not None else type(value).__name__.upper()
        hint = ""
        if base == "STRING":
            hint = {"TIMESTAMP": ". Timestamp format must be yyyy-mm-ddThh:mm:ss[.S]",
                    "TIME": ". Time format must be hh:mm:ss[.S]",
                    "DATE": ". Date format must be yyyy-mm-dd"}.get(column_type.base, "")
        raise EngineError(f"Expected type {column_type} for field {column} but got {base}({value}){hint}") from error


def insert_values(engine: "KsqlEngine", stmt: ast.InsertValues, session: Session) -> None:
    """INSERT INTO target [(columns)] VALUES (values)."""
    catalog = engine.catalog
    target = catalog.source(stmt.target)
    if target is None:
        hint = unknown_source_message(stmt.target, catalog)
        hint = hint[hint.index("\n"):] if "\n" in hint else ""
        raise EngineError(f"Cannot insert values into an unknown stream/table: `{stmt.target}`{hint}")
    if target.is_windowed:
        raise EngineError("Cannot insert values into windowed stream/table!")
    if target.is_source:
        raise EngineError(f"Cannot insert values into read-only {target.kind.lower()}: {target.name}")
    schema = target.schema
    headers = [c.name for c in schema.headers]
    named_headers = headers if not stmt.columns else [c for c in stmt.columns if c in headers]
    if named_headers:
        raise EngineError(f"Cannot insert into HEADER columns: {', '.join(named_headers)}")
    if not session.flag("ksql.insert.into.values.enabled"):
        raise EngineError("The server has disabled INSERT INTO ... VALUES functionality. To enable it, restart your "
                          "ksqlDB server with 'ksql.insert.into.values.enabled'=true")
    failed = f"Failed to insert values into '{target.name}'."
    columns = list(stmt.columns) or [c.name for c in schema.columns]
    if len(columns) != len(stmt.values):
        raise EngineError(f"{failed} Expected a value for each column. Expected Columns: {list(stmt.columns)}. Got "
                          f"{[expression_text(v) for v in stmt.values]}")
    types = {c.name: c.type for c in schema.columns}
    types.update(PSEUDO_COLUMNS)
    for name in columns:
        if name not in types:
            raise EngineError(f"{failed} Column name `{name}` does not exist.")
        if name in PSEUDO_COLUMNS and name != ROWTIME:
            raise EngineError(f"{failed} Inserting into column `{name}` is not allowed.")
    compiler = ExpressionCompiler(Scope.of(()), custom_types=catalog.types)
    values: dict[str, Any] = {}
    for name, expression in zip(columns, stmt.values):
        try:
            compiled = compiler.compile(expression)
        except UnknownColumnError:
            raise EngineError(f"{failed} Unsupported column reference in insert value: "
                              f"{expression_text(expression)}") from None
        except TypeCheckError as error:
            raise EngineError(f"{failed} {error.message}") from None
        try:
            value = compiled.evaluate(())
        except RUNTIME_ERRORS as error:
            raise EngineError(f"{failed} {error}") from None
        values[name] = coerce_insert_value(value, types[name], name) if isinstance(name, str) else value
    if target.is_table:
        missing = [c.name for c in schema.key if c.name not in values]
        if missing:
            raise EngineError(f"{failed} Value for primary key column(s) {', '.join(missing)} is required for tables")
    timestamp = values.get(ROWTIME)
    if timestamp is None:
        clock = engine.insert_clock
        timestamp = clock() if clock is not None else int(time.time() * 1000)
    key = [values.get(c.name) for c in schema.key]
    value = [values.get(c.name) for c in schema.value if c.namespace != "HEADERS"]
    serde = RecordSerde(schema, target.key_format, target.value_format, session.effective())
    try:
        key_bytes = serde.serialize_key(key, target.topic)
        value_bytes = serde.serialize_value(value, target.topic)
    except SerdeError as error:
        raise EngineError(f"{failed} {error.message}") from None
    if engine.store.describe_topic(target.topic) is None:
        raise EngineError(f"{failed} Topic '{target.topic}' does not exist.")
    engine.store.append(target.topic, key_bytes, value_bytes, timestamp=timestamp)
    return None
