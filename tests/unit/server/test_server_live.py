"""labkit.server behind a real uvicorn on 127.0.0.1 (random port): chunked streaming, disconnects, /close-query."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from ksql_fake_engine import FakeEngine

from labkit.errors import PortInUseError
from labkit.server import BackgroundServer

pytestmark = pytest.mark.timeout(60)

PUSH = {"sql": "SELECT * FROM PAGEVIEWS EMIT CHANGES;"}


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def server(engine):
    with BackgroundServer(engine, poll_interval=0.05) as running:
        yield running


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_background_server_binds_loopback_on_a_free_port(server):
    assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    assert httpx.get(server.url + "/info").json()["KsqlServerInfo"]["version"] == "0.29.0"


def test_push_query_streams_rows_as_they_come_over_http1_chunked(server, engine):
    with httpx.Client(timeout=10) as http, http.stream("POST", server.url + "/query-stream", json=PUSH) as response:
        assert response.http_version == "HTTP/1.1"
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["content-type"] == "application/vnd.ksqlapi.delimited.v1"
        lines = response.iter_lines()
        header = next(lines)
        assert header.startswith('{"queryId":"transient_PAGEVIEWS_')
        for i in range(3):  # each row is produced only after the previous one arrived
            engine.live.feed.put([f"USER_{i}", f"PAGE_{i}", i])
            assert next(lines) == f'["USER_{i}","PAGE_{i}",{i}]'
    assert engine.live.closed.wait(5), "leaving the response must close the query"


def test_client_disconnect_closes_the_push_query(server, engine):
    sock = socket.create_connection(("127.0.0.1", server.port))
    body = b'{"sql":"SELECT * FROM PAGEVIEWS EMIT CHANGES;"}'
    sock.sendall(b"POST /query-stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    received = b""
    while b"transient_PAGEVIEWS" not in received:
        received += sock.recv(4096)
    assert b"Transfer-Encoding: chunked" in received or b"transfer-encoding: chunked" in received
    query = engine.live
    assert not query.closed.is_set()
    sock.close()
    assert query.closed.wait(5)
    assert wait_until(lambda: not server.app.state.ksql.queries)


def test_close_query_ends_the_stream_and_unregisters_it(server, engine):
    with httpx.Client(timeout=10) as http, http.stream("POST", server.url + "/query-stream", json=PUSH) as response:
        lines = response.iter_lines()
        query_id = next(lines).split('"queryId":"')[1].split('"')[0]
        assert list(server.app.state.ksql.queries) == [query_id]
        closed = httpx.post(server.url + "/close-query", json={"queryId": query_id})
        assert (closed.status_code, closed.content) == (200, b"")
        assert list(lines) == []  # the response simply ends
    assert engine.live.closed.is_set()
    again = httpx.post(server.url + "/close-query", json={"queryId": query_id})
    assert again.json() == {"@type": "generic_error", "error_code": 40000, "message": f"No query with id {query_id}"}


def test_close_query_on_legacy_query_ends_with_query_completed(server, engine):
    legacy = {"url": server.url + "/query", "json": {"ksql": PUSH["sql"]}, "headers": {"accept": "application/json"}}
    with httpx.Client(timeout=10) as http, http.stream("POST", **legacy) as response:
        assert response.headers["content-type"] == "application/vnd.ksql.v1+json"
        chunks = response.iter_text()
        first = next(chunks)
        query_id = first.split('"queryId":"')[1].split('"')[0]
        engine.live.feed.put(["u", "p", 1])
        httpx.post(server.url + "/close-query", json={"queryId": query_id}).raise_for_status()
        text = first + "".join(chunks)
    assert text.endswith('{"row":{"columns":["u","p",1]}},\n{"finalMessage":"Query Completed"}]')


def test_pull_query_is_not_registered_for_close_query(server, engine):
    response = httpx.post(server.url + "/query-stream", json={"sql": "SELECT * FROM COUNTS;"})
    assert response.headers["transfer-encoding"] == "chunked"
    assert len(response.text.splitlines()) == 3
    assert server.app.state.ksql.queries == {}


def test_many_push_queries_do_not_block_statements(server, engine):
    streams = []
    with httpx.Client(timeout=10) as http:
        try:
            for _ in range(5):
                stream = http.stream("POST", server.url + "/query-stream", json=PUSH)
                response = stream.__enter__()
                next(response.iter_lines())
                streams.append(stream)
            started = time.monotonic()
            assert httpx.post(server.url + "/ksql", json={"ksql": "SHOW STREAMS;"}).status_code == 200
            assert time.monotonic() - started < 2
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)
    assert wait_until(lambda: all(q.closed.is_set() for q in engine.queries))


def test_stopping_the_server_ends_open_push_queries(engine):
    server = BackgroundServer(engine, poll_interval=0.05).start()
    lines_seen = []

    def read():
        with httpx.Client(timeout=10) as http, http.stream("POST", server.url + "/query-stream", json=PUSH) as r:
            lines_seen.extend(r.iter_lines())

    reader = threading.Thread(target=read)
    reader.start()
    assert wait_until(lambda: engine.live is not None)
    started = time.monotonic()
    server.stop()
    reader.join(10)
    assert not reader.is_alive()
    assert time.monotonic() - started < 8
    assert engine.live.closed.is_set()
    assert lines_seen and lines_seen[0].startswith('{"queryId"')


def test_port_in_use_is_a_labkit_error(engine):
    with BackgroundServer(engine) as first:
        with pytest.raises(PortInUseError, match=f"Port {first.port}"):
            BackgroundServer(engine, port=first.port).start()
