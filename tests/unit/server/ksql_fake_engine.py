"""A small in-test engine implementing labkit.server.protocol.Engine, scripted by statement text.

It understands just enough to drive every branch of the HTTP layer: a few statements on /ksql, pull and push
queries over fixed sources (PAGEVIEWS push stream fed by the test, COUNTS pull table, FAILING, TOMBS), PRINT,
and inserts. Everything it is asked is recorded for assertions.
"""
from __future__ import annotations

import queue
import re
import threading
from decimal import Decimal
from typing import Any, Mapping

from labkit.errors import KsqlError
from labkit.server import entities
from labkit.server.protocol import (
    HealthStatus,
    NotAQueryError,
    QueryHeader,
    ServerInfo,
    StatementError,
    Tombstone,
)

PAGEVIEWS_COLUMNS = ("USERID", "PAGEID", "VIEWTIME")
PAGEVIEWS_TYPES = ("STRING", "STRING", "BIGINT")


class FakeQuery:
    """A QueryStream over a queue of rows; None in the queue ends it; an exception in it is raised."""

    def __init__(self, header: QueryHeader, rows: list | None = None, *, limit: int | None = None,
                 ends: bool = True) -> None:
        self.header = header
        self.limit = limit
        self.limit_reached = False
        self.closed = threading.Event()
        self.close_calls = 0
        self.polls = 0
        self.feed: queue.Queue = queue.Queue()
        self._sent = 0
        for row in rows or []:
            self.feed.put(row)
        if ends:
            self.feed.put(None)

    def next_rows(self, timeout: float) -> list | None:
        self.polls += 1
        if self.closed.is_set():
            return None
        try:
            item = self.feed.get(timeout=timeout)
        except queue.Empty:
            return []
        if item is None or self.limit_reached:
            return None
        if isinstance(item, Exception):
            raise item
        self._sent += 1
        if self.limit is not None and self._sent >= self.limit:
            self.limit_reached = True
        return [item]

    def close(self) -> None:
        self.close_calls += 1
        self.closed.set()
        self.feed.put(None)  # wake a blocked next_rows


class FakePrint:
    """A PrintStream with fixed lines."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        self.closed = threading.Event()

    def next_lines(self, timeout: float) -> list[str] | None:
        if self.closed.is_set() or not self.lines:
            return None
        lines, self.lines = self.lines, []
        return lines

    def close(self) -> None:
        self.closed.set()


class FakeSink:
    """An InsertSink recording rows; a row with "FAIL" is refused, a row with "BUG" raises a bug."""

    def __init__(self, target: str, store: list) -> None:
        self.target = target
        self.store = store
        self.closed = False

    def insert(self, row: Mapping[str, Any]) -> None:
        if "FAIL" in row:
            raise KsqlError(40000, "Failed to insert values into 'PAGEVIEWS'. Value for column FAIL is invalid")
        if "BUG" in row:
            raise RuntimeError("disk on fire")
        self.store.append((self.target, dict(row)))

    def close(self) -> None:
        self.closed = True


class FakeEngine:
    """The engine behind the unit tests of the REST layer and of the client."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.queries: list[FakeQuery] = []
        self.prints: list[FakePrint] = []
        self.inserted: list[tuple[str, dict]] = []
        self.sinks: list[FakeSink] = []
        self.sequence = 0
        self.statuses: dict[str, dict] = {}
        self.streams: dict[str, str] = {"PAGEVIEWS": "pageviews"}
        self.live = None  # the next push query on PAGEVIEWS without LIMIT, fed by the test

    # -- /ksql

    def execute(self, sql: str, *, properties: Mapping[str, Any], variables: Mapping[str, Any],
                command_sequence: int | None) -> list[dict]:
        self.calls.append(("execute", (sql, dict(properties), dict(variables), command_sequence)))
        if "ksql.bogus" in properties:
            raise KsqlError(40000, "Unknown property: ksql.bogus")
        produced: list[dict] = []
        for statement in [s.strip() + ";" for s in sql.split(";") if s.strip()]:
            produced += self._statement(statement, produced)
        return produced

    def _statement(self, statement: str, produced: list[dict]) -> list[dict]:
        words = statement.rstrip(";").upper().split()
        if words[0] in ("SELECT", "PRINT"):
            raise StatementError.query_endpoint(statement)
        if words[0] == "BOOM":
            raise RuntimeError("division by zero in the planner")
        if words[:2] == ["CREATE", "STREAM"]:
            name = re.match(r"CREATE STREAM\s+(\w+)", statement, re.I).group(1).upper()
            if name in self.streams:
                raise StatementError(40001, f"Cannot add stream '{name}': A stream with the same name already "
                                     f"exists", statement, produced)
            self.streams[name] = name.lower()
            self.sequence += 1
            command_id = f"stream/`{name}`/create"
            self.statuses[command_id] = entities.command_status("SUCCESS", "Stream created")
            return [entities.current_status(statement, command_id, "Stream created",
                                            command_sequence_number=self.sequence)]
        if words[:2] == ["SHOW", "STREAMS"] or words[:2] == ["LIST", "STREAMS"]:
            return [entities.streams_list(statement, [
                entities.source_info(name, topic, "KAFKA", "JSON") for name, topic in sorted(self.streams.items())])]
        if words[:2] == ["INSERT", "INTO"]:
            self.inserted.append(("sql", {"statement": statement}))
            return []
        raise StatementError.bad_statement(f"line 1:1: Syntax Error\nUnknown statement '{words[0]}'", statement)

    # -- queries

    def open_query(self, sql: str, *, properties: Mapping[str, Any], variables: Mapping[str, Any],
                   command_sequence: int | None = None, strict_properties: bool = True) -> Any:
        self.calls.append(("open_query", (sql, dict(properties), dict(variables), command_sequence)))
        text = " ".join(sql.split()).rstrip(";").upper()
        if text.count(";"):
            raise StatementError(40001, f"Expected exactly one KSQL statement; found {text.count(';') + 1} "
                                 f"instead", sql)
        if text.startswith("PRINT"):
            printer = FakePrint(["Key format: KAFKA_STRING", "Value format: JSON",
                                 "rowtime: 2024/01/01 00:00:00.000 Z, key: u1, value: {\"A\":1}, partition: 0"])
            self.prints.append(printer)
            return printer
        if not text.startswith("SELECT"):
            raise NotAQueryError(sql)
        limit = re.search(r"LIMIT (\d+)", text)
        limit_n = int(limit.group(1)) if limit else None
        if "FROM COUNTS" in text:  # a table pull query
            header = QueryHeader("query_1700000000000", ("ID", "COUNT", "AVG"), ("STRING", "BIGINT", "DECIMAL(4, 2)"),
                                 is_pull=True, key_columns=("ID",))
            rows = [["a", 1, Decimal("1.50")], ["b", 2, Decimal("0.25")]]
            query = FakeQuery(header, rows[:limit_n] if limit_n is not None else rows)
        elif "FROM FAILING" in text:
            header = QueryHeader("transient_FAILING_1", ("X",), ("INTEGER",))
            query = FakeQuery(header, [[1], KsqlError(50000, "Error deserializing row")])
        elif "FROM TOMBS" in text:
            header = QueryHeader("transient_TOMBS_2", ("K", "V"), ("STRING", "INTEGER"))
            query = FakeQuery(header, [["k1", 1], Tombstone(["k1", None]), ["k2", 2]], limit=limit_n)
        elif "FROM PAGEVIEWS" in text:
            header = QueryHeader(f"transient_PAGEVIEWS_{len(self.queries) + 1000}", PAGEVIEWS_COLUMNS,
                                 PAGEVIEWS_TYPES)
            if limit_n is not None:
                rows = [[f"USER_{i}", f"PAGE_{i}", i] for i in range(1, 10)]
                query = FakeQuery(header, rows, limit=limit_n, ends=False)
            elif "EMIT CHANGES" in text:
                query = FakeQuery(header, ends=False)
                self.live = query
            else:  # a stream pull query: ends by itself, runs as a push query
                query = FakeQuery(header, [["USER_1", "PAGE_1", 1]])
        else:
            name = re.search(r"FROM (\w+)", text)
            raise StatementError(40001, f"Exception while preparing statement: "
                                 f"{name.group(1) if name else '?'} does not exist.", sql)
        self.queries.append(query)
        return query

    # -- inserts and the rest

    def open_inserts(self, target: str, *, properties: Mapping[str, Any]) -> FakeSink:
        name = target[1:-1] if target.startswith("`") else target.upper()
        if name not in self.streams:
            raise KsqlError(40001, f"Cannot insert values into an unknown stream/table: {name}")
        sink = FakeSink(name, self.inserted)
        self.sinks.append(sink)
        return sink

    def info(self) -> ServerInfo:
        return ServerInfo("0.29.0", "kafka-cluster-1", "default_", "RUNNING")

    def health(self) -> HealthStatus:
        return HealthStatus(True)

    def command_statuses(self) -> Mapping[str, Mapping[str, Any]]:
        return dict(self.statuses)
