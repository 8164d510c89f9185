"""The command topic: every statement that changes the engine's state, written before it runs and replayed on start.

As ksqlDB does, CREATE/DROP/ALTER, CREATE/DROP TYPE, CREATE ... AS SELECT, INSERT INTO ... SELECT, TERMINATE,
PAUSE and RESUME are appended to the single-partition, infinitely retained topic
`_confluent-ksql-<service id>_command_topic` (key: the commandId as a JSON string; value: JSON
`{"statement", "streamsProperties", "originalProperties", "version"}`), and the record's offset becomes the
statement's `commandSequenceNumber` (persistent query ids take their number from it). A starting engine reads
the topic from the beginning and runs every command again without validation; a command that cannot be read
or run is logged and skipped. Before that the log is compacted as ksqlDB's RestoreCommandsCompactor does
(`compact_commands`): queries that a later TERMINATE, DROP or CREATE OR REPLACE ends are not planned again
(their CREATE ... AS SELECT only registers its sink). Queries are only registered during the replay and started
after it, and resume from their consumer groups' committed offsets.
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
           "CommandDecodeError", "ReplayStore", "ReplayItem", "compact_commands"]

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


@dataclass
class ReplayItem:
    """A command a replay runs: its parsed statement (None: run the text, whose error is then logged) and
    whether only its DDL counts (a CREATE ... AS SELECT whose query a later command ends)."""

    command: Command
    statement: ast.Statement | None
    query_id: str | None = None
    ddl_only: bool = False
    target: "ReplayItem | None" = None  # PAUSE/RESUME: the command that started the query it names


def compact_commands(commands: list[Command]) -> tuple[list[ReplayItem], list[Command]]:
    """ksqlDB's RestoreCommandsCompactor: leave out the queries that later commands end; returns (kept, dropped).

    A CREATE ... AS SELECT or INSERT INTO ... SELECT whose query a later TERMINATE (or TERMINATE ALL), DROP of its
    sink or CREATE OR REPLACE of its sink ends is not planned into a query again: a CREATE ... AS SELECT keeps
    its DDL (the sink stream or table is registered, `ddl_only`), an INSERT INTO is dropped, and so are the
    TERMINATE, PAUSE and RESUME commands of those queries. Query ids are known without analysis: they carry the
    command's offset (`queries.created_query_id`).
    """
    from labkit.engine.queries import created_query_id
    from labkit.sql import SqlParseError, parse

    items: list[ReplayItem] = []
    latest: dict[str, ReplayItem] = {}        # query id (upper case) -> the command that started it
    creating: dict[str, str] = {}             # sink name -> id of its CREATE ... AS SELECT query
    sources: set[str] = set()
    dropped: list[Command] = []
    for command in commands:
        try:
            statements = parse(command.statement)
        except SqlParseError:
            statements = []
        if len(statements) != 1:
            items.append(ReplayItem(command, None))
            continue
        [statement] = statements
        if isinstance(statement, ast.TerminateQuery):
            ended = list(latest.values()) if statement.query_id is None else \
                [latest[statement.query_id.upper()]] if statement.query_id.upper() in latest else []
            for item in ended:
                item.ddl_only = True
            if statement.query_id is not None and ended:
                latest.pop(statement.query_id.upper())
                dropped.append(command)  # "executed" by leaving its query out
                continue
            if statement.query_id is None:
                latest.clear()
            items.append(ReplayItem(command, statement))  # ALL, or a query this log did not start (CST_...)
            continue
        item = ReplayItem(command, statement)
        if isinstance(statement, (ast.PauseQuery, ast.ResumeQuery)) and statement.query_id is not None:
            item.target = latest.get(statement.query_id.upper())
        elif isinstance(statement, ast.DropSource):
            sources.discard(statement.name)
            ended_id = creating.pop(statement.name, None)
            if ended_id is not None and ended_id in latest:
                latest.pop(ended_id).ddl_only = True
        elif isinstance(statement, ast.CreateSource):
            sources.add(statement.name)
        elif isinstance(statement, ast.CreateAsSelect):
            replaces = statement.name in sources
            if not replaces or statement.or_replace:  # else IF NOT EXISTS on an existing name: no query
                previous = creating.get(statement.name)
                if previous is not None and previous in latest:
                    latest.pop(previous).ddl_only = True
                item.query_id = created_query_id(statement, command.offset)
                sources.add(statement.name)
        elif isinstance(statement, ast.InsertInto):
            item.query_id = created_query_id(statement, command.offset)
        if item.query_id is not None:
            item.query_id = item.query_id.upper()
            latest[item.query_id] = item
            if isinstance(statement, ast.CreateAsSelect):
                creating[statement.name] = item.query_id
        items.append(item)
    kept = []
    for item in items:
        if (item.ddl_only and isinstance(item.statement, ast.InsertInto)) or (item.target and item.target.ddl_only):
            dropped.append(item.command)
        else:
            kept.append(item)
    return kept, dropped


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
    the same topics over and over. Descriptions of real topics, and their list, are read once per replay.
    """

    def __init__(self, real: TopicStore) -> None:
        self._real = real
        self.pending: dict[str, TopicDescription] = {}
        self._described: dict[str, TopicDescription | None] = {}
        self._listed: set[str] | None = None

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
        if self._listed is None:  # read once per replay: the replay never creates or deletes a real topic
            self._listed = set(self._real.list_topics())
        return sorted(self._listed | set(self.pending))

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
        self._listed = None
        return created

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
