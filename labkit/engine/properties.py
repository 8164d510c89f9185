"""WITH-clause properties of CREATE, CREATE ... AS SELECT and INSERT INTO, validated as ksqlDB does.

`WithClause.parse(properties, kind)` upper-cases names, rejects unknown ones, converts values and makes the
checks ksqlDB makes while preparing a statement (FORMAT together with KEY_FORMAT/VALUE_FORMAT, delimiters,
TIMESTAMP_FORMAT, WINDOW_TYPE/WINDOW_SIZE). The format helpers build the key and value formats of new
sources and sinks, with the defaults from the session config.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from labkit.engine.errors import EngineError
from labkit.engine.formats import FormatSpec, WindowInfo
from labkit.engine.serde import FORMATS, SCHEMA_REGISTRY_FORMATS, SerdeError, parse_delimiter
from labkit.sql import ast

__all__ = ["WithClause", "CREATE", "CREATE_AS", "INSERT_INTO", "parse_duration", "format_spec",
           "check_format_name"]

_COMMON = {"KAFKA_TOPIC", "PARTITIONS", "REPLICAS", "RETENTION_MS", "CLEANUP_POLICY", "TIMESTAMP",
           "TIMESTAMP_FORMAT", "VALUE_AVRO_SCHEMA_FULL_NAME", "KEY_SCHEMA_FULL_NAME", "VALUE_SCHEMA_FULL_NAME",
           "VALUE_FORMAT", "KEY_FORMAT", "FORMAT", "WRAP_SINGLE_VALUE", "VALUE_DELIMITER", "KEY_DELIMITER",
           "KEY_SCHEMA_ID", "VALUE_SCHEMA_ID", "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
           "VALUE_PROTOBUF_NULLABLE_REPRESENTATION"}
CREATE = frozenset(_COMMON | {"WINDOW_TYPE", "WINDOW_SIZE", "SOURCE_CONNECTOR", "SOURCED_BY_CONNECTOR"})
CREATE_AS = frozenset(_COMMON)
INSERT_INTO = frozenset({"QUERY_ID"})
_INTEGER_PROPERTIES = {"PARTITIONS", "REPLICAS", "KEY_SCHEMA_ID", "VALUE_SCHEMA_ID", "RETENTION_MS"}
_BOOLEAN_PROPERTIES = {"WRAP_SINGLE_VALUE"}
_UNITS = {"MILLISECOND": 1, "MILLISECONDS": 1, "SECOND": 1000, "SECONDS": 1000, "MINUTE": 60_000,
          "MINUTES": 60_000, "HOUR": 3_600_000, "HOURS": 3_600_000, "DAY": 86_400_000, "DAYS": 86_400_000}


def parse_duration(text: str) -> int:
    """'10 SECONDS' → 10000 (ksqlDB's DurationParser); ValueError with ksqlDB's reason otherwise."""
    parts = text.strip().split()
    if len(parts) != 2:
        raise ValueError(f"Invalid duration: '{text}'. Expected format: '<number> <time unit>'")
    number, unit = parts
    if not re.fullmatch(r"\d+", number):
        raise ValueError(f"Invalid duration: '{text}'. Not a number: '{number}'")
    factor = _UNITS.get(unit.upper())
    if factor is None:
        raise ValueError(f"Invalid duration: '{text}'. Unknown time unit: '{unit.upper()}'")
    return int(number) * factor


def _literal_value(literal: ast.Literal) -> Any:
    if isinstance(literal, ast.NullLiteral):
        return None
    return getattr(literal, "value", None)


def check_format_name(name: str) -> str:
    """The upper-case format name; 'Unknown format: X' when ksqlDB has no such format."""
    upper = name.upper()
    if upper not in FORMATS and upper not in SCHEMA_REGISTRY_FORMATS:
        raise EngineError(f"Unknown format: {name}")
    return upper


@dataclass
class WithClause:
    """Validated WITH properties: upper-case name → Python value."""

    values: dict[str, Any]

    @classmethod
    def parse(cls, properties: tuple[ast.Property, ...], allowed: frozenset[str]) -> "WithClause":
        """Validate a WITH clause; errors read "Failed to prepare statement: ..." (ksqlDB checks while parsing)."""
        try:
            return cls._parse(properties, allowed)
        except EngineError as error:
            raise EngineError(f"Failed to prepare statement: {error.message}") from None

    @classmethod
    def _parse(cls, properties: tuple[ast.Property, ...], allowed: frozenset[str]) -> "WithClause":
        values: dict[str, Any] = {}
        unknown = []
        for prop in properties:
            name = prop.name.upper()
            if name not in allowed:
                unknown.append(name)
                continue
            value = _literal_value(prop.value)
            if name in _INTEGER_PROPERTIES and value is not None:
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise EngineError(f"Invalid value {value} for configuration {name}: Not a number") from None
            if name in _BOOLEAN_PROPERTIES and value is not None and not isinstance(value, bool):
                text = str(value).strip().lower()
                if text not in ("true", "false"):
                    raise EngineError(f"Invalid value {value} for configuration {name}: Expected value to be "
                                      "either true or false")
                value = text == "true"
            if name not in _INTEGER_PROPERTIES and name not in _BOOLEAN_PROPERTIES and value is not None:
                value = str(value) if not isinstance(value, str) else value
            values[name] = value
        if unknown:
            raise EngineError(f"Invalid config variable(s) in the WITH clause: {','.join(unknown)}")
        clause = cls(values)
        clause._validate()
        return clause

    def _validate(self) -> None:
        has = self.values.__contains__
        if has("FORMAT"):
            if has("KEY_FORMAT"):
                raise EngineError("Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both "
                                  "key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and "
                                  "'VALUE_FORMAT'.")
            if has("VALUE_FORMAT"):
                raise EngineError("Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets "
                                  "both key and value formats. Either use just 'FORMAT', or use 'KEY_FORMAT' and "
                                  "'VALUE_FORMAT'.")
        for name in ("VALUE_DELIMITER", "KEY_DELIMITER"):
            if self.values.get(name) is not None:
                try:
                    parse_delimiter(self.values[name])
                except SerdeError as error:
                    raise EngineError(f"Configuration {name} is invalid: {error.message}") from None
        timestamp_format = self.values.get("TIMESTAMP_FORMAT")
        if timestamp_format is not None:
            from labkit.engine.functions.time_patterns import PatternError, compile_pattern
            try:
                compile_pattern(timestamp_format)
            except PatternError as error:
                raise EngineError(f"Invalid datetime format for config:TIMESTAMP_FORMAT, reason:{error}") from None
        window_type = self.window_type()
        size = self.values.get("WINDOW_SIZE")
        if size is not None:
            try:
                parse_duration(size)
            except ValueError as error:
                raise EngineError(f"Configuration WINDOW_SIZE is invalid: {error}") from None
        if window_type is not None and window_type != "SESSION" and size is None:
            raise EngineError(f"{window_type} windows require 'WINDOW_SIZE' to be provided in the WITH clause. "
                              "For example: 'WINDOW_SIZE'='10 SECONDS'")
        if window_type == "SESSION" and size is not None:
            raise EngineError("'WINDOW_SIZE' should not be set for SESSION windows.")

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def window_type(self) -> str | None:
        value = self.values.get("WINDOW_TYPE")
        if value is None:
            return None
        upper = value.strip().upper()
        if upper not in ("TUMBLING", "HOPPING", "SESSION"):
            raise EngineError(f"Error in WITH clause property 'WINDOW_TYPE': Unknown window type: '{value}'")
        return upper

    def window_info(self) -> WindowInfo | None:
        window_type = self.window_type()
        if window_type is None:
            return None
        size = self.values.get("WINDOW_SIZE")
        return WindowInfo(window_type, parse_duration(size) if size is not None else None)

    # --- formats ------------------------------------------------------------------------------------

    def key_format_name(self) -> str | None:
        return self.values.get("FORMAT") or self.values.get("KEY_FORMAT")

    def value_format_name(self) -> str | None:
        return self.values.get("FORMAT") or self.values.get("VALUE_FORMAT")

    def key_format_properties(self) -> dict[str, str]:
        props: dict[str, str] = {}
        if self.values.get("KEY_SCHEMA_FULL_NAME") is not None:
            props["fullSchemaName"] = self.values["KEY_SCHEMA_FULL_NAME"]
        if self.values.get("KEY_DELIMITER") is not None:
            props["delimiter"] = self.values["KEY_DELIMITER"]
        return props

    def value_format_properties(self) -> dict[str, str]:
        props: dict[str, str] = {}
        full_name = self.values.get("VALUE_AVRO_SCHEMA_FULL_NAME") or self.values.get("VALUE_SCHEMA_FULL_NAME")
        if full_name is not None:
            props["fullSchemaName"] = full_name
        if self.values.get("VALUE_DELIMITER") is not None:
            props["delimiter"] = self.values["VALUE_DELIMITER"]
        return props

    def wrap_single_value(self) -> bool | None:
        return self.values.get("WRAP_SINGLE_VALUE")


_SUPPORTED_FORMAT_PROPERTIES = {"JSON": set(), "KAFKA": set(), "NONE": set(), "DELIMITED": {"delimiter"}}


def format_spec(name: str, properties: Mapping[str, str]) -> FormatSpec:
    """A FormatSpec, refusing properties the format does not take ('JSON does not support ...')."""
    upper = check_format_name(name)
    supported = _SUPPORTED_FORMAT_PROPERTIES.get(upper)
    if supported is not None:
        unsupported = sorted(k for k in properties if k not in supported)
        if unsupported:
            raise EngineError(f"{upper} does not support the following configs: [{', '.join(unsupported)}]")
    if upper == "DELIMITED" and "delimiter" in properties:
        parse_delimiter(properties["delimiter"])
    return FormatSpec.of(upper, properties)
