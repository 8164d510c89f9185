"""Chunked responses of /query, /query-stream and /inserts-stream, framed byte for byte as ksqlDB 0.29 frames them.

A writer turns header, rows, errors and the end of a query into bytes (one class per output format); a
response pumps rows from the engine's QueryStream (in a worker thread) into the writer while watching for the
client's disconnect, which closes the query. /close-query ends a registered response through `request_close`.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping

import anyio
import anyio.to_thread

from labkit.errors import KsqlError
from labkit.server import entities
from labkit.server.protocol import InsertSink, PrintStream, QueryHeader, QueryStream, Tombstone

if TYPE_CHECKING:
    from labkit.server.app import ServerState

__all__ = ["DelimitedWriter", "JsonArrayWriter", "LegacyWriter", "writer_for", "QueryResponse",
           "PrintResponse", "InsertsResponse"]

log = logging.getLogger("labkit.server")

BATCH_ROWS = 5000
"""At most this many rows (plus one poll's) are gathered in one worker-thread hop before they are written."""

Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]


def _line(value: Any) -> str:
    return entities.dumps(value) + "\n"


class DelimitedWriter:
    """application/vnd.ksqlapi.delimited.v1: header line, one JSON array per row; tombstones dropped."""

    media_type = entities.DELIMITED

    def start(self, header: QueryHeader) -> str:
        return _line(entities.query_header(header.query_id, header.column_names, header.column_types))

    def row(self, row: Any) -> str:
        return "" if isinstance(row, Tombstone) else _line(row)

    def error(self, error: Mapping[str, Any]) -> str:
        return _line(error)

    def complete(self, limit_reached: bool) -> str:
        return ""

    def end(self) -> str:
        return ""


class JsonArrayWriter:
    """application/json on /query-stream: `[header,row,row]` without newlines; tombstones dropped."""

    media_type = entities.JSON

    def start(self, header: QueryHeader) -> str:
        return "[" + entities.dumps(entities.query_header(header.query_id, header.column_names,
                                                          header.column_types))

    def row(self, row: Any) -> str:
        return "" if isinstance(row, Tombstone) else "," + entities.dumps(row)

    def error(self, error: Mapping[str, Any]) -> str:
        return "," + entities.dumps(error)

    def complete(self, limit_reached: bool) -> str:
        return ""

    def end(self) -> str:
        return "]"


class LegacyWriter:
    """application/vnd.ksql.v1+json (legacy /query): an array of StreamedRow objects separated by `,\\n`.

    Push queries are written as they come and end with a final message; table pull queries hold back one
    element so the last one needs no trailing separator (ksqlDB's JsonStreamedRowResponseWriter).
    """

    media_type = entities.KSQL_V1_JSON

    def __init__(self) -> None:
        self._buffered = False
        self._held: dict[str, Any] | None = None
        self._completion: str | None = None
        self._limit: str | None = None

    def start(self, header: QueryHeader) -> str:
        self._buffered = header.is_pull
        if not header.is_pull:
            self._completion, self._limit = "Query Completed", "Limit Reached"
        schema = header.legacy_schema or entities.legacy_schema(header.column_names, header.column_types,
                                                                header.key_columns if header.is_pull else ())
        first = entities.streamed_header(header.query_id, schema)
        if self._buffered:
            self._held = first
            return "["
        return "[" + entities.dumps(first) + ",\n"

    def _emit(self, element: dict[str, Any]) -> str:
        if self._buffered:
            element, self._held = self._held, element  # type: ignore[assignment]
        return "" if element is None else entities.dumps(element) + ",\n"

    def _flush_held(self, last: bool) -> str:
        held, self._held = self._held, None
        return "" if held is None else entities.dumps(held) + ("" if last else ",\n")

    def row(self, row: Any) -> str:
        if isinstance(row, Tombstone):
            return self._emit(entities.streamed_row(row.columns, tombstone=True))
        return self._emit(entities.streamed_row(row))

    def error(self, error: Mapping[str, Any]) -> str:
        return self._emit(entities.streamed_error(error))

    def complete(self, limit_reached: bool) -> str:
        message = self._limit if limit_reached else self._completion
        if message is None:
            return ""
        return self._flush_held(False) + entities.dumps(entities.streamed_final(message))

    def end(self) -> str:
        return self._flush_held(True) + "]"


def writer_for(media_type: str) -> DelimitedWriter | JsonArrayWriter | LegacyWriter:
    """The writer of one negotiated content type."""
    if media_type == entities.JSON:
        return JsonArrayWriter()
    if media_type == entities.KSQL_V1_JSON:
        return LegacyWriter()
    return DelimitedWriter()


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, KsqlError):
        return exc.message
    return str(exc) or type(exc).__name__


class _Streaming:
    """Shared machinery: start a chunked 200, send text, notice the client leaving, close in a thread."""

    def __init__(self, state: "ServerState", media_type: str) -> None:
        self.state = state
        self.media_type = media_type
        self.disconnected = False
        self.close_requested = False
        self._send: Send | None = None
        self._closed = False

    def _close_target(self) -> None:
        raise NotImplementedError

    async def _close_stream(self) -> None:
        """Close the engine's stream once, in a worker thread; once started, a close always completes."""
        if not self._closed:
            self._closed = True
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._close_target, limiter=self.state.poll_limiter)

    async def _start(self, send: Send) -> None:
        self._send = send
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", self.media_type.encode("latin-1"))]})

    async def _write(self, text: str, *, more: bool = True) -> None:
        if self.disconnected or self._send is None:
            return
        if not text and more:
            return
        try:
            await self._send({"type": "http.response.body", "body": text.encode("utf-8"), "more_body": more})
        except OSError:  # the client went away between two chunks
            self.disconnected = True

    async def _watch_disconnect(self, receive: Receive, on_disconnect: Callable[[], Awaitable[None]]) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                await on_disconnect()
                return


class QueryResponse(_Streaming):
    """Streams one QueryStream; push queries are registered for /close-query while they run."""

    def __init__(self, stream: QueryStream, media_type: str, state: "ServerState") -> None:
        super().__init__(state, media_type)
        self.stream = stream
        self.writer = writer_for(media_type)
        self._pending_error: BaseException | None = None

    def _close_target(self) -> None:
        self.stream.close()

    async def request_close(self) -> None:
        """/close-query (or server shutdown): end the response after the current poll."""
        self.close_requested = True
        await self._close_stream()

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        header = self.stream.header
        registered = not header.is_pull
        if registered:
            self.state.queries[header.query_id] = self
        try:
            await self._start(send)
            await self._write(self.writer.start(header))
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._watch_disconnect, receive, self._close_stream)
                await self._pump()
                tasks.cancel_scope.cancel()
        finally:
            if registered and self.state.queries.get(header.query_id) is self:
                del self.state.queries[header.query_id]
            await self._close_stream()

    def _next_batch(self, poll: float) -> tuple[list[Any], bool]:
        """In a worker thread: the rows of one poll and those ready right after it; True once the query ended.

        Draining what is ready (and closing an ended query) in the same thread hop saves the hops a short query
        (a pull query) would otherwise pay for each poll: its rows, its end and its close go out at once.
        An error after some rows is kept for the next call, so the rows are written before the error row.
        """
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
            raise error
        rows = self.stream.next_rows(poll)
        if rows is None:
            self._close_now()
            return [], True
        batch = list(rows)
        while batch and len(batch) < BATCH_ROWS:
            try:
                more = self.stream.next_rows(0)
            except Exception as exc:  # noqa: BLE001 - raised by the next call, after these rows are written
                self._pending_error = exc
                break
            if more is None:
                self._close_now()
                return batch, True
            if not more:
                break
            batch.extend(more)
        return batch, False

    def _close_now(self) -> None:
        """Close the ended stream from the worker thread that saw it end (close is idempotent)."""
        if not self._closed:
            self._closed = True
            self.stream.close()

    async def _pump(self) -> None:
        poll = self.state.poll_interval
        while not self.disconnected:
            if self.close_requested:
                await self._write(self.writer.complete(False) + self.writer.end(), more=False)
                return
            try:
                rows, ended = await anyio.to_thread.run_sync(self._next_batch, poll, limiter=self.state.poll_limiter)
            except Exception as exc:  # the query failed after its header: ksqlDB writes an error row
                if not isinstance(exc, KsqlError):
                    log.exception("query %s failed", self.stream.header.query_id)
                error = entities.generic_error(entities.SERVER_ERROR, _error_text(exc))
                await self._write(self.writer.error(error) + self.writer.end(), more=False)
                return
            text = "".join(self.writer.row(row) for row in rows)
            if ended:
                if self.close_requested:
                    limit_reached = False
                else:
                    limit_reached = bool(self.stream.limit_reached)
                await self._write(text + self.writer.complete(limit_reached) + self.writer.end(), more=False)
                return
            await self._write(text)


class PrintResponse(_Streaming):
    """Streams the text lines of a PRINT until it ends or the client leaves."""

    def __init__(self, stream: PrintStream, media_type: str, state: "ServerState") -> None:
        super().__init__(state, media_type)
        self.stream = stream

    def _close_target(self) -> None:
        self.stream.close()

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        try:
            await self._start(send)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._watch_disconnect, receive, self._close_stream)
                while not self.disconnected:
                    try:
                        lines = await anyio.to_thread.run_sync(self.stream.next_lines, self.state.poll_interval,
                                                               limiter=self.state.poll_limiter)
                    except Exception:
                        log.exception("PRINT failed")
                        lines = None
                    if lines is None:
                        await self._write("", more=False)
                        break
                    await self._write("".join(line + "\n" for line in lines))
                tasks.cancel_scope.cancel()
        finally:
            await self._close_stream()


class InsertsResponse(_Streaming):
    """Acknowledges the rows of an /inserts-stream body one by one, ending at the first rejected row."""

    def __init__(self, sink: InsertSink, lines: AsyncIterator[bytes], media_type: str, state: "ServerState",
                 max_line_bytes: int) -> None:
        super().__init__(state, media_type)
        self.sink = sink
        self.lines = lines
        self.max_line_bytes = max_line_bytes
        self._written = False

    def _element(self, value: Mapping[str, Any]) -> str:
        if self.media_type == entities.DELIMITED:
            return _line(value)
        text = ("," if self._written else "[") + entities.dumps(value)
        self._written = True
        return text

    def _end(self) -> str:
        if self.media_type == entities.DELIMITED:
            return ""
        return "]" if self._written else "[]"

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        try:
            await self._start(send)
            seq = 0
            async for raw in self.lines:
                error = await self._insert(seq, raw)
                if error is not None:
                    await self._write(self._element(error) + self._end(), more=False)
                    return
                await self._write(self._element(entities.insert_ack(seq)))
                seq += 1
            await self._write(self._end(), more=False)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.sink.close)

    async def _insert(self, seq: int, raw: bytes) -> dict[str, Any] | None:
        if len(raw) > self.max_line_bytes:
            return entities.insert_error(seq, entities.PAYLOAD_TOO_LARGE,
                                         f"Row is larger than the limit of {self.max_line_bytes} bytes")
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            row = None
        if not isinstance(row, dict):
            return entities.insert_error(seq, entities.BAD_REQUEST, "Invalid JSON in inserts stream")
        try:
            await anyio.to_thread.run_sync(self.sink.insert, row)
        except KsqlError as exc:
            return entities.insert_error(seq, exc.error_code, exc.message)
        except Exception:
            log.exception("insert of row %d failed", seq)
            return entities.insert_error(seq, entities.SERVER_ERROR,
                                         "Error in processing inserts. Check server logs for details.")
        return None
