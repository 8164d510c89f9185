"""Run one RQTT case (ksqlDB's rest-query-validation-tests) through the real HTTP layer, as RestTestExecutor does.

The engine of each case runs on in-memory topics (the conformance driver from `make_driver`), adapted to the
REST protocol (`labkit.engine.server_adapter.ServerEngine`) and served by labkit's ASGI app under uvicorn on a
loopback port. The leading non-SELECT statements go to /ksql as one request; each SELECT goes to /query
(legacy JSON rows). Inputs are produced after the admin statements, or once the push query runs when the
case says `waitForActivePushQuery`. Expected `responses` are matched partially (only the keys written, a
`key|STARTS_WITH` prefix rule, rows as a multiset unless `verifyOrder`), `expectedError` by status, type and
message substring, and `outputs` record by record. The server runs with `ksql.streams.auto.offset.reset=earliest`
and scalable push queries on (as RestQueryTranslationTest configures it), and the case's properties are sent with
every request, as upstream. Topics are created as the harness creates them on its cluster (a CREATE statement's
PARTITIONS, else 4; input and output topics nothing declares: 4) and records land where Kafka puts them (murmur2
of the key). An `expectedError` that upstream never compares (every statement succeeds and no query runs) is
reported as a skip with that reason.
"""
from __future__ import annotations

import atexit
import codecs
import json
import threading
import time
from typing import Any

import requests

from labkit.conformance.cases import Case
from labkit.conformance.compare import outputs_mismatch, values_equal
from labkit.conformance.driver import DriverFactory
from labkit.conformance.qtt import Outcome, _one_line, _record
from labkit.errors import LabkitError

__all__ = ["run_rqtt_case", "SERVER_CONFIG"]

SERVER_CONFIG: dict[str, Any] = {
    "ksql.streams.auto.offset.reset": "earliest",
    "ksql.query.pull.table.scan.enabled": True,
    "ksql.query.push.v2.registry.installed": True,
    "ksql.query.push.v2.enabled": True,
}
"""The server configuration of ksqlDB's REST test executor that the engine reads (RestQueryTranslationTest)."""

HARNESS_TOPIC_PARTITIONS = 4
"""Partitions of the topics the harness creates for CREATE statements without PARTITIONS and for the topics of
inputs and outputs it knows nothing else about (ksqlDB's Topic.DEFAULT_PARTITIONS); `topics` entries default to 1."""
UNCHECKED_ERROR_REASON = (
    "upstream does not check this expectedError: RestTestExecutor compares it only with an error response or "
    "once a query has answered; here every statement succeeds (as in ksqlDB 0.29) and no query runs, so the "
    "case passes there unchecked (expected: {message!r})")
STATEMENT_ERROR = "io.confluent.ksql.rest.entity.KsqlStatementErrorMessage"
QUERY_TIMEOUT_S = 10.0
_LEGACY_JSON = "application/vnd.ksql.v1+json"


class _Server:
    """One uvicorn server for the whole run; each case swaps its own engine in."""

    def __init__(self) -> None:
        from labkit.server.app import BackgroundServer

        self.background = BackgroundServer(_NoEngine(), poll_interval=0.05)
        self.background.start()
        self.http = requests.Session()

    @property
    def url(self) -> str:
        return self.background.url

    def use(self, engine: Any) -> None:
        self.background.app.state.ksql.engine = engine
        self.background.app.state.ksql.queries.clear()

    def stop(self) -> None:
        self.http.close()
        self.background.stop()


class _NoEngine:
    def __getattr__(self, name: str) -> Any:
        raise LabkitError("no RQTT case is running")


_server: _Server | None = None
_server_lock = threading.Lock()


def _shared_server() -> _Server:
    global _server
    with _server_lock:
        if _server is None:
            _server = _Server()
            atexit.register(_server.stop)
        return _server


class _CaseFailed(Exception):
    pass


class _ErrorReply(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _split(statements: list[str]) -> tuple[list[str], list[str]]:
    admin: list[str] = []
    index = 0
    while index < len(statements) and not statements[index].lstrip().upper().startswith("SELECT "):
        admin.append(statements[index])
        index += 1
    return admin, statements[index:]


def _create_inferred_topics(driver: Any, statements: list[str]) -> None:
    """Create the topics of CREATE statements with columns, as the executor does before running them.

    As TestCaseBuilderUtil.getAllTopics: the statement's PARTITIONS, else Topic.DEFAULT_PARTITIONS (4).
    """
    from labkit.engine.properties import CREATE, WithClause
    from labkit.sql import ast, parse

    for text in statements:
        try:
            parsed = parse(text)
        except Exception:  # noqa: BLE001 - the server reports the statement's error
            continue
        for statement in parsed:
            if not isinstance(statement, ast.CreateSource) or not statement.elements:
                continue
            try:
                props = WithClause.parse(statement.properties, CREATE)
            except Exception:  # noqa: BLE001 - the statement itself reports the problem
                continue
            topic = props.get("KAFKA_TOPIC")
            if topic is not None and topic not in driver.topic_names():
                driver.create_topic(topic, partitions=props.get("PARTITIONS") or HARNESS_TOPIC_PARTITIONS)


class _ElementReader:
    """The elements of one legacy /query array as they stream in, read in several steps from one response."""

    def __init__(self, response: requests.Response) -> None:
        self._chunks = response.iter_content(chunk_size=None)
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._decoder = json.JSONDecoder()
        self._buffer = ""
        self._ready: list[Any] = []
        self._ended = False

    def _parse(self) -> None:
        while True:
            stripped = self._buffer.lstrip("[,\n\r\t ")
            if not stripped or stripped.startswith("]"):
                self._buffer = stripped
                return
            try:
                value, end = self._decoder.raw_decode(stripped)
            except ValueError:
                self._buffer = stripped
                return
            self._ready.append(value)
            self._buffer = stripped[end:]

    def read(self, wanted: int | None, timeout: float) -> list[Any]:
        """The elements that arrived once `wanted` more did (all until the end when None), or by `timeout`."""
        deadline = time.monotonic() + timeout
        while not self._ended and (wanted is None or len(self._ready) < wanted) and time.monotonic() <= deadline:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._ended = True
                break
            except requests.RequestException:  # no more rows within the read timeout: judge what arrived
                self._ended = True
                break
            self._buffer += self._text.decode(chunk)
            self._parse()
        found, self._ready = self._ready, []  # all that arrived: extra elements must show as a count mismatch
        return found


def _elements(response: requests.Response, wanted: int | None, timeout: float) -> list[Any]:
    """The elements of a legacy /query array as they stream in; stops at `wanted` elements or the end."""
    return _ElementReader(response).read(wanted, timeout)


def _post(server: _Server, path: str, body: dict[str, Any], **kwargs: Any) -> requests.Response:
    response = server.http.post(server.url + path, data=json.dumps(body), timeout=(5, QUERY_TIMEOUT_S),
                                headers={"Content-Type": "application/json", **kwargs.pop("headers", {})}, **kwargs)
    if response.status_code >= 400:
        try:
            payload = response.json()
        except ValueError:
            payload = {"message": response.text}
        response.close()
        raise _ErrorReply(response.status_code, payload)
    return response


def _partial(expected: Any, actual: Any, path: str) -> str | None:
    """Why `actual` does not contain `expected` (keys not written are not checked), or None."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        for raw_key, value in expected.items():
            key, _, rule = raw_key.partition("|")
            if key not in actual:
                return f"{path}.{key}: missing"
            if rule.upper() == "STARTS_WITH":
                if not isinstance(actual[key], str) or not actual[key].startswith(str(value)):
                    return f"{path}.{key}: expected to start with {value!r}, got {actual[key]!r}"
                continue
            problem = _partial(value, actual[key], f"{path}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected {expected!r}, got {actual!r}"
        for index, (e, a) in enumerate(zip(expected, actual)):
            problem = _partial(e, a, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if not values_equal(expected, actual):
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def _match_query(expected: list[Any], actual: list[Any], verify_order: bool, index: int) -> str | None:
    path = f"query response {index}"
    if len(actual) != len(expected):
        return f"{path}: expected {len(expected)} elements, got {len(actual)}: {_one_line(json.dumps(actual))}"
    expected_rows = [e for e in expected if isinstance(e, dict) and "row" in e]
    actual_rows = [a for a in actual if isinstance(a, dict) and "row" in a]
    expected_other = [e for e in expected if not (isinstance(e, dict) and "row" in e)]
    actual_other = [a for a in actual if not (isinstance(a, dict) and "row" in a)]
    problem = _partial(expected_other, actual_other, path)
    if problem:
        return problem
    if verify_order or len(expected_rows) != len(actual_rows):
        return _partial(expected_rows, actual_rows, f"{path} rows")
    unused = list(actual_rows)
    for row in expected_rows:
        match = next((a for a in unused if _partial(row, a, "") is None), None)
        if match is None:
            return f"{path}: no row matches {json.dumps(row, default=str)} among {json.dumps(actual_rows, default=str)}"
        unused.remove(match)
    return None


def _match_error(case: Case, error: _ErrorReply, last_statement: str) -> str | None:
    expected = case.expected_exception or {}
    body = error.body if isinstance(error.body, dict) else {}
    if "status" in expected and int(expected["status"]) != error.status:
        return f"expected HTTP {expected['status']}, got {error.status}: {body.get('message')!r}"
    if expected.get("type") == STATEMENT_ERROR and body.get("@type") != "statement_error":
        return f"expected a statement_error, got {body.get('@type')!r}: {body.get('message')!r}"
    message = expected.get("message")
    if message is not None and message not in str(body.get("message", "")):
        return f"expected error containing {message!r}, got {_one_line(str(body.get('message')))!r}"
    return None


def _query_responses(case: Case) -> list[list[Any]]:
    return [r["query"] for r in case.responses or [] if "query" in r]


def run_rqtt_case(case: Case, make_driver: DriverFactory) -> Outcome:
    """Run a case against a fresh engine served over HTTP; pass, fail (with the reason) or skip."""
    if case.skip_reason:
        return Outcome("skip", case.skip_reason)
    if not case.responses and case.expected_exception is None and not case.outputs:
        return Outcome("skip", "nothing to check (protobuf-only responses)")
    from labkit.engine.command_topic import CommandTopic
    from labkit.engine.server_adapter import ServerEngine

    driver = make_driver(dict(SERVER_CONFIG), kafka_partitioning=True)
    server = _shared_server()
    engine = getattr(driver, "engine", None)
    if engine is None:
        return Outcome("skip", "the driver has no engine to serve over HTTP")
    service = ServerEngine(engine, commands=CommandTopic(engine.store)).start()
    server.use(service)
    try:
        return _run(case, driver, service, server)
    except _CaseFailed as failure:
        return Outcome("fail", str(failure))
    except Exception as error:  # an engine bug: this case fails, the suite goes on
        return Outcome("fail", f"engine crashed: {type(error).__name__}: {_one_line(str(error))}")
    finally:
        server.use(_NoEngine())
        driver.close()


def _produce_inputs(case: Case, driver: Any, service: Any) -> None:
    with service.engine_lock():
        for raw in case.inputs:
            driver.produce(_record(raw))
        service.engine.run_until_idle()
        service.wake_all()


def _run(case: Case, driver: Any, service: Any, server: _Server) -> Outcome:
    for topic in case.topics:
        driver.create_topic(topic["name"], partitions=topic.get("partitions", 1))
    admin, selects = _split(case.statements)
    _create_inferred_topics(driver, admin)
    for record in [*case.inputs, *case.outputs]:  # topics of records that nothing above declared
        if record["topic"] not in driver.topic_names():
            driver.create_topic(record["topic"], partitions=HARNESS_TOPIC_PARTITIONS)
    properties = dict(case.properties)
    wait_for_push = bool(case.input_conditions.get("waitForActivePushQuery"))
    admin_entities: list[Any] = []
    query_results: list[list[Any]] = []
    expected_queries = _query_responses(case)
    try:
        if admin:
            response = _post(server, "/ksql", {"ksql": "\n".join(admin), "streamsProperties": properties})
            admin_entities = response.json()
        if not wait_for_push:
            _produce_inputs(case, driver, service)
        for index, sql in enumerate(selects):
            wanted = len(expected_queries[index]) if index < len(expected_queries) else None
            response = _post(server, "/query", {"ksql": sql, "streamsProperties": properties}, stream=True,
                             headers={"Accept": _LEGACY_JSON})
            try:
                if wait_for_push:
                    reader = _ElementReader(response)
                    first = reader.read(1, QUERY_TIMEOUT_S)
                    _produce_inputs(case, driver, service)
                    rest = reader.read(None if wanted is None else max(0, wanted - len(first)), QUERY_TIMEOUT_S)
                    query_results.append(first + rest)
                else:
                    query_results.append(_elements(response, wanted, QUERY_TIMEOUT_S))
            finally:
                response.close()
    except _ErrorReply as error:
        if case.expected_exception is None:
            return Outcome("fail", f"unexpected error {error.status}: {_one_line(str(error.body))}")
        problem = _match_error(case, error, case.statements[-1])
        return Outcome("fail", problem) if problem else Outcome("pass")
    except requests.RequestException as error:
        return Outcome("fail", f"HTTP failure: {error}")
    unchecked_error = case.expected_exception is not None and not query_results
    if case.expected_exception is not None and not unchecked_error:
        return Outcome("fail", f"expected an error ({case.expected_exception.get('message')!r}) but the case ran")
    problem = _match_responses(case, admin_entities, query_results)
    if problem is None and case.outputs:
        with service.engine_lock():
            produced = {t: driver.produced(t) for t in {o["topic"] for o in case.outputs}}
        problem = outputs_mismatch(case.outputs, produced)
    if problem:
        return Outcome("fail", problem)
    if unchecked_error:
        return Outcome("skip", UNCHECKED_ERROR_REASON.format(message=case.expected_exception.get("message")))
    return Outcome("pass")


def _match_responses(case: Case, admin_entities: list[Any], query_results: list[list[Any]]) -> str | None:
    expected_admin = [r["admin"] for r in case.responses or [] if "admin" in r]
    if len(admin_entities) < len(expected_admin):
        return f"expected {len(expected_admin)} /ksql entities, got {len(admin_entities)}: " \
               f"{_one_line(json.dumps(admin_entities))}"
    for index, (expected, actual) in enumerate(zip(expected_admin, admin_entities)):
        if isinstance(expected, dict) and isinstance(actual, dict):
            expected = _with_statement(expected, actual.get("statementText", ""))
        problem = _partial(expected, actual, f"admin response {index}")
        if problem:
            return problem
    verify_order = bool(case.output_conditions.get("verifyOrder"))
    for index, expected in enumerate(_query_responses(case)):
        if index >= len(query_results):
            return f"expected a response for query {index}, there is none"
        problem = _match_query(expected, query_results[index], verify_order, index)
        if problem:
            return problem
    return None


def _with_statement(node: Any, statement: str) -> Any:
    if isinstance(node, str):
        return node.replace("{STATEMENT}", statement)
    if isinstance(node, list):
        return [_with_statement(v, statement) for v in node]
    if isinstance(node, dict):
        return {k: _with_statement(v, statement) for k, v in node.items()}
    return node

