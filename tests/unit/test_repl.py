"""`labkit ksql` without a server: splitting input into statements, ksqlDB-CLI tables, session properties."""
from __future__ import annotations

import io

import pytest

from labkit import repl
from labkit.ksql import KsqlConnectionError, KsqlResponseError
from labkit.repl import KsqlRepl, boxed_table, query_header, query_row, render_entity, split_statements


@pytest.mark.parametrize("text, statements, rest", [
    ("SHOW STREAMS;", ["SHOW STREAMS;"], ""),
    ("SHOW STREAMS; SHOW TABLES;\n", ["SHOW STREAMS;", "SHOW TABLES;"], ""),
    ("SELECT *\nFROM s\n", [], "SELECT *\nFROM s\n"),
    ("SELECT 'a;b' FROM s;", ["SELECT 'a;b' FROM s;"], ""),
    ("SELECT 'it''s;' FROM s;", ["SELECT 'it''s;' FROM s;"], ""),
    ("SELECT `we;ird` FROM s;", ["SELECT `we;ird` FROM s;"], ""),
    ("SELECT \"we;ird\" FROM s;", ["SELECT \"we;ird\" FROM s;"], ""),
    ("-- a comment; still a comment\nSHOW TOPICS;", ["-- a comment; still a comment\nSHOW TOPICS;"], ""),
    ("/* one; two */ SHOW TOPICS;", ["/* one; two */ SHOW TOPICS;"], ""),
    ("SELECT 'open; quote", [], "SELECT 'open; quote"),
    (";;  ;\n", [], ""),
    ("-- only a comment\n", [], "-- only a comment\n"),
])
def test_statements_end_at_semicolons_outside_quotes_and_comments(text, statements, rest):
    assert split_statements(text) == (statements, rest)


def test_a_statement_table_pads_columns_and_draws_dashed_lines_like_ksqldbs_cli():
    table = boxed_table(["Stream Name", "Kafka Topic"], [["RIDERS", "riders"], ["KSQL_PROCESSING_LOG", "log"]])
    assert table.splitlines() == [
        " Stream Name         | Kafka Topic ",
        "-----------------------------------",
        " RIDERS              | riders      ",
        " KSQL_PROCESSING_LOG | log         ",
        "-----------------------------------",
    ]
    assert boxed_table(["A"], [["x"]], width=3).splitlines()[1] == "---"  # never wider than the terminal


def test_query_rows_share_the_terminal_width_and_wrap_long_values():
    assert query_header(["ID", "NAME"], 20).splitlines() == [
        "+--------+--------+", "|ID      |NAME    |", "+--------+--------+"]
    assert query_row([1, "a long value"], 20).splitlines() == ["|1       |a long v|", "|        |alue    |"]
    assert query_row([None, True], 4).splitlines() == ["|null |true |"]  # cells are at least 5 wide


def test_values_print_as_ksqldbs_cli_prints_them():
    assert query_row([{"A": 1, "B": [1, None]}, False, 2.5], 66) == (
        "|{A=1, B=[1, null]}  |false               |2.5                 |")


def test_entities_render_as_tables_with_ksqldbs_headers():
    status = {"@type": "currentStatus", "commandStatus": {"status": "SUCCESS", "message": "Stream created"}}
    assert render_entity(status).splitlines()[0] == " Message        "
    assert "Stream created" in render_entity(status)
    streams = {"@type": "streams", "streams": [{"type": "STREAM", "name": "S", "topic": "s", "keyFormat": "KAFKA",
                                                "valueFormat": "JSON", "isWindowed": False}]}
    lines = render_entity(streams).splitlines()
    assert lines[0].split("|")[0].strip() == "Stream Name" and lines[2].split("|")[-1].strip() == "false"
    queries = {"@type": "queries", "queries": [{"id": "CSAS_T_3", "queryType": "PERSISTENT",
                                                "statusCount": {"RUNNING": 1}, "sinks": ["T"],
                                                "sinkKafkaTopics": ["t"], "queryString": "CREATE STREAM T\nAS …;"}]}
    text = render_entity(queries)
    assert "| RUNNING:1 |" in text and "CREATE STREAM T AS …;" in text and text.endswith("EXPLAIN <Query ID>;")


def test_describe_shows_key_columns_and_types_as_ksqldbs_cli():
    description = {"@type": "sourceDescription", "sourceDescription": {
        "name": "T", "type": "TABLE", "extended": False, "windowType": None, "fields": [
            {"name": "ID", "schema": {"type": "STRING"}, "type": "KEY"},
            {"name": "TAGS", "schema": {"type": "ARRAY", "memberSchema": {"type": "INTEGER"}}},
            {"name": "PRICE", "schema": {"type": "DECIMAL", "parameters": {"precision": 4, "scale": 2}}}]}}
    lines = render_entity(description).splitlines()
    assert lines[0] == "Name                 : T"
    assert lines[3] == " ID    | VARCHAR(STRING)  (primary key) "
    assert lines[4].split("|")[1].strip() == "ARRAY<INTEGER>" and lines[5].split("|")[1].strip() == "DECIMAL(4, 2)"
    assert lines[-1].startswith("For runtime statistics")


class FakeClient:
    """Records what the REPL sends; answers every statement with a status entity (or raises `error`)."""

    url = "http://fake"

    def __init__(self, error=None):
        self.error = error
        self.sent = []

    def execute(self, sql, *, properties=None, variables=None):
        self.sent.append((sql, properties, variables))
        if self.error is not None:
            raise self.error
        return [{"@type": "currentStatus", "commandStatus": {"message": "Stream created"}, "warnings": []}]


def make_repl(client):
    out, err = io.StringIO(), io.StringIO()
    return KsqlRepl(client, out=out, err=err, width=80), out, err


def test_set_and_define_last_for_the_session_and_go_with_every_statement():
    client = FakeClient()
    shell, out, _ = make_repl(client)
    assert shell.run_script("SET 'auto.offset.reset'='earliest'; DEFINE topic = 'riders'; SHOW STREAMS;")
    assert client.sent == [("SHOW STREAMS;", {"auto.offset.reset": "earliest"}, {"topic": "riders"})]
    assert "Successfully changed local property 'auto.offset.reset' to 'earliest'" in out.getvalue()
    assert shell.run_script("UNSET 'auto.offset.reset'; UNDEFINE topic; SHOW TABLES;")
    assert client.sent[-1] == ("SHOW TABLES;", None, None)
    assert "(value was 'earliest')" in out.getvalue()


def test_a_script_stops_at_its_first_error_and_prints_the_servers_message():
    error = KsqlResponseError(40001, "Stream S does not exist.", "DROP STREAM s;", status_code=400)
    client = FakeClient(error)
    shell, out, err = make_repl(client)
    assert shell.run_script("DROP STREAM s; SHOW STREAMS;") is False
    assert [sql for sql, _, _ in client.sent] == ["DROP STREAM s;"]
    assert err.getvalue() == "Stream S does not exist.\n" and out.getvalue() == ""


def test_an_unreachable_server_says_how_to_start_one():
    client = FakeClient(KsqlConnectionError("No ksqlDB server answers at http://fake. Start it with `labkit up`."))
    shell, _, err = make_repl(client)
    assert shell.run_statement("SHOW STREAMS;") is False
    assert "labkit up" in err.getvalue()


def test_the_prompt_reads_lines_until_a_statement_ends_and_leaves_on_exit():
    client = FakeClient()
    shell, out, _ = make_repl(client)
    lines = iter(["SHOW", "  STREAMS", ";", "help", "exit", "SHOW TOPICS;"])
    prompts = []

    def read(prompt):
        prompts.append(prompt)
        return next(lines)

    assert shell.interactive(read=read, banner=False) == 0
    assert [sql for sql, _, _ in client.sent] == ["SHOW\n  STREAMS\n;"]
    assert prompts == [repl.PROMPT, repl.CONTINUATION_PROMPT, repl.CONTINUATION_PROMPT, repl.PROMPT,
                       repl.PROMPT]
    assert "Ctrl-C ends a running query" in out.getvalue() and out.getvalue().endswith("Exiting ksqlDB.\n")


def test_ctrl_c_at_the_prompt_drops_the_unfinished_statement_and_ctrl_d_leaves():
    client = FakeClient()
    shell, _, _ = make_repl(client)
    events = iter(["SHOW", KeyboardInterrupt, "SHOW TABLES;", EOFError])

    def read(prompt):
        event = next(events)
        if isinstance(event, type) and issubclass(event, BaseException):
            raise event
        return event

    assert shell.interactive(read=read, banner=False) == 0
    assert [sql for sql, _, _ in client.sent] == ["SHOW TABLES;"]


def test_the_ksql_command_takes_either_sql_or_a_file_and_names_a_file_it_cannot_read(tmp_path, capsys):
    from labkit import cli

    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["ksql", "--execute", "SHOW STREAMS;", "--file", "x.sql"])
    args = cli.build_parser().parse_args(["ksql", "-f", str(tmp_path / "x.sql"), "--url", "http://127.0.0.1:9"])
    assert args.func is cli.cmd_ksql and args.execute is None
    assert cli.main(["ksql", "--file", str(tmp_path / "missing.sql"), "--url", "http://127.0.0.1:9"]) == 1
    assert f"Cannot read the SQL file {tmp_path / 'missing.sql'}" in capsys.readouterr().err
