"""Load ksqlDB's QTT and RQTT case files and expand them into runnable variants.

A case with `"format": ["AVRO", "JSON"]` runs once per format, `{FORMAT}` substituted; a case with
`"config"` runs once per entry, `{CONFIG}` substituted in its properties. Variants that need a schema
registry (AVRO, PROTOBUF, JSON_SR, registered schemas) are out of scope and reported as skipped.
"""
from __future__ import annotations

import decimal
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_REGISTRY_FORMATS = re.compile(r"\b(AVRO|PROTOBUF|PROTOBUF_NOSR|JSON_SR)\b", re.IGNORECASE)
_SCHEMA_KEYS = ("keySchema", "valueSchema", "keySchemaId", "valueSchemaId", "keySchemaReferences",
                "valueSchemaReferences")


@dataclass
class Case:
    """One runnable variant of a test case."""

    kind: str  # "qtt" or "rqtt"
    file: str  # the file's stem, e.g. "project-filter"
    name: str  # the case name, with " - FORMAT" / " - prop=config" for variants
    statements: list[str]
    properties: dict[str, Any] = field(default_factory=dict)
    topics: list[dict] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    expected_exception: dict | None = None  # QTT expectedException, RQTT expectedError
    post: dict | None = None
    responses: list[dict] | None = None
    input_conditions: dict = field(default_factory=dict)
    output_conditions: dict = field(default_factory=dict)
    skip_reason: str | None = None

    @property
    def full_name(self) -> str:
        """`<file> - <name>`, as ksqlDB's harness names a test."""
        return f"{self.file} - {self.name}"


def load_json(path: Path) -> Any:
    """Parse a case file, keeping decimals exact (a DECIMAL's scale is part of the expected value)."""
    return json.loads(path.read_text(encoding="utf-8"), parse_float=decimal.Decimal)


def _substitute(value: Any, token: str, replacement: str) -> Any:
    if isinstance(value, str):
        return value.replace(token, replacement)
    if isinstance(value, list):
        return [_substitute(v, token, replacement) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, token, replacement) for k, v in value.items()}
    return value


def _skip_reason(raw: dict, statements: list[str], topics: list[dict]) -> str | None:
    if raw.get("enabled") is False:
        return "disabled upstream"
    for statement in statements:
        match = SCHEMA_REGISTRY_FORMATS.search(statement)
        if match:
            return f"{match.group(1).upper()} needs a schema registry (out of scope)"
    for topic in topics:
        if any(key in topic for key in _SCHEMA_KEYS):
            return "registered schemas need a schema registry (out of scope)"
        for key in ("keyFormat", "valueFormat", "format"):
            fmt = topic.get(key)
            if isinstance(fmt, str) and SCHEMA_REGISTRY_FORMATS.fullmatch(fmt):
                return f"{fmt.upper()} needs a schema registry (out of scope)"
    return None


def expand(raw: dict, *, kind: str, file: str) -> list[Case]:
    """The variants of one raw case (format × config)."""
    formats = raw.get("format") or [None]
    configs = raw.get("config") or [None]
    variants = []
    for fmt in formats:
        for config in configs:
            data = raw if fmt is None else _substitute(raw, "{FORMAT}", fmt)
            name = raw["name"] + ("" if fmt is None else f" - {fmt}")
            properties = dict(data.get("properties") or {})
            if config is not None:
                for key, value in list(properties.items()):
                    if value == "{CONFIG}":
                        properties[key] = config
                        name += f" - {key}={config}"
            statements = list(data.get("statements") or [])
            topics = list(data.get("topics") or [])
            variants.append(Case(
                kind=kind, file=file, name=name, statements=statements, properties=properties, topics=topics,
                inputs=list(data.get("inputs") or []), outputs=list(data.get("outputs") or []),
                expected_exception=data.get("expectedException") or data.get("expectedError"),
                post=data.get("post"), responses=data.get("responses"),
                input_conditions=dict(data.get("inputConditions") or {}),
                output_conditions=dict(data.get("outputConditions") or {}),
                skip_reason=_skip_reason(raw, statements, topics),
            ))
    return variants


def load_cases(path: Path, kind: str) -> list[Case]:
    """Every variant in one QTT or RQTT file."""
    data = load_json(path)
    return [case for raw in data.get("tests", []) for case in expand(raw, kind=kind, file=path.stem)]


def discover(paths: list[Path]) -> list[Path]:
    """JSON files under the given files or folders, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.json")))
        elif path.suffix == ".json":
            found.append(path)
    return found
