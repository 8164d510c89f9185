"""`labkit ksql` against the real engine on the configured URL (8088): --execute, --file, stdin and a terminal.

Every test uses streams and topics of its own (a random suffix) and drops them afterwards.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import pexpect
import psutil
import pytest

from labkit import config
from labkit.ksql import KsqlClient
from labkit.topics import delete_topics


@pytest.fixture(scope="module")
def ksql():
    """A client for the engine `labkit ksql` talks to; the tests need it running (`labkit up` starts it)."""
    with KsqlClient(timeout=30) as client:
        if not client.healthy():
            pytest.fail(f"No healthy ksqlDB engine at {client.url}: start it with `labkit up`.")
        yield client


@pytest.fixture
def stream(ksql):
    """A fresh stream name; the stream and its topic are dropped after the test."""
    name = f"repl_{uuid.uuid4().hex[:10]}"
    yield name
    ksql.execute(f"DROP STREAM IF EXISTS {name} DELETE TOPIC;")
    delete_topics([name])  # the engine's DELETE TOPIC leaves a topic that INSERT … VALUES wrote to (reported)


def create(name: str) -> str:
    return (f"CREATE STREAM {name} (id INT KEY, name VARCHAR, tags ARRAY<VARCHAR>) "
            f"WITH (kafka_topic='{name}', value_format='json', partitions=1);")


def labkit_ksql(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labkit.cli", "ksql", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "90", **(env or {})})


def test_execute_prints_statements_as_tables_and_query_rows_in_boxes(stream):
    result = labkit_ksql("--execute", f"""{create(stream)}
        INSERT INTO {stream} (id, name, tags) VALUES (1, 'ada', ARRAY['x', 'y']);
        INSERT INTO {stream} (id, name, tags) VALUES (2, 'bob', NULL);
        SET 'auto.offset.reset'='earliest';
        SELECT id, name, tags FROM {stream} EMIT CHANGES LIMIT 2;
        DESCRIBE {stream};""")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert " Message        \n----------------\n Stream created \n----------------" in out
    assert "Successfully changed local property 'auto.offset.reset' to 'earliest'." in out
    border = "+" + "+".join(["-" * 28] * 3) + "+"  # 90 columns shared by 3 cells of 28
    assert f"{border}\n|ID{' ' * 26}|NAME{' ' * 24}|TAGS{' ' * 24}|\n{border}\nPress CTRL-C to interrupt" in out
    assert f"|1{' ' * 27}|ada{' ' * 25}|[x, y]{' ' * 22}|" in out and f"|2{' ' * 27}|bob" in out
    assert "Limit Reached\nQuery terminated" in out
    assert f"Name                 : {stream.upper()}" in out and " ID    | INTEGER          (key) " in out
    assert result.stderr == ""


def test_a_file_runs_multi_line_statements_and_stops_at_the_engines_first_error(stream, tmp_path, ksql):
    script = tmp_path / "script.sql"
    script.write_text(f"""-- a stream; then a mistake; then a statement that must not run
{create(stream).replace(" WITH", chr(10) + "  WITH")}
SELECT * FROM {stream}_missing
  EMIT CHANGES;
DROP STREAM {stream};
""")
    result = labkit_ksql("--file", str(script))
    assert result.returncode == 1
    assert "Stream created" in result.stdout
    assert f"{stream.upper()}_MISSING does not exist" in result.stderr
    assert stream.upper() in [s["name"] for s in ksql.execute("SHOW STREAMS;")[0]["streams"]]  # DROP never ran


def test_statements_piped_on_stdin_run_in_order_without_a_prompt(stream):
    result = labkit_ksql(stdin=f"{create(stream)}\nINSERT INTO {stream} (id, name) VALUES (7, 'seven');\n"
                              f"SELECT id, name\n  FROM {stream};\nSHOW STREAMS;\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ksql>" not in out and out.endswith("Exiting ksqlDB.\n")
    pull = out.index("|ID")
    assert out.index("Stream created") < pull < out.index(" Stream Name ")
    assert f"|7{' ' * 42}|seven" in out and "Press CTRL-C" not in out  # a pull query ends by itself
    assert f" {stream.upper()} " in out[out.index(" Stream Name "):]


def test_ctrl_c_ends_the_push_query_on_the_server_and_the_prompt_goes_on(stream, ksql, tmp_path):
    env = {**os.environ, "COLUMNS": "80", "LABKIT_RUN_DIR": str(tmp_path / "run")}
    child = pexpect.spawn(sys.executable, ["-m", "labkit.cli", "ksql"], env=env, encoding="utf-8", timeout=60)
    try:
        child.expect_exact("ksql> ")
        columns, properties = create(stream).split(" WITH ")
        child.sendline(columns)  # the statement goes on on the next line
        child.expect_exact("   >> ")
        child.sendline(f"  WITH {properties}")
        child.expect_exact("Stream created")
        child.expect_exact("ksql> ")
        child.sendline(f"SELECT name FROM {stream} EMIT CHANGES;")
        child.expect_exact("Press CTRL-C to interrupt")
        ksql.execute(f"INSERT INTO {stream} (id, name) VALUES (1, 'live row');")
        child.expect_exact("|live row")
        assert connections_to_engine(child.pid)  # the push query's response is still streaming
        child.sendintr()
        child.expect_exact("Query terminated")
        child.expect_exact("ksql> ")
        # Ctrl-C closed the query's HTTP stream (ksqlDB ends a push query whose client goes away); an idle
        # keep-alive connection the server also closes after a few seconds. An open stream would stay.
        deadline = time.monotonic() + 30
        while connections_to_engine(child.pid):
            assert time.monotonic() < deadline, "the REPL kept the push query's connection open after Ctrl-C"
            time.sleep(0.2)
        child.sendline("SHOW STREAMS;")  # the prompt still works, against the same server
        child.expect_exact(stream.upper())
        child.expect_exact("ksql> ")
        child.sendeof()
        child.expect_exact("Exiting ksqlDB.")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    history = (tmp_path / "run" / "ksql_history").read_text().splitlines()
    # one history entry per statement, a multi-line one on one line
    assert history == [create(stream), f"SELECT name FROM {stream} EMIT CHANGES;", "SHOW STREAMS;"]


def connections_to_engine(pid: int) -> list:
    """The open TCP connections of process `pid` to the engine's port."""
    process = psutil.Process(pid)
    connections = process.net_connections("tcp") if hasattr(process, "net_connections") else process.connections()
    port = config.settings().ksql_port
    return [c for c in connections if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED]


def test_an_unreachable_engine_says_to_start_it_with_labkit_up():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    result = labkit_ksql("--url", f"http://127.0.0.1:{port}", "--execute", "SHOW STREAMS;")
    assert result.returncode == 1
    assert f"No ksqlDB server answers at http://127.0.0.1:{port}" in result.stderr and "labkit up" in result.stderr


def test_a_syntax_error_prints_the_engines_message_with_its_position():
    result = labkit_ksql("--execute", "SELEKT * FROM nowhere;")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("line 1:1: Syntax Error") and "Did you mean 'SELECT'?" in result.stderr
