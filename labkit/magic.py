"""The `%%ksql` cell magic: run ksqlDB statements and queries from a notebook cell.

    %load_ext labkit.magic
    %%ksql
    CREATE STREAM s (id INT) WITH (kafka_topic='s', value_format='json', partitions=1);
    SELECT * FROM s EMIT CHANGES LIMIT 3;

Statements print one status line each (lists and descriptions render as tables); a pull query renders a
table; a push query with LIMIT collects its rows into a table, and one without LIMIT renders a live widget
with a Stop button. Options: `--earliest` (read from the beginning: `auto.offset.reset=earliest`),
`--timeout S` (how long a push query may run), `--property KEY=VALUE` (repeatable).
Works against any ksqlDB server (the URL comes from labkit.config).
"""
from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import pandas as pd

from labkit.errors import LabkitError
from labkit.ksql import KsqlClient

__all__ = ["CellStatement", "split_cell", "entity_summary", "run_cell", "load_ipython_extension"]


@dataclass(frozen=True)
class CellStatement:
    """One statement of a cell: its text and what kind of request it needs."""

    text: str
    kind: str  # "statement", "pull", "push" or "print"
    limit: int | None = None


def split_cell(sql: str) -> list[CellStatement]:
    """Split a cell into statements and classify each (parsed, never guessed from the text)."""
    from labkit.sql import ast, parse

    statements = []
    for statement in parse(sql):
        text = statement.text.strip()
        if isinstance(statement, ast.Query):
            limit = statement.limit
            push = statement.emit is not None and str(statement.emit).upper().endswith(("CHANGES", "FINAL"))
            statements.append(CellStatement(text, "push" if push else "pull", limit))
        elif isinstance(statement, ast.PrintTopic):
            statements.append(CellStatement(text, "print", getattr(statement, "limit", None)))
        else:
            statements.append(CellStatement(text, "statement"))
    return statements


def entity_summary(entity: dict[str, Any]) -> Any:
    """A learner-friendly view of one /ksql entity: a status line or a DataFrame."""
    kind = entity.get("@type", "")
    if "commandStatus" in entity:
        return entity["commandStatus"].get("message", kind)
    for key in ("streams", "tables", "topics", "queries", "types", "functions", "properties",
                "sourceDescriptions", "variables", "connectors"):
        if key in entity and isinstance(entity[key], list):
            return pd.DataFrame(entity[key])
    if "properties" in entity and isinstance(entity["properties"], list):
        return pd.DataFrame(entity["properties"])
    if "sourceDescription" in entity:
        description = entity["sourceDescription"]
        return pd.DataFrame([{"column": f["name"], "type": f["schema"]["type"], "key": f.get("type", "")}
                             for f in description.get("fields", [])])
    if "queryDescription" in entity:
        return entity["queryDescription"].get("statementText", kind)
    if "message" in entity:
        return entity["message"]
    return entity


def run_cell(sql: str, *, client: KsqlClient, properties: dict[str, Any] | None = None,
             timeout: float | None = None, show: Callable[[Any], None] = print) -> list[Any]:
    """Run every statement of a cell in order; returns what was shown (status lines, DataFrames, widgets)."""
    shown: list[Any] = []

    def emit(item: Any) -> None:
        shown.append(item)
        show(item)

    for statement in split_cell(sql):
        if statement.kind == "statement":
            entities = client.execute(statement.text, properties=properties)
            if not entities:
                emit("OK")
            for entity in entities:
                emit(entity_summary(entity))
        elif statement.kind == "pull":
            emit(client.pull(statement.text, properties=properties))
        elif statement.kind == "print":
            emit("\n".join(client.print_topic(statement.text, timeout=timeout or 10.0)))
        elif statement.limit is not None or timeout is not None:
            query = client.push(statement.text, properties=properties, timeout=timeout)
            with query:
                rows = list(query)
            emit(pd.DataFrame(rows, columns=query.columns))
        else:
            from labkit.widgets.live_query import LiveQueryView

            query = client.push(statement.text, properties=properties)
            emit(LiveQueryView(_closing(query), columns=query.columns, title=statement.text[:60],
                               on_stop=query.close))
    return shown


def _closing(query: Iterable[Any]) -> Iterable[Any]:
    with query:  # type: ignore[attr-defined]
        yield from query


def _parse_options(line: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="%%ksql", add_help=False)
    parser.add_argument("--earliest", action="store_true")
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--property", action="append", default=[])
    parser.add_argument("--url")
    return parser.parse_args(shlex.split(line))


def ksql(line: str, cell: str) -> None:
    """The cell magic: errors print as messages (never a traceback) so a typo reads like ksqlDB's CLI."""
    from IPython.display import display

    try:
        options = _parse_options(line)
    except SystemExit:
        print("Usage: %%ksql [--earliest] [--timeout SECONDS] [--property KEY=VALUE] [--url URL]")
        return
    properties: dict[str, Any] = {}
    if options.earliest:
        properties["auto.offset.reset"] = "earliest"
    for item in options.property:
        key, _, value = item.partition("=")
        properties[key.strip()] = value.strip()
    try:
        with KsqlClient(options.url) as client:
            run_cell(cell, client=client, properties=properties or None, timeout=options.timeout, show=display)
    except LabkitError as error:
        print(f"Error: {error}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext labkit.magic` registers `%%ksql`."""
    ipython.register_magic_function(ksql, magic_kind="cell", magic_name="ksql")
