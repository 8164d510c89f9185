"""labkit.ksql against labkit's REST server on a real uvicorn (127.0.0.1, random port) with a fake engine."""
from __future__ import annotations

import datetime as dt
import socket
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pandas
import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent / "server"))
from ksql_fake_engine import FakeEngine  # noqa: E402

from labkit import ksql  # noqa: E402
from labkit.errors import KsqlError, LabkitError  # noqa: E402
from labkit.ksql import (  # noqa: E402
    KsqlClient,
    KsqlConnectionError,
    KsqlResponseError,
    quote_identifier,
    quote_literal,
)
from labkit.server import BackgroundServer  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def engine_and_server():
    engine = FakeEngine()
    with BackgroundServer(engine, poll_interval=0.05) as server:
        yield engine, server


@pytest.fixture
def engine(engine_and_server):
    return engine_and_server[0]


@pytest.fixture
def server(engine_and_server):
    return engine_and_server[1]


@pytest.fixture
def client(server):
    with KsqlClient(server.url, timeout=10) as ksql_client:
        yield ksql_client


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.02)
    return condition()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_public_names_are_pinned():
    assert sorted(ksql.__all__) == sorted([
        "KsqlClient", "PushQuery", "KsqlError", "KsqlResponseError", "KsqlConnectionError", "KsqlTimeoutError",
        "quote_identifier", "quote_literal", "execute", "pull", "push", "stream_rows", "insert", "info", "healthy",
        "DEFAULT_TIMEOUT"])
    assert all(hasattr(ksql, name) for name in ksql.__all__)


# ---------------------------------------------------------------------------------------------- statements

def test_execute_returns_entities(client):
    created, listed = client.execute("CREATE STREAM CLICKS (A INT) WITH (kafka_topic='clicks');\nSHOW STREAMS;",
                                     properties={"ksql.streams.auto.offset.reset": "earliest"})
    assert created["@type"] == "currentStatus"
    assert created["commandStatus"] == {"status": "SUCCESS", "message": "Stream created", "queryId": None}
    assert "CLICKS" in [s["name"] for s in listed["streams"]]


def test_execute_sends_properties_and_variables(client, engine):
    client.execute("SHOW STREAMS;", properties={"p": 1}, variables={"v": "x"})
    assert engine.calls[-1] == ("execute", ("SHOW STREAMS;", {"p": 1}, {"v": "x"}, None))


def test_statement_error_is_a_ksql_error_with_code_statement_and_response(client):
    with pytest.raises(KsqlResponseError) as caught:
        client.execute("CREATE STREAM PAGEVIEWS (A INT) WITH (kafka_topic='x');")
    error = caught.value
    assert isinstance(error, KsqlError) and isinstance(error, LabkitError)
    assert error.error_code == 40001 and error.status_code == 400 and error.error_type == "statement_error"
    assert error.message == "Cannot add stream 'PAGEVIEWS': A stream with the same name already exists"
    assert error.statement_text == "CREATE STREAM PAGEVIEWS (A INT) WITH (kafka_topic='x');"
    assert error.response is not None and error.response.status_code == 400
    assert error.request is not None and error.request.url.endswith("/ksql")
    assert "[40001]" in str(error)


def test_select_on_execute_is_40002(client):
    with pytest.raises(KsqlError) as caught:
        client.execute("SELECT * FROM PAGEVIEWS;")
    assert caught.value.error_code == 40002
    assert caught.value.message.startswith("The following statement types should be issued")


def test_server_bug_is_a_ksql_error_50000(client):
    with pytest.raises(KsqlResponseError) as caught:
        client.execute("BOOM;")
    assert (caught.value.error_code, caught.value.status_code) == (50000, 500)


def test_http_errors_without_ksqldb_body_still_raise_ksql_errors(client):
    with pytest.raises(KsqlResponseError) as caught:
        client._get("/no-such-endpoint")
    assert caught.value.error_code == 40400
    assert "HTTP 404" in caught.value.message and "Is this URL a ksqlDB server?" in caught.value.message


def test_info_and_healthy(client):
    assert client.info() == {"version": "0.29.0", "kafkaClusterId": "kafka-cluster-1", "ksqlServiceId": "default_",
                             "serverStatus": "RUNNING"}
    assert client.healthy() is True


def test_insert_sends_quoted_insert_statements(client, engine):
    count = client.insert("pageviews", [{"userid": "O'Brien", "viewtime": 1, "`odd``col`": None},
                                        {"userid": "u2", "viewtime": 2.5, "`odd``col`": True}])
    assert count == 2
    statements = [row["statement"] for kind, row in engine.inserted if kind == "sql"][-2:]
    assert statements == [
        "INSERT INTO `PAGEVIEWS` (`USERID`, `VIEWTIME`, `odd``col`) VALUES ('O''Brien', 1, NULL);",
        "INSERT INTO `PAGEVIEWS` (`USERID`, `VIEWTIME`, `odd``col`) VALUES ('u2', 2.5, TRUE);"]


def test_insert_of_nothing_sends_nothing(client, engine):
    calls = len(engine.calls)
    assert client.insert("PAGEVIEWS", []) == 0
    assert len(engine.calls) == calls


# ---------------------------------------------------------------------------------------------- queries

def test_pull_returns_a_dataframe_named_by_the_header(client):
    frame = client.pull("SELECT * FROM COUNTS;")
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["ID", "COUNT", "AVG"]
    assert frame.to_dict("records") == [{"ID": "a", "COUNT": 1, "AVG": 1.5}, {"ID": "b", "COUNT": 2, "AVG": 0.25}]
    assert frame.attrs == {"query_id": "query_1700000000000", "column_types": ["STRING", "BIGINT", "DECIMAL(4, 2)"]}


def test_pull_with_no_rows_keeps_the_columns(client):
    frame = client.pull("SELECT * FROM COUNTS LIMIT 0;")
    assert frame.empty and list(frame.columns) == ["ID", "COUNT", "AVG"]


def test_pull_error_before_rows(client):
    with pytest.raises(KsqlResponseError) as caught:
        client.pull("SELECT * FROM NOPE;")
    assert (caught.value.error_code, caught.value.statement_text) == (40001, "SELECT * FROM NOPE;")
    assert caught.value.message == "Exception while preparing statement: NOPE does not exist."


def test_pull_of_a_push_query_times_out_with_a_hint(server, engine):
    with KsqlClient(server.url, timeout=0.5) as impatient:
        with pytest.raises(ksql.KsqlTimeoutError, match="use push"):
            impatient.pull("SELECT * FROM PAGEVIEWS EMIT CHANGES;")
    assert engine.live.closed.wait(5)


def test_error_row_in_a_query_raises(client):
    with pytest.raises(KsqlResponseError) as caught:
        client.pull("SELECT * FROM FAILING EMIT CHANGES;")
    assert (caught.value.error_code, caught.value.message) == (50000, "Error deserializing row")


def test_push_iterates_dict_rows_until_the_server_limit(client, engine):
    with client.push("SELECT * FROM PAGEVIEWS EMIT CHANGES LIMIT 3;") as rows:
        assert rows.columns == ["USERID", "PAGEID", "VIEWTIME"]
        assert rows.column_types == ["STRING", "STRING", "BIGINT"]
        assert rows.query_id.startswith("transient_PAGEVIEWS_")
        got = list(rows)
    assert got == [{"USERID": f"USER_{i}", "PAGEID": f"PAGE_{i}", "VIEWTIME": i} for i in (1, 2, 3)]
    assert engine.queries[-1].closed.wait(5)


def test_push_client_limit_closes_the_query_on_the_server(client, engine, server):
    with client.push("SELECT * FROM PAGEVIEWS EMIT CHANGES;", limit=2, as_dict=False) as rows:
        query = engine.live
        for i in range(5):
            query.feed.put([f"u{i}", f"p{i}", i])
        got = list(rows)
        assert got == [["u0", "p0", 0], ["u1", "p1", 1]]
        assert rows.rows_read == 2
    assert query.closed.wait(5)
    assert wait_until(lambda: query.header.query_id not in server.app.state.ksql.queries)


def test_push_close_midway_ends_http_stream_and_query(client, engine, server):
    rows = client.push("SELECT * FROM PAGEVIEWS EMIT CHANGES;")
    query = engine.live
    query.feed.put(["u", "p", 1])
    assert next(rows) == {"USERID": "u", "PAGEID": "p", "VIEWTIME": 1}
    rows.close()
    rows.close()  # idempotent
    assert query.closed.wait(5)
    assert list(rows) == []
    assert "closed" in repr(rows)


def test_push_timeout_stops_a_quiet_query(client, engine):
    started = time.monotonic()
    with client.push("SELECT * FROM PAGEVIEWS EMIT CHANGES;", timeout=0.7) as rows:
        query = engine.live
        query.feed.put(["u", "p", 1])
        got = list(rows)
    elapsed = time.monotonic() - started
    assert got == [{"USERID": "u", "PAGEID": "p", "VIEWTIME": 1}]
    assert rows.timed_out and 0.6 < elapsed < 5
    assert query.closed.wait(5)


def test_push_error_row_raises_and_closes(client):
    rows = client.push("SELECT * FROM FAILING EMIT CHANGES;", as_dict=False)
    assert next(rows) == [1]
    with pytest.raises(KsqlResponseError) as caught:
        next(rows)
    assert caught.value.error_code == 50000
    assert list(rows) == []


def test_stream_rows_generator_closes_when_abandoned(client, engine):
    engine.live = None
    feeder = threading.Thread(target=lambda: wait_until(lambda: engine.live is not None)
                              and engine.live.feed.put(["a", "b", 1]))
    feeder.start()
    generator = client.stream_rows("SELECT * FROM PAGEVIEWS EMIT CHANGES;", as_dict=False)
    assert next(generator) == ["a", "b", 1]
    feeder.join()
    query = engine.live
    generator.close()
    assert query.closed.wait(5)


def test_close_query_of_unknown_id(client):
    with pytest.raises(KsqlResponseError) as caught:
        client.close_query("transient_NOPE_1")
    assert caught.value.error_code == 40000 and caught.value.message == "No query with id transient_NOPE_1"


# ---------------------------------------------------------------------------------------------- settings and shortcuts

def test_defaults_come_from_labkit_settings(monkeypatch, server):
    monkeypatch.setenv("LABKIT_KSQL_URL", server.url + "/")
    monkeypatch.setenv("LABKIT_KSQL_API_KEY", "key")
    monkeypatch.setenv("LABKIT_KSQL_API_SECRET", "secret")
    with KsqlClient() as configured:
        assert configured.url == server.url and configured.session.auth == ("key", "secret")
        assert configured.info()["version"] == "0.29.0"
    with KsqlClient("http://elsewhere:8088") as explicit:
        assert explicit.session.auth is None  # the settings' credentials stay with the settings' URL
    assert ksql.execute("SHOW STREAMS;")[0]["@type"] == "streams"
    assert list(ksql.pull("SELECT * FROM COUNTS;").columns) == ["ID", "COUNT", "AVG"]
    assert ksql.info()["serverStatus"] == "RUNNING" and ksql.healthy()
    with ksql.push("SELECT * FROM PAGEVIEWS EMIT CHANGES LIMIT 1;") as rows:
        assert [r["USERID"] for r in rows] == ["USER_1"]
    assert rows.owns_client
    assert list(ksql.stream_rows("SELECT * FROM PAGEVIEWS EMIT CHANGES LIMIT 2;", as_dict=False))[1][0] == "USER_2"
    assert ksql.insert("pageviews", [{"a": 1}]) == 1


def test_caller_session_is_used_and_left_open(server):
    session = requests.Session()
    with KsqlClient(server.url, session=session) as borrowed:
        assert borrowed.info()["version"] == "0.29.0"
    assert session.get(server.url + "/info").status_code == 200  # still usable
    session.close()


def test_connection_refused_tells_the_learner_to_start_the_cluster():
    url = f"http://127.0.0.1:{free_port()}"
    with KsqlClient(url, timeout=2) as nowhere:
        with pytest.raises(KsqlConnectionError) as caught:
            nowhere.execute("SHOW STREAMS;")
        assert isinstance(caught.value, LabkitError) and not isinstance(caught.value, KsqlError)
        assert f"No ksqlDB server answers at {url}" in str(caught.value)
        assert "labkit up" in str(caught.value)
        assert nowhere.healthy() is False
        with pytest.raises(KsqlConnectionError):
            nowhere.push("SELECT * FROM X EMIT CHANGES;")


# ---------------------------------------------------------------------------------------------- quoting

@pytest.mark.parametrize("name, quoted", [
    ("PAGEVIEWS", "`PAGEVIEWS`"), ("lower", "`lower`"), ("a`b", "`a``b`"), ("``", "``````"),
    ("O'Brien", "`O'Brien`"), ("x; DROP STREAM Y; --", "`x; DROP STREAM Y; --`"), ("空白 name", "`空白 name`"),
])
def test_quote_identifier(name, quoted):
    assert quote_identifier(name) == quoted


@pytest.mark.parametrize("bad", ["", None, 3])
def test_quote_identifier_refuses_non_names(bad):
    with pytest.raises(ValueError):
        quote_identifier(bad)


@pytest.mark.parametrize("value, literal", [
    ("O'Brien", "'O''Brien'"), ("''", "''''''"), ("a`b", "'a`b'"),
    ("x'); DROP STREAM S; --", "'x''); DROP STREAM S; --'"),
    ("", "''"), (None, "NULL"), (True, "TRUE"), (False, "FALSE"), (0, "0"), (-12, "-12"), (2.5, "2.5"),
    (1e-7, "1e-07"), (Decimal("12.50"), "12.50"), (Decimal("1E+3"), "1000"), ([1, "a", None], "ARRAY[1, 'a', NULL]"),
    ((), "ARRAY[]"), (dt.date(2024, 1, 2), "'2024-01-02'"), (dt.time(10, 30, 15), "'10:30:15'"),
    (dt.datetime(2024, 1, 2, 3, 4, 5, 6000), "'2024-01-02T03:04:05.006'"),
    (dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))), "'2024-01-02T03:04:05.000'"),
])
def test_quote_literal(value, literal):
    assert quote_literal(value) == literal


@pytest.mark.parametrize("value, error", [(float("nan"), ValueError), (float("inf"), ValueError),
                                          (Decimal("NaN"), ValueError), ({"a": 1}, TypeError), (b"x", TypeError),
                                          (object(), TypeError)])
def test_quote_literal_refuses_what_ksqldb_cannot_write(value, error):
    with pytest.raises(error):
        quote_literal(value)
