"""The endpoints of ksqlDB 0.29's REST API: request parsing, content negotiation and error mapping.

Each handler reads the body (bounded by the server's size limit), checks `Accept` the way Vert.x does
(406 with an empty body when nothing producible is acceptable), calls the engine in a worker thread and
answers with ksqlDB's shapes from `labkit.server.entities`.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Sequence, Union

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from labkit.errors import KsqlError, SqlSyntaxError
from labkit.server import entities
from labkit.server.entities import DELIMITED, JSON, KSQL_V1_JSON
from labkit.server.protocol import NotAQueryError, PrintStream, StatementError
from labkit.server.streaming import InsertsResponse, PrintResponse, QueryResponse

if TYPE_CHECKING:
    from labkit.server.app import ServerState

__all__ = ["ROUTES", "json_response"]

log = logging.getLogger("labkit.server")

#: What a handler answers: a plain response, or one of the chunked ASGI responses of labkit.server.streaming.
Answer = Union[Response, QueryResponse, PrintResponse, InsertsResponse]

OLD_API = (KSQL_V1_JSON, JSON)
QUERY_STREAM = (DELIMITED, JSON, KSQL_V1_JSON)
QUERY_LEGACY = (DELIMITED, KSQL_V1_JSON, JSON)  # `*/*` on /query means delimited (RestApiTest)
INSERTS = (DELIMITED, JSON)
KSQL_REQUEST = "io.confluent.ksql.rest.entity.KsqlRequest"
QUERY_STREAM_ARGS = "io.confluent.ksql.rest.entity.QueryStreamArgs"
CLOSE_QUERY_ARGS = "io.confluent.ksql.rest.entity.CloseQueryArgs"
INSERTS_STREAM_ARGS = "io.confluent.ksql.rest.entity.InsertsStreamArgs"
INTERNAL_QUERY_ERROR = ("The server encountered an internal error when processing the query. "
                        "Please consult the server logs for more information.")
NOT_SUPPORTED_ON_QUERY = ("Statement type `io.confluent.ksql.parser.KsqlParser$PreparedStatement' "
                          "not supported for this resource")


class Reply(Exception):
    """Ends a handler early with a ready response (bad body, 406, 413, engine error)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def json_response(body: Any, status: int = 200, media_type: str = JSON) -> Response:
    """A JSON body written as ksqlDB writes it."""
    return Response(entities.dumps(body), status_code=status, media_type=media_type)


def error_response(exc: KsqlError, statement_text: str | None = None) -> Response:
    """ksqlDB's error envelope for an engine error: statement_error if it names a statement."""
    if isinstance(exc, StatementError):
        body = entities.statement_error(exc.error_code, exc.message, exc.statement_text or statement_text or "",
                                        exc.entities)
    else:
        body = entities.generic_error(exc.error_code, exc.message)
    return json_response(body, entities.status_for(exc.error_code))


def bad_request(message: str, code: int = entities.BAD_REQUEST) -> Reply:
    """A Reply with a generic_error (HTTP status from the code)."""
    return Reply(json_response(entities.generic_error(code, message), entities.status_for(code)))


# ---------------------------------------------------------------------------------------------- negotiation

def negotiate(request: Request, produces: Sequence[str]) -> str | None:
    """The content type to answer with: None when Accept is absent, else the best producible match (or 406)."""
    header = request.headers.get("accept", "").strip()
    if not header:
        return None
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranges.append((-quality, index, media.strip().lower()))
    for _, _, media in sorted(ranges):
        for candidate in produces:
            kind, _, _ = candidate.partition("/")
            if media in ("*/*", candidate) or media == f"{kind}/*":
                return candidate
    raise Reply(Response(status_code=406))


# ---------------------------------------------------------------------------------------------- bodies

async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body, or a 413 in ksqlDB's error shape once it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> Reply:
    return bad_request(f"Request body is larger than the limit of {limit} bytes "
                       f"(raise it with create_app(max_body_bytes=...)).", entities.PAYLOAD_TOO_LARGE)


def parse_object(body: bytes, java_class: str) -> dict[str, Any]:
    """The JSON object of a request body; anything else is ksqlDB's 400 `Invalid JSON in request: ...`."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise bad_request(f"Invalid JSON in request: Invalid UTF-8 byte at position {exc.start}") from None
    if not text:
        raise bad_request("Invalid JSON in request: No content to map due to end-of-input")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)  # like Jackson, ignore what follows the value
    except json.JSONDecodeError as exc:
        raise bad_request(f"Invalid JSON in request: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:  # Jackson refuses deep nesting too (its StreamConstraints); never a 500
        raise bad_request("Invalid JSON in request: the document is nested too deeply") from None
    if not isinstance(value, dict):
        kind = {list: "Array", str: "String", bool: "Boolean", type(None): "Null"}.get(type(value), "Number")
        raise bad_request(f"Invalid JSON in request: Cannot deserialize value of type `{java_class}` "
                          f"from {kind} value")
    return value


def field(obj: dict[str, Any], name: str, kind: type, java_class: str, *, required: bool = False,
          index: int = 0) -> Any:
    """One typed field of a request object (None when absent or null, unless required)."""
    value = obj.get(name)
    if value is None:
        if required:
            raise bad_request(f"Invalid JSON in request: Missing required creator property '{name}' "
                              f"(index {index})")
        return None
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        expected = {str: "java.lang.String", dict: "java.util.Map", int: "java.lang.Long"}[kind]
        raise bad_request(f"Invalid JSON in request: Cannot deserialize value of type `{expected}` from "
                          f"{type(value).__name__} value (through reference chain: {java_class}[\"{name}\"])")
    return value


# ---------------------------------------------------------------------------------------------- engine calls

async def call_engine(fn: Callable[..., Any], *args: Any, on_bug: Callable[[BaseException], Response],
                      statement_text: str = "", not_a_query: Reply | None = None, **kwargs: Any) -> Any:
    """Run a blocking engine method in a worker thread; its errors become ksqlDB's error responses."""
    try:
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    except NotAQueryError as exc:
        raise (not_a_query or Reply(error_response(exc, statement_text))) from None
    except KsqlError as exc:
        raise Reply(error_response(exc, statement_text)) from None
    except SqlSyntaxError as exc:  # a parser error the engine did not convert: still a bad statement
        message = getattr(exc, "ksql_message", str(exc))
        raise Reply(error_response(StatementError.bad_statement(message, statement_text))) from None
    except Exception as exc:
        log.exception("engine call %s failed", getattr(fn, "__name__", fn))
        raise Reply(on_bug(exc)) from None


def _statement_bug(statement_text: str) -> Callable[[BaseException], Response]:
    def respond(exc: BaseException) -> Response:
        return json_response(entities.statement_error(entities.SERVER_ERROR, str(exc) or type(exc).__name__,
                                                      statement_text), 500)
    return respond


def _query_bug(exc: BaseException) -> Response:
    return json_response(entities.generic_error(entities.SERVER_ERROR, INTERNAL_QUERY_ERROR), 500)


def _generic_bug(exc: BaseException) -> Response:
    return json_response(entities.generic_error(entities.SERVER_ERROR, str(exc) or type(exc).__name__), 500)


def _state(request: Request) -> "ServerState":
    return request.app.state.ksql


def handled(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Turn a `Reply` raised anywhere in a handler into its response."""
    async def endpoint(request: Request) -> Answer:
        try:
            return await handler(request)
        except Reply as reply:
            return reply.response
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


# ---------------------------------------------------------------------------------------------- handlers

@handled
async def ksql(request: Request) -> Response:
    """POST /ksql: run statements, answer a JSON array of entities."""
    state = _state(request)
    negotiate(request, OLD_API)
    body = parse_object(await read_body(request, state.max_body_bytes), KSQL_REQUEST)
    sql = field(body, "ksql", str, KSQL_REQUEST) or ""
    result = await call_engine(
        state.engine.execute, sql,
        properties=field(body, "streamsProperties", dict, KSQL_REQUEST) or {},
        variables=field(body, "sessionVariables", dict, KSQL_REQUEST) or {},
        command_sequence=field(body, "commandSequenceNumber", int, KSQL_REQUEST),
        statement_text=sql, on_bug=_statement_bug(sql))
    return json_response(list(result))


@handled
async def query_stream(request: Request) -> Answer:
    """POST /query-stream: one query, streamed as delimited lines (default), a JSON array or legacy rows."""
    state = _state(request)
    media = negotiate(request, QUERY_STREAM) or DELIMITED
    body = parse_object(await read_body(request, state.max_body_bytes), QUERY_STREAM_ARGS)
    sql = field(body, "sql", str, QUERY_STREAM_ARGS, required=True)
    stream = await call_engine(
        state.engine.open_query, sql,
        properties=field(body, "properties", dict, QUERY_STREAM_ARGS) or {},
        variables=field(body, "sessionVariables", dict, QUERY_STREAM_ARGS) or {},
        strict_properties=False,  # ksqlDB 0.29's /query-stream does not validate its properties; /query does
        statement_text=sql, on_bug=_query_bug)
    return await _stream_response(state, stream, media, print_media=DELIMITED)


@handled
async def query(request: Request) -> Answer:
    """POST /query: the legacy endpoint; a JSON array of StreamedRow unless delimited output is asked for."""
    state = _state(request)
    accepted = negotiate(request, QUERY_LEGACY)
    media = DELIMITED if accepted == DELIMITED else KSQL_V1_JSON
    body = parse_object(await read_body(request, state.max_body_bytes), KSQL_REQUEST)
    sql = field(body, "ksql", str, KSQL_REQUEST) or ""
    properties = field(body, "streamsProperties", dict, KSQL_REQUEST) or {}
    variables = field(body, "sessionVariables", dict, KSQL_REQUEST) or {}
    sequence = field(body, "commandSequenceNumber", int, KSQL_REQUEST)
    if not sql.strip():
        raise bad_request('"ksql" field must be populated')
    stream = await call_engine(state.engine.open_query, sql, properties=properties, variables=variables,
                               command_sequence=sequence, statement_text=sql, on_bug=_query_bug,
                               not_a_query=bad_request(NOT_SUPPORTED_ON_QUERY) if media == KSQL_V1_JSON else None)
    return await _stream_response(state, stream, media, print_media=media)


async def _stream_response(state: "ServerState", stream: Any, media: str, *, print_media: str) -> Answer:
    if isinstance(stream, PrintStream):
        if media != DELIMITED and print_media == DELIMITED:
            await anyio.to_thread.run_sync(stream.close)
            return Response(status_code=406)
        return PrintResponse(stream, JSON if print_media == KSQL_V1_JSON else print_media, state)
    return QueryResponse(stream, media, state)


@handled
async def close_query(request: Request) -> Response:
    """POST /close-query: stop a push query started by /query-stream (200 with an empty body)."""
    state = _state(request)
    body = parse_object(await read_body(request, state.max_body_bytes), CLOSE_QUERY_ARGS)
    query_id = field(body, "queryId", str, CLOSE_QUERY_ARGS, required=True)
    running = state.queries.pop(query_id, None)
    if running is None:
        raise bad_request(f"No query with id {query_id}")
    await running.request_close()
    return Response(status_code=200)


@handled
async def inserts_stream(request: Request) -> Answer:
    """POST /inserts-stream: HTTP/2 only in ksqlDB (400/40004 on HTTP/1.1, unless the server opts in)."""
    state = _state(request)
    media = negotiate(request, INSERTS) or DELIMITED
    if request.scope.get("http_version") != "2" and not state.inserts_over_http1:
        raise bad_request("This endpoint is only available when using HTTP2", entities.HTTP2_ONLY)
    lines = _lines(request, state.max_body_bytes)
    first = await anext(lines, b"")
    if len(first) > state.max_body_bytes:
        raise _too_large(state.max_body_bytes)
    args = parse_object(first, INSERTS_STREAM_ARGS)
    target = field(args, "target", str, INSERTS_STREAM_ARGS, required=True)
    sink = await call_engine(state.engine.open_inserts, target,
                             properties=field(args, "properties", dict, INSERTS_STREAM_ARGS) or {},
                             on_bug=_query_bug)
    return InsertsResponse(sink, lines, media, state, state.max_body_bytes)


async def _lines(request: Request, limit: int) -> AsyncIterator[bytes]:
    buffer = b""
    async for chunk in request.stream():
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line
        if len(buffer) > limit:
            yield buffer
            return
    if buffer.strip():
        yield buffer


@handled
async def info(request: Request) -> Response:
    """GET /info."""
    state = _state(request)
    negotiate(request, OLD_API)
    server = await call_engine(state.engine.info, on_bug=_generic_bug)
    return json_response(entities.server_info(server.version, server.kafka_cluster_id, server.ksql_service_id,
                                              server.server_status))


@handled
async def healthcheck(request: Request) -> Response:
    """GET /healthcheck (always 200; `isHealthy` says how things are)."""
    state = _state(request)
    negotiate(request, OLD_API)
    health = await call_engine(state.engine.health, on_bug=_generic_bug)
    return json_response(entities.health_check(health.is_healthy, health.details, health.server_state))


@handled
async def status_all(request: Request) -> Response:
    """GET /status: commandId → status."""
    state = _state(request)
    negotiate(request, OLD_API)
    statuses = await call_engine(state.engine.command_statuses, on_bug=_generic_bug)
    return json_response({command_id: status["status"] for command_id, status in statuses.items()})


@handled
async def status_one(request: Request) -> Response:
    """GET /status/<type>/<entity>/<action>: one CommandStatus, or 404/40400 "Command not found"."""
    state = _state(request)
    negotiate(request, OLD_API)
    params = request.path_params
    command_id = f"{params['type']}/{params['entity']}/{params['action']}"
    statuses = await call_engine(state.engine.command_statuses, on_bug=_generic_bug)
    if command_id not in statuses:
        raise bad_request("Command not found", entities.NOT_FOUND)
    return json_response(dict(statuses[command_id]))


async def cluster_status(request: Request) -> Response:
    """GET /clusterStatus: 404 with an empty body, as ksqlDB answers without `ksql.heartbeat.enable`."""
    return Response(status_code=404)


async def root(request: Request) -> Response:
    """GET /: redirect to /info."""
    return RedirectResponse("/info", status_code=307)


async def chc(request: Request) -> Response:
    """GET /chc/ready and /chc/live: `{}`."""
    return json_response({})


ROUTES: list[tuple[str, Callable[[Request], Any], list[str]]] = [
    ("/ksql", ksql, ["POST"]),
    ("/query", query, ["POST"]),
    ("/query-stream", query_stream, ["POST"]),
    ("/close-query", close_query, ["POST"]),
    ("/inserts-stream", inserts_stream, ["POST"]),
    ("/info", info, ["GET"]),
    ("/healthcheck", healthcheck, ["GET"]),
    ("/status", status_all, ["GET"]),
    ("/status/{type}/{entity}/{action}", status_one, ["GET"]),
    ("/clusterStatus", cluster_status, ["GET"]),
    ("/", root, ["GET"]),
    ("/chc/ready", chc, ["GET"]),
    ("/chc/live", chc, ["GET"]),
]
