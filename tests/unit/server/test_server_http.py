"""The HTTP layer of labkit.server over ASGI (httpx.ASGITransport), with a fake engine: exact bodies and codes."""
from __future__ import annotations

import json
import time

import anyio
import httpx
import pytest
from ksql_fake_engine import FakeEngine

from labkit.server import create_app

pytestmark = pytest.mark.anyio

DELIMITED = "application/vnd.ksqlapi.delimited.v1"
V1_JSON = "application/vnd.ksql.v1+json"
NO_ACCEPT = {"accept": ""}  # httpx sends */* unless told otherwise; an empty value means "absent" here


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
async def client(engine):
    transport = httpx.ASGITransport(app=create_app(engine, poll_interval=0.05))
    async with httpx.AsyncClient(transport=transport, base_url="http://ksql") as http:
        yield http


async def asgi_call(app, path, body: bytes, *, headers=(), http_version="1.1", method="POST"):
    """Drive the ASGI app by hand (to choose the HTTP version); return status, headers and body chunks."""
    done = anyio.Event()
    sent = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": http_version, "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.encode(), v.encode()) for k, v in headers], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 8088)}
    await app(scope, receive, send)
    start = sent[0]
    return start["status"], dict((k.decode(), v.decode()) for k, v in start["headers"]), [
        m.get("body", b"") for m in sent[1:]]


# ---------------------------------------------------------------------------------------------- /ksql

async def test_ksql_returns_one_entity_per_statement_as_application_json(client, engine):
    response = await client.post("/ksql", json={"ksql": "CREATE STREAM S (A INT) WITH (x=1);\nSHOW STREAMS;",
                                                "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}},
                                 headers={"accept": V1_JSON})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert [e["@type"] for e in body] == ["currentStatus", "streams"]
    assert body[0]["commandId"] == "stream/`S`/create"
    assert engine.calls[0] == ("execute", ("CREATE STREAM S (A INT) WITH (x=1);\nSHOW STREAMS;",
                                           {"ksql.streams.auto.offset.reset": "earliest"}, {}, None))


async def test_ksql_passes_variables_and_command_sequence(client, engine):
    await client.post("/ksql", json={"ksql": "SHOW STREAMS;", "sessionVariables": {"x": "1"},
                                     "commandSequenceNumber": 7, "unknownField": True})
    assert engine.calls[-1] == ("execute", ("SHOW STREAMS;", {}, {"x": "1"}, 7))


async def test_ksql_missing_field_is_empty_sql_and_insert_only_gives_empty_array(client):
    assert (await client.post("/ksql", json={})).json() == []
    response = await client.post("/ksql", json={"ksql": "INSERT INTO PAGEVIEWS (A) VALUES (1);"})
    assert (response.status_code, response.json()) == (200, [])


async def test_ksql_statement_error_is_400_statement_error_with_statement_and_entities(client):
    response = await client.post("/ksql", json={"ksql": "CREATE STREAM S2 (A INT) WITH (x=1); "
                                                        "CREATE STREAM PAGEVIEWS (A INT) WITH (x=1);"})
    assert response.status_code == 400
    body = response.json()
    assert body["@type"] == "statement_error" and body["error_code"] == 40001
    assert body["message"] == "Cannot add stream 'PAGEVIEWS': A stream with the same name already exists"
    assert body["statementText"] == "CREATE STREAM PAGEVIEWS (A INT) WITH (x=1);"
    assert [e["commandId"] for e in body["entities"]] == ["stream/`S2`/create"]
    assert "stackTrace" not in body


async def test_ksql_select_is_40002_with_three_line_message(client):
    response = await client.post("/ksql", json={"ksql": "SELECT * FROM PAGEVIEWS;"})
    assert response.status_code == 400
    assert response.json() == {
        "@type": "statement_error", "error_code": 40002,
        "message": "The following statement types should be issued to the websocket endpoint '/query':\n"
                   "\t* PRINT\n\t* SELECT",
        "statementText": "SELECT * FROM PAGEVIEWS;", "entities": []}


async def test_ksql_bad_property_is_generic_40000(client):
    response = await client.post("/ksql", json={"ksql": "SHOW STREAMS;", "streamsProperties": {"ksql.bogus": 1}})
    assert (response.status_code, response.json()) == (400, {"@type": "generic_error", "error_code": 40000,
                                                             "message": "Unknown property: ksql.bogus"})


async def test_ksql_engine_bug_is_500_statement_error_with_whole_request(client):
    response = await client.post("/ksql", json={"ksql": "SHOW STREAMS; BOOM;"})
    assert response.status_code == 500
    assert response.json() == {"@type": "statement_error", "error_code": 50000,
                               "message": "division by zero in the planner",
                               "statementText": "SHOW STREAMS; BOOM;", "entities": []}


@pytest.mark.parametrize("body, message", [
    (b"{bad", "Invalid JSON in request: Expecting property name enclosed in double quotes (line 1, column 2)"),
    (b"", "Invalid JSON in request: No content to map due to end-of-input"),
    (b"[1]", "Invalid JSON in request: Cannot deserialize value of type "
             "`io.confluent.ksql.rest.entity.KsqlRequest` from Array value"),
])
async def test_ksql_unparseable_body_is_400_generic_40000(client, body, message):
    response = await client.post("/ksql", content=body, headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert response.json() == {"@type": "generic_error", "error_code": 40000, "message": message}


async def test_ksql_wrong_field_type_is_invalid_json(client):
    response = await client.post("/ksql", json={"ksql": 5})
    body = response.json()
    assert response.status_code == 400 and body["error_code"] == 40000
    assert body["message"].startswith("Invalid JSON in request: Cannot deserialize value of type `java.lang.String`")


async def test_request_content_type_is_ignored(client):
    response = await client.post("/ksql", content=json.dumps({"ksql": "SHOW STREAMS;"}),
                                 headers={"content-type": "text/plain"})
    assert response.status_code == 200


@pytest.mark.parametrize("accept", ["text/html", DELIMITED, "application/xml;q=1, application/json;q=0"])
async def test_unacceptable_accept_is_406_with_empty_body(client, accept):
    response = await client.post("/ksql", json={"ksql": "SHOW STREAMS;"}, headers={"accept": accept})
    assert (response.status_code, response.content) == (406, b"")


async def test_body_over_the_limit_is_413_in_ksqldb_shape(engine):
    app = create_app(engine, max_body_bytes=100)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ksql") as http:
        response = await http.post("/ksql", json={"ksql": "SHOW STREAMS; " * 20})
        small = await http.post("/ksql", json={"ksql": "SHOW STREAMS;"})
    assert response.status_code == 413
    body = response.json()
    assert body["@type"] == "generic_error" and body["error_code"] == 41300
    assert body["message"].startswith("Request body is larger than the limit of 100 bytes")
    assert small.status_code == 200
    assert engine.calls == [("execute", ("SHOW STREAMS;", {}, {}, None))]


# ---------------------------------------------------------------------------------------------- /query-stream

COUNTS_HEADER = ('{"queryId":"query_1700000000000","columnNames":["ID","COUNT","AVG"],'
                 '"columnTypes":["STRING","BIGINT","DECIMAL(4, 2)"]}')
PAGEVIEWS_HEADER = ('{"queryId":"transient_PAGEVIEWS_1000","columnNames":["USERID","PAGEID","VIEWTIME"],'
                    '"columnTypes":["STRING","STRING","BIGINT"]}')


@pytest.mark.parametrize("accept", ["", "*/*", DELIMITED])
async def test_query_stream_pull_is_delimited_by_default(client, engine, accept):
    response = await client.post("/query-stream", json={"sql": "SELECT * FROM COUNTS;"}, headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == DELIMITED
    assert response.text == COUNTS_HEADER + '\n["a",1,1.50]\n["b",2,0.25]\n'
    assert engine.queries[0].closed.is_set()


async def test_query_stream_json_is_one_array_without_newlines(client):
    response = await client.post("/query-stream", json={"sql": "SELECT * FROM COUNTS;"},
                                 headers={"accept": "application/json"})
    assert response.headers["content-type"] == "application/json"
    assert response.text == "[" + COUNTS_HEADER + ',["a",1,1.50],["b",2,0.25]]'
    assert json.loads(response.text)[1] == ["a", 1, 1.5]


async def test_query_stream_push_with_limit_ends_silently(client, engine):
    response = await client.post("/query-stream", json={
        "sql": "SELECT * FROM PAGEVIEWS EMIT CHANGES LIMIT 2;", "properties": {"auto.offset.reset": "earliest"},
        "streamsProperties": {"ignored": True}}, headers=NO_ACCEPT)
    assert response.text == PAGEVIEWS_HEADER + '\n["USER_1","PAGE_1",1]\n["USER_2","PAGE_2",2]\n'
    assert engine.calls[-1][1][1] == {"auto.offset.reset": "earliest"}
    assert engine.queries[0].close_calls == 1


async def test_query_stream_drops_tombstones_in_delimited_and_json(client):
    delimited = await client.post("/query-stream", json={"sql": "SELECT * FROM TOMBS EMIT CHANGES LIMIT 3;"})
    as_json = await client.post("/query-stream", json={"sql": "SELECT * FROM TOMBS EMIT CHANGES LIMIT 3;"},
                                headers={"accept": "application/json"})
    assert delimited.text.splitlines()[1:] == ['["k1",1]', '["k2",2]']
    assert json.loads(as_json.text)[1:] == [["k1", 1], ["k2", 2]]


async def test_query_stream_error_after_header_is_one_error_line(client):
    delimited = await client.post("/query-stream", json={"sql": "SELECT * FROM FAILING EMIT CHANGES;"})
    as_json = await client.post("/query-stream", json={"sql": "SELECT * FROM FAILING EMIT CHANGES;"},
                                headers={"accept": "application/json"})
    error = '{"@type":"generic_error","error_code":50000,"message":"Error deserializing row"}'
    header = '{"queryId":"transient_FAILING_1","columnNames":["X"],"columnTypes":["INTEGER"]}'
    assert (delimited.status_code, delimited.text) == (200, header + "\n[1]\n" + error + "\n")
    assert as_json.text == "[" + header + ",[1]," + error + "]"


async def test_query_stream_statement_errors_before_streaming(client):
    unknown = await client.post("/query-stream", json={"sql": "SELECT * FROM NOPE;"})
    not_query = await client.post("/query-stream", json={"sql": "SHOW STREAMS;"})
    two = await client.post("/query-stream", json={"sql": "SELECT * FROM COUNTS; SELECT * FROM COUNTS;"})
    assert unknown.status_code == 400 and unknown.json() == {
        "@type": "statement_error", "error_code": 40001,
        "message": "Exception while preparing statement: NOPE does not exist.",
        "statementText": "SELECT * FROM NOPE;", "entities": []}
    assert not_query.json()["message"] == "Neither a query nor a print statement"
    assert not_query.json()["statementText"] == "SHOW STREAMS;"
    assert two.json()["message"] == "Expected exactly one KSQL statement; found 2 instead"


async def test_query_stream_requires_sql(client):
    response = await client.post("/query-stream", json={"ksql": "SELECT * FROM COUNTS;"})
    assert response.status_code == 400
    assert response.json() == {"@type": "generic_error", "error_code": 40000,
                               "message": "Invalid JSON in request: Missing required creator property 'sql' "
                                          "(index 0)"}


async def test_query_stream_engine_bug_is_500_with_ksqldb_message(engine):
    def broken(*args, **kwargs):
        raise RuntimeError("NullPointerException")
    engine.open_query = broken
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://k") as http:
        response = await http.post("/query-stream", json={"sql": "SELECT * FROM COUNTS;"})
    assert response.status_code == 500
    assert response.json() == {"@type": "generic_error", "error_code": 50000,
                               "message": "The server encountered an internal error when processing the query. "
                                          "Please consult the server logs for more information."}


async def test_query_stream_legacy_accept_gives_streamed_rows(client):
    response = await client.post("/query-stream", json={"sql": "SELECT * FROM COUNTS;"}, headers={"accept": V1_JSON})
    assert response.headers["content-type"] == V1_JSON
    assert json.loads(response.text)[0] == {"header": {
        "queryId": "query_1700000000000", "schema": "`ID` STRING KEY, `COUNT` BIGINT, `AVG` DECIMAL(4, 2)"}}


async def test_print_streams_text_lines_only_in_delimited_mode(client, engine):
    response = await client.post("/query-stream", json={"sql": "PRINT 'pageviews' FROM BEGINNING;"})
    assert response.status_code == 200
    assert response.text.splitlines() == ["Key format: KAFKA_STRING", "Value format: JSON",
                                          'rowtime: 2024/01/01 00:00:00.000 Z, key: u1, value: {"A":1}, partition: 0']
    refused = await client.post("/query-stream", json={"sql": "PRINT 'pageviews';"},
                                headers={"accept": "application/json"})
    assert (refused.status_code, refused.content) == (406, b"")
    assert all(p.closed.is_set() for p in engine.prints)


# ---------------------------------------------------------------------------------------------- /query (legacy)

@pytest.mark.parametrize("accept", ["", "application/json", V1_JSON])
async def test_legacy_query_push_with_limit_ends_with_limit_reached(client, accept):
    response = await client.post("/query", json={"ksql": "SELECT * FROM PAGEVIEWS EMIT CHANGES LIMIT 2;"},
                                 headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == V1_JSON
    assert response.text == (
        '[{"header":{"queryId":"transient_PAGEVIEWS_1000","schema":"`USERID` STRING, `PAGEID` STRING, '
        '`VIEWTIME` BIGINT"}},\n'
        '{"row":{"columns":["USER_1","PAGE_1",1]}},\n'
        '{"row":{"columns":["USER_2","PAGE_2",2]}},\n'
        '{"finalMessage":"Limit Reached"}]')
    assert json.loads(response.text)[-1] == {"finalMessage": "Limit Reached"}


async def test_legacy_query_table_pull_is_buffered_with_key_marks_and_no_trailer(client):
    response = await client.post("/query", json={"ksql": "SELECT * FROM COUNTS;"}, headers=NO_ACCEPT)
    assert response.text == (
        '[{"header":{"queryId":"query_1700000000000","schema":"`ID` STRING KEY, `COUNT` BIGINT, '
        '`AVG` DECIMAL(4, 2)"}},\n{"row":{"columns":["a",1,1.50]}},\n{"row":{"columns":["b",2,0.25]}}]')
    empty = await client.post("/query", json={"ksql": "SELECT * FROM COUNTS LIMIT 0;"}, headers=NO_ACCEPT)
    assert empty.text == ('[{"header":{"queryId":"query_1700000000000","schema":"`ID` STRING KEY, `COUNT` BIGINT, '
                          '`AVG` DECIMAL(4, 2)"}}]')


async def test_legacy_query_stream_pull_ends_with_query_completed(client):
    response = await client.post("/query", json={"ksql": "SELECT * FROM PAGEVIEWS;"}, headers=NO_ACCEPT)
    assert json.loads(response.text)[1:] == [{"row": {"columns": ["USER_1", "PAGE_1", 1]}},
                                             {"finalMessage": "Query Completed"}]


async def test_legacy_query_shows_tombstones(client):
    response = await client.post("/query", json={"ksql": "SELECT * FROM TOMBS EMIT CHANGES LIMIT 3;"},
                                 headers=NO_ACCEPT)
    assert json.loads(response.text)[1:] == [{"row": {"columns": ["k1", 1]}},
                                             {"row": {"columns": ["k1", None], "tombstone": True}},
                                             {"row": {"columns": ["k2", 2]}}, {"finalMessage": "Limit Reached"}]


async def test_legacy_query_error_after_header_is_an_error_message_row(client):
    response = await client.post("/query", json={"ksql": "SELECT * FROM FAILING EMIT CHANGES;"}, headers=NO_ACCEPT)
    assert response.text.endswith(
        '{"row":{"columns":[1]}},\n'
        '{"errorMessage":{"@type":"generic_error","error_code":50000,"message":"Error deserializing row"}},\n]')


async def test_legacy_query_star_accept_gives_delimited(client):
    response = await client.post("/query", json={"ksql": "SELECT * FROM COUNTS;"}, headers={"accept": "*/*"})
    assert response.headers["content-type"] == DELIMITED
    assert response.text.startswith(COUNTS_HEADER + "\n")


async def test_legacy_query_errors(client, engine):
    empty = await client.post("/query", json={"ksql": "  "}, headers=NO_ACCEPT)
    not_query = await client.post("/query", json={"ksql": "SHOW STREAMS;"}, headers=NO_ACCEPT)
    unknown = await client.post("/query", json={"ksql": "SELECT * FROM NOPE;", "commandSequenceNumber": 3},
                                headers=NO_ACCEPT)
    assert empty.status_code == 400
    assert empty.json() == {"@type": "generic_error", "error_code": 40000, "message": '"ksql" field must be populated'}
    assert not_query.json() == {"@type": "generic_error", "error_code": 40000, "message":
                                "Statement type `io.confluent.ksql.parser.KsqlParser$PreparedStatement' not "
                                "supported for this resource"}
    assert (unknown.status_code, unknown.json()["@type"], unknown.json()["error_code"]) == (
        400, "statement_error", 40001)
    assert engine.calls[-1] == ("open_query", ("SELECT * FROM NOPE;", {}, {}, 3))


# ---------------------------------------------------------------------------------------------- other endpoints

async def test_close_query_unknown_id_and_missing_id(client):
    unknown = await client.post("/close-query", json={"queryId": "transient_X_1"})
    missing = await client.post("/close-query", json={})
    assert (unknown.status_code, unknown.json()) == (400, {"@type": "generic_error", "error_code": 40000,
                                                           "message": "No query with id transient_X_1"})
    assert missing.json()["message"] == "Invalid JSON in request: Missing required creator property 'queryId' (index 0)"


async def test_info_healthcheck_status(client, engine):
    await client.post("/ksql", json={"ksql": "CREATE STREAM S (A INT) WITH (x=1);"})
    info = await client.get("/info")
    health = await client.get("/healthcheck")
    statuses = await client.get("/status")
    one = await client.get("/status/stream/%60S%60/create")
    missing = await client.get("/status/stream/NOPE/create")
    assert info.json() == {"KsqlServerInfo": {"version": "0.29.0", "kafkaClusterId": "kafka-cluster-1",
                                              "ksqlServiceId": "default_", "serverStatus": "RUNNING"}}
    assert info.headers["content-type"] == "application/json"
    assert health.json() == {"isHealthy": True, "details": {"metastore": {"isHealthy": True},
                                                            "kafka": {"isHealthy": True},
                                                            "commandRunner": {"isHealthy": True}},
                             "serverState": "READY"}
    assert statuses.json() == {"stream/`S`/create": "SUCCESS"}
    assert one.json() == {"status": "SUCCESS", "message": "Stream created", "queryId": None}
    assert (missing.status_code, missing.json()) == (404, {"@type": "generic_error", "error_code": 40400,
                                                           "message": "Command not found"})


async def test_cluster_status_root_and_unknown_routes(client):
    cluster = await client.get("/clusterStatus")
    root = await client.get("/", follow_redirects=False)
    unknown = await client.get("/nope")
    wrong_method = await client.get("/ksql")
    chc = await client.get("/chc/ready")
    assert (cluster.status_code, cluster.content) == (404, b"")
    assert (root.status_code, root.headers["location"]) == (307, "/info")
    assert (unknown.status_code, unknown.text) == (404, "<html><body><h1>Resource not found</h1></body></html>")
    assert (wrong_method.status_code, wrong_method.content) == (405, b"")
    assert chc.json() == {}


async def test_info_engine_bug_is_500_generic_error(engine, client):
    def broken():
        raise RuntimeError("metastore gone")
    engine.info = broken
    response = await client.get("/info")
    assert (response.status_code, response.json()) == (500, {"@type": "generic_error", "error_code": 50000,
                                                              "message": "metastore gone"})


# ---------------------------------------------------------------------------------------------- /inserts-stream

INSERT_BODY = b'{"target":"pageviews","properties":{}}\n{"USERID":"u1"}\n{"USERID":"u2"}\n'


async def test_inserts_stream_over_http1_is_40004_as_in_ksqldb(client, engine):
    response = await client.post("/inserts-stream", content=INSERT_BODY)
    assert (response.status_code, response.json()) == (400, {
        "@type": "generic_error", "error_code": 40004, "message": "This endpoint is only available when using HTTP2"})
    assert engine.inserted == []


async def test_inserts_stream_over_http2_acks_each_row(engine):
    status, headers, chunks = await asgi_call(create_app(engine), "/inserts-stream", INSERT_BODY, http_version="2")
    assert (status, headers["content-type"]) == (200, DELIMITED)
    assert b"".join(chunks) == b'{"seq":0,"status":"ok"}\n{"seq":1,"status":"ok"}\n'
    assert engine.inserted == [("PAGEVIEWS", {"USERID": "u1"}), ("PAGEVIEWS", {"USERID": "u2"})]
    assert engine.sinks[0].closed


async def test_inserts_stream_opt_in_over_http1_json_acks_and_row_errors(engine):
    app = create_app(engine, inserts_over_http1=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ksql") as http:
        acks = await http.post("/inserts-stream", content=INSERT_BODY, headers={"accept": "application/json"})
        bad_json = await http.post("/inserts-stream", content=b'{"target":"PAGEVIEWS"}\n{"A":1}\nnot json\n{"A":2}\n')
        refused = await http.post("/inserts-stream", content=b'{"target":"PAGEVIEWS"}\n{"FAIL":1}\n')
        bug = await http.post("/inserts-stream", content=b'{"target":"PAGEVIEWS"}\n{"BUG":1}\n')
        unknown = await http.post("/inserts-stream", content=b'{"target":"NOPE"}\n{"A":1}\n')
        no_rows = await http.post("/inserts-stream", content=b'{"target":"PAGEVIEWS"}\n',
                                  headers={"accept": "application/json"})
    assert acks.json() == [{"seq": 0, "status": "ok"}, {"seq": 1, "status": "ok"}]
    assert bad_json.text.splitlines() == ['{"seq":0,"status":"ok"}', '{"@type":"InsertError","error_code":40000,'
                                          '"message":"Invalid JSON in inserts stream","status":"error","seq":1}']
    assert json.loads(refused.text)["error_code"] == 40000 and json.loads(refused.text)["status"] == "error"
    assert json.loads(bug.text)["message"] == "Error in processing inserts. Check server logs for details."
    assert (unknown.status_code, unknown.json()) == (400, {
        "@type": "generic_error", "error_code": 40001,
        "message": "Cannot insert values into an unknown stream/table: NOPE"})
    assert no_rows.text == "[]"
    assert [row for _, row in engine.inserted] == [{"USERID": "u1"}, {"USERID": "u2"}, {"A": 1}]


# ---------------------------------------------------------------------------------------------- threads

async def test_slow_engine_call_does_not_block_the_event_loop(engine, client):
    def slow(sql, **kwargs):
        time.sleep(0.6)
        return []
    engine.execute = slow
    started = time.monotonic()
    info_times = []

    async def ask_info():
        await anyio.sleep(0.05)
        await client.get("/info")
        info_times.append(time.monotonic() - started)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: client.post("/ksql", json={"ksql": "SHOW STREAMS;"}))
        tasks.start_soon(ask_info)
    assert info_times and info_times[0] < 0.5
    assert time.monotonic() - started >= 0.6
