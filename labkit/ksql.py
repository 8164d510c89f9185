"""A client for any ksqlDB 0.29 server (real, or labkit's embedded engine), over the documented REST API only.

Statements go to /ksql, queries to /query-stream (delimited lines over HTTP/1.1), inserts become
`INSERT INTO ... VALUES` statements. Errors arrive as `KsqlResponseError` (a `labkit.errors.KsqlError`
with error code, message and statement); an unreachable server raises `KsqlConnectionError`, which says how
to start one. Names and values that labkit puts into SQL are always quoted (`quote_identifier`,
`quote_literal`).

Example:
    >>> from labkit import ksql
    >>> ksql.execute("SHOW STREAMS;")                                  # doctest: +SKIP
    >>> ksql.pull("SELECT * FROM RIDERS;")                             # doctest: +SKIP
    >>> with ksql.KsqlClient() as client:                              # doctest: +SKIP
    ...     with client.push("SELECT * FROM RIDERS EMIT CHANGES;", limit=3, timeout=10) as rows:
    ...         for row in rows:
    ...             print(row)
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import numbers
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import requests

from labkit import config
from labkit.errors import KsqlError, LabkitError
from labkit.server import entities

if TYPE_CHECKING:
    import pandas

__all__ = [
    "KsqlClient",
    "PushQuery",
    "KsqlError",
    "KsqlResponseError",
    "KsqlConnectionError",
    "KsqlTimeoutError",
    "quote_identifier",
    "quote_literal",
    "execute",
    "pull",
    "push",
    "stream_rows",
    "insert",
    "info",
    "healthy",
    "DEFAULT_TIMEOUT",
]

log = logging.getLogger("labkit.ksql")

DEFAULT_TIMEOUT = 30.0
INSERT_BATCH = 500


class KsqlResponseError(KsqlError):
    """The server answered with an error: ksqlDB's error_code, message and statement, plus the HTTP exchange."""

    def __init__(self, error_code: int, message: str, statement_text: str | None = None, *, status_code: int,
                 error_type: str = "generic_error", entities: Sequence[Mapping[str, Any]] = (),
                 response: requests.Response | None = None) -> None:
        super().__init__(error_code, message, statement_text)
        self.status_code = status_code
        self.error_type = error_type
        self.entities = list(entities)
        self.response = response
        self.request = response.request if response is not None else None


class KsqlConnectionError(LabkitError):
    """No ksqlDB server answered at the configured URL (or the connection broke)."""


class KsqlTimeoutError(KsqlConnectionError):
    """The server accepted the connection but did not answer in time."""


# ---------------------------------------------------------------------------------------------- quoting

def quote_identifier(name: str) -> str:
    """A back-quoted ksqlDB identifier (case kept, inner back-quotes doubled): quote_identifier("a`b") == "`a``b`"."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an identifier must be a non-empty string, not {name!r}")
    return "`" + name.replace("`", "``") + "`"


def quote_literal(value: Any) -> str:
    """A ksqlDB literal: 'text' with quotes doubled, numbers as written, TRUE/FALSE, NULL, ARRAY[...].

    Dates and times become ISO strings, which ksqlDB converts for DATE/TIME/TIMESTAMP columns.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"ksqlDB has no literal for {value}")
        return format(value, "f")
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"ksqlDB has no literal for {number}")
        return repr(number)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return quote_literal(value.isoformat(timespec="milliseconds"))
    if isinstance(value, (dt.date, dt.time)):
        return quote_literal(value.isoformat())
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(quote_literal(item) for item in value) + "]"
    if isinstance(value, Mapping):
        raise TypeError("a dict could be a MAP or a STRUCT: write MAP('k' := v) or STRUCT(F := v) in the SQL")
    raise TypeError(f"cannot write a {type(value).__name__} as a ksqlDB literal")


def _source_name(name: str) -> str:
    """ksqlDB's rule for a name: back-quoted → as written, otherwise upper-cased."""
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name.upper()


# ---------------------------------------------------------------------------------------------- client

class KsqlClient:
    """A ksqlDB REST client over one requests.Session; use it with `with`, or call close().

    `url` and `auth` default to labkit's settings (LABKIT_KSQL_URL, LABKIT_KSQL_API_KEY/SECRET); settings'
    credentials are only used with the settings' URL. `timeout` bounds connecting and each non-streaming
    answer; `session` lets tests or callers supply their own transport.
    """

    def __init__(self, url: str | None = None, *, auth: tuple[str, str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None) -> None:
        if url is None:
            settings = config.settings()
            url = settings.ksql_url
            if auth is None:
                auth = settings.ksql_auth()
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if auth is not None:
            self.session.auth = auth

    def __repr__(self) -> str:
        return f"KsqlClient({self.url!r})"

    def __enter__(self) -> "KsqlClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP connections (only those of a session this client created)."""
        if self._owns_session:
            self.session.close()

    # -- plumbing

    def _post(self, path: str, body: Mapping[str, Any], *, accept: str = entities.JSON, stream: bool = False,
              read_timeout: float | None = None, statement: str | None = None) -> requests.Response:
        timeout = (self.timeout, read_timeout if stream else self.timeout)
        try:
            response = self.session.post(self.url + path, data=json.dumps(body).encode("utf-8"), stream=stream,
                                         headers={"Accept": accept, "Content-Type": entities.JSON},
                                         timeout=timeout)
        except requests.Timeout as exc:
            waited = timeout[1] if timeout[1] is not None and not isinstance(exc, requests.ConnectTimeout) \
                else self.timeout
            raise KsqlTimeoutError(
                f"ksqlDB at {self.url} did not answer within {waited:g} s"
                + (" (pull() waits for the whole result: use push() for EMIT CHANGES queries)"
                   if path == "/query-stream" else "") + ".") from exc
        except requests.ConnectionError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise _error_from(response, self.url, statement)
        return response

    def _get(self, path: str) -> Any:
        try:
            response = self.session.get(self.url + path, headers={"Accept": entities.JSON}, timeout=self.timeout)
        except requests.Timeout as exc:
            raise KsqlTimeoutError(f"ksqlDB at {self.url} did not answer within {self.timeout:g} s.") from exc
        except requests.ConnectionError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise _error_from(response, self.url, None)
        return _json(response)

    def _unreachable(self, exc: Exception) -> KsqlConnectionError:
        return KsqlConnectionError(
            f"No ksqlDB server answers at {self.url}. Start the workbook's cluster with `labkit up` "
            f"(or `make lab`), or point LABKIT_KSQL_URL at your ksqlDB server. ({type(exc).__name__})")

    # -- statements

    def execute(self, sql: str, *, properties: Mapping[str, Any] | None = None,
                variables: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run statements on /ksql; return ksqlDB's entities (one per statement that has one)."""
        body: dict[str, Any] = {"ksql": sql, "streamsProperties": dict(properties or {})}
        if variables:
            body["sessionVariables"] = dict(variables)
        return _json(self._post("/ksql", body, statement=sql), sql)

    def insert(self, source: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert rows (dicts of column → value) into a stream or table; return how many were sent.

        Names follow ksqlDB's rule: written plainly they are upper-cased, back-quoted they are kept as is.
        Each row becomes one quoted `INSERT INTO ... VALUES` statement, sent in batches.
        """
        target = quote_identifier(_source_name(source))
        batch: list[str] = []
        count = 0
        for row in rows:
            if not row:
                raise ValueError("cannot insert an empty row")
            columns = ", ".join(quote_identifier(_source_name(name)) for name in row)
            values = ", ".join(quote_literal(value) for value in row.values())
            batch.append(f"INSERT INTO {target} ({columns}) VALUES ({values});")
            count += 1
            if len(batch) >= INSERT_BATCH:
                self.execute("\n".join(batch))
                batch = []
        if batch:
            self.execute("\n".join(batch))
        return count

    def info(self) -> dict[str, Any]:
        """GET /info: version, kafkaClusterId, ksqlServiceId, serverStatus."""
        return self._get("/info")["KsqlServerInfo"]

    def healthy(self) -> bool:
        """True if the server answers /healthcheck with isHealthy; False if unhealthy or unreachable."""
        try:
            return bool(self._get("/healthcheck").get("isHealthy"))
        except KsqlConnectionError:
            return False

    def close_query(self, query_id: str) -> None:
        """POST /close-query: end a push query (KsqlResponseError 40000 if the server does not know it)."""
        self._post("/close-query", {"queryId": query_id}).close()

    # -- queries

    def _open(self, sql: str, properties: Mapping[str, Any] | None, variables: Mapping[str, Any] | None,
              read_timeout: float | None) -> tuple[requests.Response, Iterator[bytes], dict[str, Any]]:
        body: dict[str, Any] = {"sql": sql, "properties": dict(properties or {})}
        if variables:
            body["sessionVariables"] = dict(variables)
        response = self._post("/query-stream", body, accept=entities.DELIMITED, stream=True,
                              read_timeout=read_timeout, statement=sql)
        lines = response.iter_lines()
        try:
            header = _parse_line(next(lines, b""), response, sql)
        except BaseException:
            response.close()
            raise
        if not isinstance(header, dict) or "columnNames" not in header:
            response.close()
            raise KsqlResponseError(entities.SERVER_ERROR, f"Unexpected first line from /query-stream: {header!r}",
                                    sql, status_code=response.status_code, response=response)
        return response, lines, header

    def pull(self, sql: str, *, properties: Mapping[str, Any] | None = None,
             variables: Mapping[str, Any] | None = None) -> "pandas.DataFrame":
        """Run a pull query; return its rows as a DataFrame with the columns the header names.

        `df.attrs` holds `query_id` and `column_types`.
        """
        import pandas

        response, lines, header = self._open(sql, properties, variables, self.timeout)
        try:
            rows = []
            for raw in lines:
                if raw:
                    rows.append(_row(_parse_line(raw, response, sql), response, sql))
        except requests.RequestException as exc:
            if "timed out" in str(exc).lower():
                raise KsqlTimeoutError(
                    f"The pull query did not finish within {self.timeout:g} s. pull() waits for the whole "
                    f"result: for a push query (EMIT CHANGES) use push() with limit= or timeout=.") from exc
            raise KsqlConnectionError(f"The answer from {self.url} broke off: {exc}") from exc
        finally:
            response.close()
        frame = pandas.DataFrame(rows, columns=header["columnNames"])
        frame.attrs["query_id"] = header.get("queryId")
        frame.attrs["column_types"] = list(header.get("columnTypes", []))
        return frame

    def push(self, sql: str, *, properties: Mapping[str, Any] | None = None,
             variables: Mapping[str, Any] | None = None, limit: int | None = None, timeout: float | None = None,
             as_dict: bool = True) -> "PushQuery":
        """Start a push query; iterate the returned PushQuery for rows (dicts, or lists with as_dict=False).

        Iteration stops when the server ends the query, after `limit` rows, or `timeout` seconds after the
        start; the query is then closed on the server too.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        response, lines, header = self._open(sql, properties, variables, timeout)
        return PushQuery(self, response, lines, header, sql=sql, limit=limit, timeout=timeout, as_dict=as_dict)

    def print_topic(self, sql: str, *, timeout: float | None = None) -> Iterator[str]:
        """Lines of a `PRINT 'topic' …;` statement (over /query, as ksqlDB's CLI does); stops after `timeout` s."""
        response = self._post("/query", {"ksql": sql, "streamsProperties": {}}, accept=entities.JSON, stream=True,
                              read_timeout=timeout, statement=sql)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for raw in response.iter_lines():
                if raw:
                    yield raw.decode("utf-8", errors="replace")
                if deadline is not None and time.monotonic() > deadline:
                    return
        except requests.RequestException:
            if deadline is None or time.monotonic() < deadline - 0.05:
                raise
        finally:
            response.close()

    def stream_rows(self, sql: str, *, properties: Mapping[str, Any] | None = None,
                    variables: Mapping[str, Any] | None = None, limit: int | None = None,
                    timeout: float | None = None, as_dict: bool = True) -> Iterator[Any]:
        """Rows of a push query as a generator that closes the query when it ends or is abandoned."""
        with self.push(sql, properties=properties, variables=variables, limit=limit, timeout=timeout,
                       as_dict=as_dict) as rows:
            yield from rows


class PushQuery:
    """A running push query: an iterator of rows with `query_id`, `columns`, `column_types` and `close()`."""

    def __init__(self, client: KsqlClient, response: requests.Response, lines: Iterator[bytes],
                 header: Mapping[str, Any], *, sql: str, limit: int | None, timeout: float | None,
                 as_dict: bool, owns_client: bool = False) -> None:
        self.client = client
        self.query_id: str | None = header.get("queryId")
        self.columns: list[str] = list(header.get("columnNames", []))
        self.column_types: list[str] = list(header.get("columnTypes", []))
        self.sql = sql
        self.limit = limit
        self.as_dict = as_dict
        self.rows_read = 0
        self.timed_out = False
        self.owns_client = owns_client
        self._response = response
        self._lines = lines
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._ended = False  # the server finished the stream
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<PushQuery {self.query_id} {state}, {self.rows_read} rows read>"

    def __enter__(self) -> "PushQuery":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> "PushQuery":
        return self

    def __next__(self) -> Any:
        while True:
            if self._closed or (self.limit is not None and self.rows_read >= self.limit):
                self.close()
                raise StopIteration
            raw = self._next_line()
            if raw is None:
                self.close()
                raise StopIteration
            if not raw:
                continue
            try:
                values = _row(_parse_line(raw, self._response, self.sql), self._response, self.sql)
            except KsqlError:
                self._ended = True  # an error line ends the response
                self.close()
                raise
            self.rows_read += 1
            return dict(zip(self.columns, values)) if self.as_dict else values

    def _next_line(self) -> bytes | None:
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                return None
            _set_read_timeout(self._response, remaining)
        try:
            return next(self._lines)
        except StopIteration:
            self._ended = True
            return None
        except requests.RequestException as exc:
            if self._deadline is not None and time.monotonic() >= self._deadline - 0.05:
                self.timed_out = True
                return None
            self._ended = True
            self.close()
            raise KsqlConnectionError(f"The push query {self.query_id} broke off: {exc}") from exc

    def close(self) -> None:
        """End the query: /close-query on the server (if it still runs), then the HTTP stream. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._ended and self.query_id:
                try:
                    self.client.close_query(self.query_id)
                except KsqlResponseError as exc:
                    if exc.error_code != entities.BAD_REQUEST:  # 40000: the query had already ended
                        log.warning("closing push query %s: %s", self.query_id, exc)
                except KsqlConnectionError as exc:
                    log.warning("closing push query %s: %s", self.query_id, exc)
        finally:
            self._response.close()
            if self.owns_client:
                self.client.close()


def _json(response: requests.Response, sql: str | None = None) -> Any:
    """The JSON body of a successful answer, or a KsqlResponseError saying it was not JSON."""
    try:
        return response.json()
    except ValueError:
        raise KsqlResponseError(entities.SERVER_ERROR, f"The answer from {response.url} is not JSON: "
                                f"{response.text[:200]!r}", sql, status_code=response.status_code,
                                response=response) from None


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Bound the next socket read of a streamed response (best effort; urllib3 keeps the socket)."""
    connection = getattr(response.raw, "connection", None) or getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _parse_line(raw: bytes, response: requests.Response, sql: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise KsqlResponseError(entities.SERVER_ERROR, f"Unreadable line from the server: {raw[:200]!r}", sql,
                                status_code=response.status_code, response=response) from None


def _row(value: Any, response: requests.Response, sql: str) -> list[Any]:
    if isinstance(value, list):
        return value
    error = entities.read_error(value)
    if error is not None:
        raise KsqlResponseError(error.error_code, error.message, error.statement_text or sql,
                                status_code=response.status_code, error_type=error.error_type,
                                entities=error.entities, response=response)
    raise KsqlResponseError(entities.SERVER_ERROR, f"Unexpected line from the server: {value!r}", sql,
                            status_code=response.status_code, response=response)


def _error_from(response: requests.Response, url: str, statement: str | None) -> KsqlResponseError:
    """The error an HTTP error response carries (ksqlDB's envelope, or a plain HTTP failure)."""
    status = response.status_code
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    error = entities.read_error(body)
    if error is not None:
        return KsqlResponseError(error.error_code, error.message, error.statement_text, status_code=status,
                                 error_type=error.error_type, entities=error.entities, response=response)
    hints = {401: "Check LABKIT_KSQL_API_KEY and LABKIT_KSQL_API_SECRET.",
             406: "The server cannot answer in the requested content type.",
             404: "Is this URL a ksqlDB server?"}
    text = response.text.strip()[:200] if response.content else ""
    message = f"HTTP {status} {response.reason or ''} from {url}.".replace("  ", " ")
    message += (f" {hints[status]}" if status in hints else "") + (f" {text}" if text else "")
    return KsqlResponseError(status * 100, message, statement, status_code=status, response=response)


# ---------------------------------------------------------------------------------------------- shortcuts

def execute(sql: str, *, properties: Mapping[str, Any] | None = None, variables: Mapping[str, Any] | None = None,
            url: str | None = None) -> list[dict[str, Any]]:
    """Run statements with a client from labkit's settings; return the entities."""
    with KsqlClient(url) as client:
        return client.execute(sql, properties=properties, variables=variables)


def pull(sql: str, *, properties: Mapping[str, Any] | None = None, variables: Mapping[str, Any] | None = None,
         url: str | None = None) -> "pandas.DataFrame":
    """Run a pull query with a client from labkit's settings; return a DataFrame."""
    with KsqlClient(url) as client:
        return client.pull(sql, properties=properties, variables=variables)


def push(sql: str, *, properties: Mapping[str, Any] | None = None, variables: Mapping[str, Any] | None = None,
         limit: int | None = None, timeout: float | None = None, as_dict: bool = True,
         url: str | None = None) -> PushQuery:
    """Start a push query with its own client (closed with the query); use it with `with`."""
    client = KsqlClient(url)
    try:
        query = client.push(sql, properties=properties, variables=variables, limit=limit, timeout=timeout,
                            as_dict=as_dict)
    except BaseException:
        client.close()
        raise
    query.owns_client = True
    return query


def stream_rows(sql: str, *, properties: Mapping[str, Any] | None = None, limit: int | None = None,
                timeout: float | None = None, as_dict: bool = True, url: str | None = None) -> Iterator[Any]:
    """Rows of a push query as a generator (closes the query and its client at the end)."""
    with push(sql, properties=properties, limit=limit, timeout=timeout, as_dict=as_dict, url=url) as rows:
        yield from rows


def insert(source: str, rows: Iterable[Mapping[str, Any]], *, url: str | None = None) -> int:
    """Insert rows into a stream or table with a client from labkit's settings."""
    with KsqlClient(url) as client:
        return client.insert(source, rows)


def info(*, url: str | None = None) -> dict[str, Any]:
    """GET /info with a client from labkit's settings."""
    with KsqlClient(url) as client:
        return client.info()


def healthy(*, url: str | None = None) -> bool:
    """True if the configured ksqlDB server reports itself healthy."""
    with KsqlClient(url) as client:
        return client.healthy()
