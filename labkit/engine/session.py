"""Engine configuration with ksqlDB's defaults, and the per-request session (SET, DEFINE).

`EngineConfig` is the server configuration plus ksqlDB's defaults for the properties the engine reads.
A `Session` layers request properties and SET overrides on top, and holds DEFINEd variables; a /ksql
request gets a fresh one, the conformance driver keeps one for a whole test case.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["DEFAULTS", "Session", "config_bool", "offset_reset"]

DEFAULTS: dict[str, Any] = {
    "ksql.service.id": "default_",
    "ksql.persistence.default.format.key": "KAFKA",
    "ksql.persistence.default.format.value": None,
    "ksql.persistence.wrap.single.values": None,
    "ksql.output.topic.name.prefix": "",
    "ksql.insert.into.values.enabled": True,
    "ksql.timestamp.throw.on.invalid": False,
    "ksql.source.table.materialization.enabled": True,
    "ksql.logging.processing.topic.auto.create": False,
    "ksql.logging.processing.stream.auto.create": False,
    "ksql.logging.processing.topic.name": "",
    "ksql.logging.processing.stream.name": "KSQL_PROCESSING_LOG",
    "ksql.logging.processing.rows.include": False,
    "ksql.query.pull.table.scan.enabled": True,
    "ksql.query.pull.stream.enabled": True,
}
"""Defaults of the properties the engine reads (ksqlDB 0.29 code defaults)."""

_STREAMS_PREFIX = "ksql.streams."


def config_bool(value: Any, default: bool = False) -> bool:
    """A boolean property value given as bool or text."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


@dataclass
class Session:
    """Properties (server config, then request properties, then SET) and variables of one session."""

    server: Mapping[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        for source in (self.overrides, self.server):
            if name in source:
                return source[name]
            if name.startswith(_STREAMS_PREFIX) and name[len(_STREAMS_PREFIX):] in source:
                return source[name[len(_STREAMS_PREFIX):]]
            if _STREAMS_PREFIX + name in source:
                return source[_STREAMS_PREFIX + name]
        return DEFAULTS.get(name, default) if default is None else default

    def flag(self, name: str) -> bool:
        return config_bool(self.get(name), config_bool(DEFAULTS.get(name)))

    def effective(self) -> dict[str, Any]:
        """All properties in force (defaults, server, overrides)."""
        merged = dict(DEFAULTS)
        merged.update(self.server)
        merged.update(self.overrides)
        return merged


def offset_reset(session: Session) -> str | None:
    """`auto.offset.reset` in force ('earliest' / 'latest'), or None for each source's own default."""
    value = session.get("auto.offset.reset")
    return None if value is None else str(value).strip().lower()
