"""`labkit ksql`: an interactive SQL prompt for ksqlDB, like ksqlDB's own CLI, over its REST API.

    $ labkit ksql
    ksql> SHOW STREAMS;
    ksql> SELECT * FROM riders
       >> EMIT CHANGES;            (rows stream in; Ctrl-C ends the query, not the prompt)
    ksql> exit

A statement may span lines; it runs when a line ends it with `;` (outside quotes and comments). Results print
as ksqlDB's CLI prints them: statements and lists as column tables, query rows in `|`-boxed cells.
`SET 'property'='value';` / `UNSET` and `DEFINE name = 'value';` / `UNDEFINE` hold for the session, as in
ksqlDB's CLI. `--execute "SQL"` and `--file F` run statements without a prompt (the first error stops them).
History is kept in the run directory (`ksql_history`). Errors print the server's message; a server that
does not answer gets a hint to start it with `labkit up`.

Input uses Python's `input()` with readline (line editing and history): prompt_toolkit is only an indirect
dependency here (through IPython), and plain line input keeps the prompt scriptable through a pipe or pty.
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

from labkit.errors import KsqlError, LabkitError
from labkit.ksql import KsqlClient, KsqlConnectionError, KsqlResponseError

__all__ = ["KsqlRepl", "split_statements", "boxed_table", "query_row", "query_header", "render_entity",
           "HISTORY_FILE", "PROMPT", "CONTINUATION_PROMPT"]

PROMPT = "ksql> "
CONTINUATION_PROMPT = "   >> "
HISTORY_FILE = "ksql_history"
HISTORY_LENGTH = 1000
MIN_CELL_WIDTH = 5
EXIT_WORDS = ("exit", "quit")
HELP = """\
Statements end with ';' and may span lines. Examples:
  SHOW STREAMS;   SHOW TABLES;   SHOW TOPICS;   SHOW QUERIES;   DESCRIBE <name>;
  CREATE STREAM s (id INT KEY, v VARCHAR) WITH (kafka_topic='s', value_format='json', partitions=1);
  SELECT * FROM s EMIT CHANGES;            push query: rows stream until Ctrl-C (or LIMIT n)
  SELECT * FROM t WHERE id = 1;            pull query: the current rows, then it ends
  PRINT 's' FROM BEGINNING;                the topic's records, until Ctrl-C
  SET 'auto.offset.reset'='earliest';      for the rest of this session (UNSET to undo)
Commands: help, exit or quit (or Ctrl-D). Ctrl-C ends a running query, or clears the line being typed."""


# -- splitting input into statements

def split_statements(text: str) -> tuple[list[str], str]:
    """Split `text` at each `;` outside quotes and comments: (complete statements, unfinished rest).

    Quotes: 'string' (with '' inside), `identifier`, "identifier"; comments: -- to end of line, /* … */.
    Each statement keeps its `;`; statements that are only blanks or comments are dropped.
    """
    statements: list[str] = []
    start = index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char in "'`\"":
            index = _end_of_quote(text, index, char)
        elif text.startswith(("--", "/*"), index):
            index = _end_of_comment(text, index)
        elif char == ";":
            statement = text[start:index + 1].strip()
            if _has_code(statement):
                statements.append(statement)
            start = index = index + 1
        else:
            index += 1
    rest = text[start:]
    return statements, rest if _has_code(rest) or rest.strip() else ""


def _end_of_quote(text: str, index: int, quote: str) -> int:
    """Index just after the quote that closes the one at `index` (len(text) while it is still open)."""
    position = index + 1
    while True:
        close = text.find(quote, position)
        if close < 0:
            return len(text)
        if quote == "'" and text.startswith("''", close):
            position = close + 2
            continue
        return close + 1


def _end_of_comment(text: str, index: int) -> int:
    """Index just after the `--` line comment or `/* */` block comment that starts at `index`."""
    if text.startswith("--", index):
        newline = text.find("\n", index)
        return len(text) if newline < 0 else newline + 1
    close = text.find("*/", index + 2)
    return len(text) if close < 0 else close + 2


def _has_code(text: str) -> bool:
    """Whether `text` holds anything but blanks, comments and semicolons."""
    index, length = 0, len(text)
    while index < length:
        if text[index].isspace() or text[index] == ";":
            index += 1
        elif text.startswith(("--", "/*"), index):
            index = _end_of_comment(text, index)
        else:
            return True
    return False


# -- rendering, as ksqlDB's CLI renders

def boxed_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, header_lines: Sequence[str] = (),
                footer_lines: Sequence[str] = (), width: int | None = None) -> str:
    """Columns padded to their widest cell, ` | ` between them, a dashed line above and below the rows."""
    cells = [[_text(value) for value in row] for row in rows]
    lines = list(header_lines)
    if headers:
        widths = [max([len(header)] + [_widest_line(row[i]) for row in cells]) for i, header in enumerate(headers)]
        separator = "-" * min(width or sys.maxsize, sum(w + 3 for w in widths) - 1)
        lines.append(_padded(headers, widths))
        lines.append(separator)
        lines.extend(_padded(row, widths) for row in cells)
        lines.append(separator)
    lines.extend(footer_lines)
    return "\n".join(lines)


def _padded(values: Sequence[str], widths: Sequence[int]) -> str:
    return " " + " | ".join(value.ljust(width) for value, width in zip(values, widths)) + " "


def _widest_line(value: str) -> int:
    return max((len(line) for line in value.splitlines()), default=0)


def cell_width(columns: int, width: int) -> int:
    """The width of every cell of a query's rows: the terminal shared out between the columns."""
    return max(width // max(columns, 1) - 2, MIN_CELL_WIDTH)


def query_header(columns: Sequence[str], width: int) -> str:
    """The header of a query's rows: column names boxed by `+-----+` lines."""
    cell = cell_width(len(columns), width)
    border = "+" + "+".join("-" * cell for _ in columns) + "+"
    return "\n".join([border, _cells([str(c) for c in columns], cell, wrap=True), border])


def query_row(values: Sequence[Any], width: int) -> str:
    """One row of a query: `|value  |value  |`; long values wrap inside their cell."""
    return _cells([_text(value) for value in values], cell_width(len(values), width), wrap=True)


def _cells(values: Sequence[str], cell: int, *, wrap: bool) -> str:
    pieces = [[value[i:i + cell] for i in range(0, len(value), cell)] or [""] for value in values]
    height = max(len(piece) for piece in pieces) if wrap else 1
    lines = []
    for line in range(height):
        lines.append("|" + "|".join((piece[line] if line < len(piece) else "").ljust(cell) for piece in pieces)
                     + "|")
    return "\n".join(lines)


def _text(value: Any) -> str:
    """A value as ksqlDB's CLI prints it: null, true/false, {K=V, …} for maps and structs, [a, b] for arrays."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}={_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(item) for item in value) + "]"
    return str(value)


def type_text(schema: Mapping[str, Any]) -> str:
    """A column type of a DESCRIBE answer as ksqlDB's CLI spells it (VARCHAR(STRING), ARRAY<INTEGER>, …)."""
    kind = schema.get("type", "?")
    member = schema.get("memberSchema")
    if kind == "STRING":
        return "VARCHAR(STRING)"
    if kind == "ARRAY" and member:
        return f"ARRAY<{type_text(member)}>"
    if kind == "MAP" and member:
        return f"MAP<STRING, {type_text(member)}>"
    if kind == "STRUCT":
        fields = ", ".join(f"{f['name']} {type_text(f['schema'])}" for f in schema.get("fields") or [])
        return f"STRUCT<{fields}>"
    if kind == "DECIMAL":
        parameters = schema.get("parameters") or {}
        return f"DECIMAL({parameters.get('precision')}, {parameters.get('scale')})"
    return str(kind)


def _source_list(entity: Mapping[str, Any], key: str, title: str, width: int | None) -> str:
    rows = [[s.get("name"), s.get("topic"), s.get("keyFormat"), s.get("valueFormat"), s.get("isWindowed")]
            for s in entity.get(key, [])]
    return boxed_table([f"{title} Name", "Kafka Topic", "Key Format", "Value Format", "Windowed"], rows, width=width)


def _topics(entity: Mapping[str, Any], width: int | None) -> str:
    rows = [[t.get("name"), len(t.get("replicaInfo", [])), (t.get("replicaInfo") or [""])[0]]
            for t in entity.get("topics", [])]
    return boxed_table(["Kafka Topic", "Partitions", "Partition Replicas"], rows, width=width)


def _queries(entity: Mapping[str, Any], width: int | None) -> str:
    rows = []
    for query in entity.get("queries", []):
        counts = query.get("statusCount") or {}
        status = ",".join(f"{state}:{count}" for state, count in counts.items()) or query.get("state") or "N/A"
        rows.append([query.get("id"), query.get("queryType"), status, ",".join(query.get("sinks", [])),
                     ",".join(query.get("sinkKafkaTopics", [])), " ".join(str(query.get("queryString")).split())])
    return boxed_table(["Query ID", "Query Type", "Status", "Sink Name", "Sink Kafka Topic", "Query String"], rows,
                       footer_lines=["For detailed information on a Query run: EXPLAIN <Query ID>;"], width=width)


def _properties(entity: Mapping[str, Any], width: int | None) -> str:
    overwritten = set(entity.get("overwrittenProperties", []))
    defaults = set(entity.get("defaultProperties", []))
    rows = []
    for prop in sorted(entity.get("properties", []), key=lambda p: p.get("name", "")):
        name = prop.get("name", "")
        override = "SESSION" if name in overwritten else "" if name in defaults else "SERVER"
        value = prop.get("value")
        rows.append([name, prop.get("scope", ""), override, "NULL" if value is None else value])
    return boxed_table(["Property", "Scope", "Default override", "Effective Value"], rows, width=width)


def _schema_table(fields: Sequence[Mapping[str, Any]], is_table: bool, window: str | None,
                  width: int | None) -> str:
    rows = []
    for f in fields:
        kind = type_text(f.get("schema", {}))
        if f.get("type") == "KEY":
            key = "(primary key)" if is_table else "(key)"
            kind = f"{kind:<16} {key}" + (f" (Window type: {window})" if window else "")
        rows.append([f.get("name"), kind])
    return boxed_table(["Field", "Type"], rows, width=width) if rows else ""


def _source_description(source: Mapping[str, Any], width: int | None) -> str:
    is_table = str(source.get("type", "")).upper() == "TABLE"
    lines = [f"{'Name':<20} : {source.get('name')}"]
    schema = _schema_table(source.get("fields", []), is_table, source.get("windowType"), width)
    if not source.get("extended"):
        lines += [schema, "For runtime statistics and query details run: DESCRIBE <Stream,Table> EXTENDED;"]
        return "\n".join(line for line in lines if line)
    topic = f"{'Kafka topic':<20} : {source.get('topic')}"
    if source.get("partitions"):
        topic += f" (partitions: {source.get('partitions')}, replication: {source.get('replication')})"
    lines += [f"{'Type':<20} : {source.get('type')}",
              f"{'Timestamp field':<20} : {source.get('timestamp') or 'Not set - using <ROWTIME>'}",
              f"{'Key format':<20} : {source.get('keyFormat')}",
              f"{'Value format':<20} : {source.get('valueFormat')}", topic,
              f"{'Statement':<20} : {source.get('statement')}", "", schema]
    for kind, verb in (("readQueries", "read"), ("writeQueries", "write")):
        queries = source.get(kind) or []
        if queries:
            lines += ["", f"Queries that {verb} from this {source.get('type')}", "-" * 35]
            lines += [f"{q.get('id')} ({q.get('state', 'N/A')}) : {' '.join(str(q.get('queryString')).split())}"
                      for q in queries]
    lines += ["", "Local runtime statistics", "------------------------", str(source.get("statistics", "")),
              str(source.get("errorStats", ""))]
    return "\n".join(lines)


def _query_description(query: Mapping[str, Any], width: int | None) -> str:
    lines = [f"{'ID':<20} : {query.get('id')}", f"{'Query Type':<20} : {query.get('queryType')}"]
    if query.get("statementText"):
        lines.append(f"{'SQL':<20} : {query.get('statementText')}")
    lines += ["", _schema_table(query.get("fields", []), False, query.get("windowType"), width)]
    for key, title in (("sources", "Sources that this query reads from: "),
                       ("sinks", "Sinks that this query writes to: ")):
        if query.get(key):
            lines += ["", title, "-" * 35, *query[key]]
    for key, title in (("executionPlan", "Execution plan"), ("topology", "Processing topology")):
        if query.get(key):
            lines += ["", title, "-" * len(title), str(query[key])]
    return "\n".join(lines)


def _function(entity: Mapping[str, Any]) -> str:
    lines = [f"{'Name':<12} : {entity.get('name')}"]
    for key, title in (("author", "Author"), ("version", "Version"), ("description", "Overview"),
                       ("type", "Type"), ("path", "Jar")):
        if entity.get(key):
            lines.append(f"{title:<12} : {entity[key]}")
    lines.append(f"{'Variations':<12} : ")
    for variation in entity.get("functions", []):
        arguments = ", ".join(f"{a.get('name')} {a.get('type')}".strip() for a in variation.get("arguments", []))
        lines += ["", f"\t{'Variation':<12} : {entity.get('name')}({arguments})",
                  f"\t{'Returns':<12} : {variation.get('returnType')}"]
        if variation.get("description"):
            lines.append(f"\t{'Description':<12} : {variation['description']}")
    return "\n".join(lines)


def render_entity(entity: Mapping[str, Any], *, width: int | None = None) -> str:
    """One /ksql answer entity as ksqlDB's CLI prints it (a column table for statuses and lists)."""
    kind = entity.get("@type")
    if "commandStatus" in entity:
        return boxed_table(["Message"], [[entity["commandStatus"].get("message", "")]], width=width)
    if kind == "warning_entity":
        return boxed_table(["Message"], [[entity.get("message", "")]], width=width)
    if kind == "streams":
        return _source_list(entity, "streams", "Stream", width)
    if kind == "tables":
        return _source_list(entity, "tables", "Table", width)
    if kind == "kafka_topics":
        return _topics(entity, width)
    if kind == "queries":
        return _queries(entity, width)
    if kind == "properties":
        return _properties(entity, width)
    if kind == "sourceDescription":
        return _source_description(entity.get("sourceDescription", {}), width)
    if kind == "source_descriptions":
        return "\n\n".join(_source_description(s, width) for s in entity.get("sourceDescriptions", []))
    if kind == "queryDescription":
        return _query_description(entity.get("queryDescription", {}), width)
    if kind == "terminate_query":
        return boxed_table(["Message"], [[f"Query {entity.get('queryId')} terminated."
                                          if entity.get("wasTerminated") else
                                          f"Query {entity.get('queryId')} was not running."]], width=width)
    if kind == "function_names":
        rows = [[f.get("name"), f.get("category", "")] for f in entity.get("functions", [])]
        return boxed_table(["Function Name", "Category"], rows, width=width, footer_lines=[
            "For detailed information about a function, run: DESCRIBE FUNCTION <Function Name>;"])
    if kind == "describe_function":
        return _function(entity)
    if kind == "type_list":
        rows = [[name, type_text(schema)] for name, schema in sorted((entity.get("types") or {}).items())]
        return boxed_table(["Type Name", "Schema"], rows, width=width)
    if kind == "variables":
        rows = [[v.get("name"), v.get("value")] for v in entity.get("variables", [])]
        return boxed_table(["Variable Name", "Value"], rows, width=width)
    if kind and "message" in entity:
        return str(entity["message"])
    return json.dumps(entity, indent=2, default=str)


# -- the prompt

@dataclass
class KsqlRepl:
    """Run ksqlDB statements typed at a prompt or given as text, printing what ksqlDB's CLI would print."""

    client: KsqlClient
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    width: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)

    def _say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _error(self, text: str) -> None:
        self.err.write(text + "\n")
        self.err.flush()

    @property
    def table_width(self) -> int | None:
        """How wide a statement's dashed lines may get: the terminal's width, unbounded in a pipe or file."""
        if self.width:
            return self.width
        isatty = getattr(self.out, "isatty", None)
        return self.columns if isatty is not None and isatty() else None

    @property
    def columns(self) -> int:
        """The terminal width that query rows share out (COLUMNS, or 80 when there is no terminal)."""
        return self.width or shutil.get_terminal_size((80, 24)).columns

    def run_script(self, text: str, *, stop_on_error: bool = True) -> bool:
        """Run every statement in `text` (the last may lack its `;`); True when all succeeded."""
        statements, rest = split_statements(text)
        if rest.strip():
            statements.append(rest.strip())  # the CLI runs a script's last statement even without `;`
        ok = True
        for statement in statements:
            if not self.run_statement(statement):
                ok = False
                if stop_on_error:
                    break
        return ok

    def run_statement(self, statement: str) -> bool:
        """Run one statement and print its answer; errors print as messages. True when it succeeded."""
        try:
            self._dispatch(statement)
            return True
        except KsqlConnectionError as error:
            self._error(str(error))
        except KsqlResponseError as error:
            for entity in error.entities:
                self._say(render_entity(entity, width=self.table_width))
            self._error(error.message)
        except (KsqlError, LabkitError) as error:
            self._error(str(error))
        except KeyboardInterrupt:
            self._error("Interrupted: the statement's answer was not read.")
        return False

    def _dispatch(self, statement: str) -> None:
        parsed = _parse(statement)
        kind = type(parsed).__name__ if parsed is not None else _first_word(statement)
        if kind in ("SetProperty", "SET"):
            self._set(parsed, statement)
        elif kind in ("UnsetProperty", "UNSET"):
            self._unset(parsed, statement)
        elif kind in ("DefineVariable", "DEFINE"):
            self._define(parsed, statement)
        elif kind in ("UndefineVariable", "UNDEFINE"):
            self._undefine(parsed, statement)
        elif kind in ("Query", "SELECT"):
            self._query(statement, push=_is_push(parsed, statement))
        elif kind in ("PrintTopic", "PRINT"):
            self._print_topic(statement)
        else:
            self._execute(statement)

    def _execute(self, statement: str) -> None:
        entities = self.client.execute(statement, properties=self.properties or None,
                                       variables=self.variables or None)
        for entity in entities:
            self._say()
            self._say(render_entity(entity, width=self.table_width))
            for warning in entity.get("warnings") or []:
                self._say(f"WARNING: {warning.get('message')}")

    def _query(self, statement: str, *, push: bool) -> None:
        rows = self.client.push(statement, properties=self.properties or None, variables=self.variables or None,
                                as_dict=False)
        width = self.columns
        try:
            self._say(query_header(rows.columns, width))
            if push:
                self._say("Press CTRL-C to interrupt")
            for row in rows:
                self._say(query_row(row, width))
            if push and rows.limit is None and _limit_of(statement) is not None:
                self._say("Limit Reached")
        except KeyboardInterrupt:
            pass  # Ctrl-C ends this query only; close() below tells the server
        finally:
            try:
                rows.close()
            except KeyboardInterrupt:
                rows.close()
        self._say("Query terminated")

    def _print_topic(self, statement: str) -> None:
        lines = self.client.print_topic(statement)
        try:
            for line in lines:
                self._say(line)
        except KeyboardInterrupt:
            pass
        finally:
            lines.close()  # type: ignore[attr-defined]
        self._say("Topic printing ceased")

    def _set(self, parsed: Any, statement: str) -> None:
        name, value = (parsed.name, parsed.value) if parsed is not None else _name_value(statement)
        before = self.properties.get(name)
        self.properties[name] = value
        if before is None:
            self._say(f"Successfully changed local property '{name}' to '{value}'. "
                      "Use the UNSET command to revert your change.")
        else:
            self._say(f"Successfully changed local property '{name}' from '{before}' to '{value}'.")

    def _unset(self, parsed: Any, statement: str) -> None:
        name = parsed.name if parsed is not None else _name_value(statement)[0]
        if name in self.properties:
            value = self.properties.pop(name)
            self._say(f"Successfully unset local property '{name}' (value was '{value}').")
        else:
            self._error(f"Cannot unset local property '{name}' which was never set")

    def _define(self, parsed: Any, statement: str) -> None:
        name, value = (parsed.name, parsed.value) if parsed is not None else _name_value(statement)
        self.variables[name] = value

    def _undefine(self, parsed: Any, statement: str) -> None:
        name = parsed.name if parsed is not None else _name_value(statement)[0]
        if self.variables.pop(name, None) is None:
            self._say(f"WARNING: Cannot undefine variable '{name}' which was never defined")

    # -- interactive use

    def interactive(self, *, history: Path | None = None, read: Callable[[str], str] = input,
                    banner: bool = True) -> int:
        """Read statements at a prompt until exit, quit or Ctrl-D; returns the exit code (0)."""
        editing = _Readline(history)
        if banner:
            self._banner()
        buffer = ""
        try:
            while True:
                try:
                    line = read(CONTINUATION_PROMPT if buffer else PROMPT)
                except EOFError:
                    self._say()
                    break
                except KeyboardInterrupt:
                    self._say()  # Ctrl-C at the prompt drops what was typed
                    buffer = ""
                    editing.forget_statement()
                    continue
                word = line.strip().rstrip(";").strip().lower()
                if not buffer and word in EXIT_WORDS:
                    break
                if not buffer and word == "help":
                    self._say(HELP)
                    editing.forget_statement()
                    continue
                buffer += line + "\n"
                statements, buffer = split_statements(buffer)
                if statements:
                    editing.keep_statement(" ".join(" ".join(part.strip() for part in statement.splitlines())
                                                    for statement in statements))
                for statement in statements:
                    self.run_statement(statement)
        finally:
            editing.save()
        self._say("Exiting ksqlDB.")
        return 0

    def _banner(self) -> None:
        try:
            info = self.client.info()
            server = f"ksqlDB {info.get('version', '?')} at {self.client.url} (service {info.get('ksqlServiceId')})"
        except LabkitError as error:
            server = f"{self.client.url}: {error}"
        self._say(f"labkit ksql — {server}")
        self._say("Statements end with ';'. Type 'help' for examples, 'exit' or Ctrl-D to leave.")
        self._say()


class _Readline:
    """Line editing and history through readline when there is one (a multi-line statement is one entry)."""

    def __init__(self, history: Path | None) -> None:
        self.history = history
        self.start = 0
        try:
            import readline
        except ImportError:  # e.g. Windows without pyreadline
            self.readline = None
            return
        self.readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        if history is not None and history.exists():
            try:
                readline.read_history_file(str(history))
            except OSError:
                pass  # an unreadable history starts empty; the session still works
        self.start = readline.get_current_history_length()

    def keep_statement(self, statement: str) -> None:
        """Replace the lines typed since the last statement by the statement on one line."""
        self.forget_statement()
        if self.readline is not None:
            self.readline.add_history(statement)
            self.start = self.readline.get_current_history_length()

    def forget_statement(self) -> None:
        """Drop the history lines typed since the last statement (or a command such as help)."""
        if self.readline is None:
            return
        while self.readline.get_current_history_length() > self.start:
            self.readline.remove_history_item(self.readline.get_current_history_length() - 1)

    def save(self) -> None:
        """Write the history file (its folder is created when missing)."""
        if self.readline is None or self.history is None:
            return
        self.forget_statement()
        self.history.parent.mkdir(parents=True, exist_ok=True)
        self.readline.write_history_file(str(self.history))


def _parse(statement: str) -> Any:
    """The statement's AST, or None when labkit's parser cannot read it (the server then answers)."""
    from labkit.sql import parse

    try:
        parsed = parse(statement)
    except LabkitError:
        return None
    return parsed[0] if len(parsed) == 1 else None


def _first_word(statement: str) -> str:
    """The statement's verb (upper case), skipping leading comments."""
    text = statement.strip()
    while text.startswith(("--", "/*")):
        end = text.find("\n") if text.startswith("--") else text.find("*/") + 1
        text = text[end + 1:].strip() if end > 0 else ""
    words = text.replace("(", " ").split()
    return words[0].upper().rstrip(";") if words else ""


def _is_push(parsed: Any, statement: str) -> bool:
    """A push query: EMIT CHANGES or EMIT FINAL (the text decides when labkit's parser could not read it)."""
    if parsed is not None:
        return str(getattr(parsed, "emit", None) or "").upper().endswith(("CHANGES", "FINAL"))
    words = " ".join(statement.upper().split())
    return "EMIT CHANGES" in words or "EMIT FINAL" in words


def _limit_of(statement: str) -> int | None:
    parsed = _parse(statement)
    return getattr(parsed, "limit", None) if parsed is not None else None


def _name_value(statement: str) -> tuple[str, str]:
    """Name and value of a SET/DEFINE labkit's parser could not read: the quoted or bare words after the verb."""
    body = statement.strip().rstrip(";").split(None, 1)[1] if len(statement.split()) > 1 else ""
    name, _, value = body.partition("=")
    return name.strip().strip("'"), value.strip().strip("'")
