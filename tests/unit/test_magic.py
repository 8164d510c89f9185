"""The %%ksql magic against labkit's REST server (real uvicorn on 127.0.0.1) with the fake engine."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "server"))
from ksql_fake_engine import FakeEngine  # noqa: E402

from labkit import magic  # noqa: E402
from labkit.errors import KsqlError  # noqa: E402
from labkit.ksql import KsqlClient  # noqa: E402
from labkit.server import BackgroundServer  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def served():
    engine = FakeEngine()
    with BackgroundServer(engine, poll_interval=0.05) as server:
        yield engine, server


@pytest.fixture
def client(served):
    with KsqlClient(served[1].url, timeout=10) as c:
        yield c


def test_split_cell_classifies_by_parsing():
    kinds = [(s.kind, s.limit) for s in magic.split_cell(
        "CREATE STREAM s (id INT) WITH (kafka_topic='s', value_format='json', partitions=1);\n"
        "SELECT * FROM s EMIT CHANGES LIMIT 3;\n"
        "select * from t where id = 1;\n"
        "PRINT 'x' FROM BEGINNING LIMIT 2;\n"
        "-- a comment with SELECT in it\n"
        "SHOW STREAMS;")]
    assert kinds == [("statement", None), ("push", 3), ("pull", None), ("print", 2), ("statement", None)]


def test_statements_print_status_and_lists_render_as_tables(client):
    shown = magic.run_cell("CREATE STREAM magic_one (id INT) WITH (kafka_topic='m', value_format='json');"
                           "SHOW STREAMS;", client=client, show=lambda _: None)
    assert shown[0] == "Stream created"
    assert isinstance(shown[1], pd.DataFrame) and "MAGIC_ONE" in set(shown[1]["name"])


def test_pull_and_limited_push_render_dataframes(client):
    pull, push = magic.run_cell("SELECT * FROM counts; SELECT * FROM pageviews EMIT CHANGES LIMIT 3;",
                                client=client, show=lambda _: None)
    assert list(pull.columns) == ["ID", "COUNT", "AVG"] and len(pull) == 2
    assert list(push["USERID"]) == ["USER_1", "USER_2", "USER_3"]


def test_print_shows_the_topic_lines(client):
    (text,) = magic.run_cell("PRINT 'pageviews' FROM BEGINNING LIMIT 1;", client=client, show=lambda _: None)
    assert "Value format: JSON" in text and "key: u1" in text


def test_unbounded_push_renders_a_live_view_that_stops(served, client):
    engine, _ = served
    (view,) = magic.run_cell("SELECT * FROM pageviews EMIT CHANGES;", client=client, show=lambda _: None)
    try:
        deadline = time.monotonic() + 10
        while engine.live is None and time.monotonic() < deadline:
            time.sleep(0.02)
        engine.live.feed.put(["USER_9", "PAGE_9", 9])
        while view.received < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert view.snapshot()["rows"][0]["USERID"] == "USER_9"
    finally:
        view.stop()
    assert not view.running


def test_errors_raise_ksql_error_with_the_statement(client):
    with pytest.raises(KsqlError) as err:
        magic.run_cell("SELECT * FROM nowhere;", client=client, show=lambda _: None)
    assert "NOWHERE does not exist" in str(err.value)


def test_the_magic_prints_errors_without_a_traceback(served, capsys):
    magic.ksql(f"--url {served[1].url}", "SELECT * FROM nowhere;")
    out = capsys.readouterr().out
    assert out.startswith("Error: ") and "does not exist" in out and "Traceback" not in out
    magic.ksql("--bogus", "SHOW STREAMS;")
    assert "Usage: %%ksql" in capsys.readouterr().out
