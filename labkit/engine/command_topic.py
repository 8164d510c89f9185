"""The command topic: every statement that changes the engine's state, written before it runs and replayed on start.

As ksqlDB does, CREATE/DROP/ALTER, CREATE/DROP TYPE, CREATE ... AS SELECT, INSERT INTO ... SELECT, TERMINATE,
PAUSE and RESUME are appended to the single-partition, infinitely retained topic
`_confluent-ksql-<service id>_command_topic` (key: the commandId as a JSON string; value: JSON
`{"statement", "streamsProperties", "originalProperties", "version"}`), and the record's offset becomes the
statement's `commandSequenceNumber` (persistent query ids take their number from it). A starting engine reads
the topic from the beginning and runs every command again without validation; a command that cannot be read
or run is logged and skipped. Queries are only registered during the replay and started after it, so those
terminated later in the log never run, and the others resume from their consumer groups' committed offsets.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

from labkit.engine.topics import TopicDescription, TopicRecord, TopicStore, TopicStoreError
from labkit.sql import ast

__all__ = ["COMMAND_VERSION", "Command", "CommandTopic", "command_topic_name", "command_id", "decode_command",
           "CommandDecodeError", "ReplayStore"]

_log = logging.getLogger("labkit.engine.commands")

COMMAND_VERSION = 1
"""Version written into each command; commands with a higher version (a newer engine's) are skipped."""


def command_topic_name(service_id: str) -> str:
    """`_confluent-ksql-<service id>_command_topic` (double underscore with the default id `default_`)."""
    return f"_confluent-ksql-{service_id}_command_topic"


def command_id(statement: ast.Statement) -> str | None:
    """ksqlDB's commandId of a statement that goes through the command topic, else None."""
    if isinstance(statement, ast.CreateSource):
        kind = "table" if isinstance(statement, ast.CreateTable) else "stream"
        return f"{kind}/`{statement.name}`/create"
    if isinstance(statement, ast.CreateAsSelect):
        kind = "table" if isinstance(statement, ast.CreateTableAsSelect) else "stream"
        return f"{kind}/`{statement.name}`/create"
    if isinstance(statement, ast.InsertInto):
        return f"stream/`{statement.target}`/create"
    if isinstance(statement, ast.DropSource):
        kind = "table" if isinstance(statement, ast.DropTable) else "stream"
        return f"{kind}/{statement.name}/drop"
    if isinstance(statement, ast.AlterSource):
        return f"{statement.kind.lower()}/`{statement.name}`/alter"
    if isinstance(statement, ast.CreateType):
        return f"type/{statement.name}/create"
    if isinstance(statement, ast.DropType):
        return f"type/{statement.name}/drop"
    if isinstance(statement, ast.TerminateQuery):
        return f"terminate/{statement.query_id or 'ALL'}/execute"
    if isinstance(statement, ast.PauseQuery):
        return f"pause/{statement.query_id or 'ALL'}/execute"
    if isinstance(statement, ast.ResumeQuery):
        return f"resume/{statement.query_id or 'ALL'}/execute"
    return None


class CommandDecodeError(ValueError):
    """A command record that cannot be replayed (not JSON, missing fields, newer version)."""


@dataclass(frozen=True)
class Command:
    """One command as stored: its offset, commandId, statement text and the properties it ran with."""

    offset: int
    command_id: str
    statement: str
    streams_properties: dict[str, Any]
    original_properties: dict[str, Any]
    version: int = COMMAND_VERSION

    def key_bytes(self) -> bytes:
        return json.dumps(self.command_id).encode()

    def value_bytes(self) -> bytes:
        return json.dumps({"statement": self.statement, "streamsProperties": self.streams_properties,
                           "originalProperties": self.original_properties, "version": self.version}).encode()


def decode_command(record: TopicRecord) -> Command:
    """The command of a command-topic record; CommandDecodeError when it cannot be replayed."""
    try:
        key = json.loads(record.key) if record.key is not None else None
        value = json.loads(record.value) if record.value is not None else None
    except (ValueError, UnicodeDecodeError) as error:
        raise CommandDecodeError(f"not JSON ({error})") from None
    if not isinstance(value, dict) or not isinstance(value.get("statement"), str):
        raise CommandDecodeError("the value has no 'statement' text")
    version = value.get("version", COMMAND_VERSION)
    if not isinstance(version, int) or version > COMMAND_VERSION:
        raise CommandDecodeError(f"unknown command version {version!r} (this engine writes {COMMAND_VERSION})")
    properties = value.get("streamsProperties", {})
    original = value.get("originalProperties", {})
    properties = {} if properties is None else properties
    original = {} if original is None else original
    if not isinstance(properties, dict) or not isinstance(original, dict):
        raise CommandDecodeError("'streamsProperties' and 'originalProperties' must be JSON objects")
    return Command(record.offset, key if isinstance(key, str) else "", value["statement"], properties, original,
                   version)


class CommandTopic:
    """Append commands to, and read them back from, the command topic through a TopicStore."""

    def __init__(self, store: TopicStore, service_id: str = "default_", *, replicas: int = 1) -> None:
        self.store = store
        self.topic = command_topic_name(service_id)
        self.replicas = replicas

    def ensure(self) -> TopicDescription:
        """Create the topic (1 partition, infinite retention) unless it exists; return its description."""
        description = self.store.describe_topic(self.topic)
        if description is None:
            self.store.create_topic(self.topic, partitions=1, replicas=self.replicas,
                                    config={"retention.ms": "-1", "cleanup.policy": "delete"})
            deadline = time.monotonic() + 30
            while description is None and time.monotonic() < deadline:
                description = self.store.describe_topic(self.topic)  # every broker learns of it soon
                if description is None:
                    time.sleep(0.1)
        if description is None:
            raise TopicStoreError(f"The command topic {self.topic} was created but cannot be described.")
        return description

    def append(self, command_id: str, statement: str, streams_properties: Mapping[str, Any],
               original_properties: Mapping[str, Any], *, timestamp: int) -> int:
        """Write one command (acknowledged by all in-sync replicas) and return its offset."""
        command = Command(-1, command_id, statement, _jsonable(streams_properties), _jsonable(original_properties))
        record = self.store.append(self.topic, command.key_bytes(), command.value_bytes(), timestamp=timestamp,
                                   partition=0)
        return record.offset

    def end_offset(self) -> int:
        return self.store.end_offset(self.topic, 0)

    def records(self, *, attempts: int = 5) -> list[TopicRecord]:
        """Every record of the topic, from the first to the end offset of now."""
        end = self.end_offset()
        out: list[TopicRecord] = []
        offset, empty = 0, 0
        while offset < end and empty < attempts:
            batch = self.store.read(self.topic, 0, offset, 500)
            if not batch:
                empty += 1  # a slow fetch: ask again (the topic is never truncated: retention.ms=-1)
                continue
            empty = 0
            out.extend(batch)
            offset = batch[-1].offset + 1
        if offset < end:
            _log.error("read the command topic %s up to offset %d of %d only", self.topic, offset, end)
        return out


def _jsonable(properties: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in properties.items():
        out[str(key)] = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
    return out


class ReplayStore:
    """A TopicStore view used while replaying: topics are created at the end, existing ones never deleted.

    ksqlDB deletes a topic for `DROP ... DELETE TOPIC` (and a terminated query's internal topics) when the
    statement is submitted, not when the command is replayed; a replay that deleted topics would destroy data
    written since. Topics the replayed commands create are only noted (a later DROP or TERMINATE in the log
    forgets them again) and `finish()` creates those still wanted, so a long log does not create and delete
    the same topics over and over. Descriptions of real topics are read once per replay.
    """

    def __init__(self, real: TopicStore) -> None:
        self._real = real
        self.pending: dict[str, TopicDescription] = {}
        self._described: dict[str, TopicDescription | None] = {}

    def create_topic(self, name: str, *, partitions: int = 1, replicas: int = 1,
                     config: Mapping[str, str] | None = None) -> None:
        if self.describe_topic(name) is not None:
            raise TopicStoreError(f"Topic '{name}' already exists.")
        self.pending[name] = TopicDescription(name, partitions, replicas, dict(config or {}))

    def describe_topic(self, name: str) -> TopicDescription | None:
        if name in self.pending:
            return self.pending[name]
        if name not in self._described:
            self._described[name] = self._real.describe_topic(name)
        return self._described[name]

    def list_topics(self) -> list[str]:
        return sorted(set(self._real.list_topics()) | set(self.pending))

    def delete_topic(self, name: str) -> None:
        self.pending.pop(name, None)

    def finish(self) -> list[str]:
        """Create the topics the replayed commands still need; returns their names."""
        created = []
        for name, description in self.pending.items():
            if self._real.describe_topic(name) is not None:
                continue
            try:
                self._real.create_topic(name, partitions=description.partitions, replicas=description.replicas,
                                        config=description.config)
            except TopicStoreError as error:
                _log.warning("replay could not create topic %s: %s", name, error)
                continue
            created.append(name)
        self.pending.clear()
        self._described.clear()
        return created

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
