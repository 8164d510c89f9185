"""/query-stream gathers the rows that are ready, and the end of a query, in one worker-thread hop.

A short query (a pull query over a stream) used to cost one hop per poll plus one for the close; now its
rows, its end and its close happen in the hop that saw them, and the bytes on the wire stay the same.
"""
from __future__ import annotations

import threading

import httpx
import pytest

from labkit.server import create_app
from labkit.server import streaming
from labkit.server.protocol import QueryHeader

pytestmark = pytest.mark.anyio

HEADER = '{"queryId":"transient_S_1","columnNames":["X"],"columnTypes":["INTEGER"]}'


@pytest.fixture
def anyio_backend():
    return "asyncio"


class ReadyQuery:
    """A QueryStream whose rows (one per call) and end are all ready; records who polled and closed, and how."""

    def __init__(self, items: list) -> None:
        self.header = QueryHeader("transient_S_1", ("X",), ("INTEGER",))
        self.limit_reached = False
        self.items = list(items)
        self.polls: list[tuple[int, float]] = []
        self.closes: list[int] = []

    def next_rows(self, timeout: float) -> list | None:
        self.polls.append((threading.get_ident(), timeout))
        if not self.items:
            return None
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return [item]

    def close(self) -> None:
        self.closes.append(threading.get_ident())


class OneQueryEngine:
    """Just enough of labkit.server.protocol.Engine for /query-stream."""

    def __init__(self, query: ReadyQuery) -> None:
        self.query = query

    def open_query(self, sql: str, *, properties: dict, variables: dict, command_sequence: int | None = None,
                   strict_properties: bool = True):
        return self.query


async def post(query: ReadyQuery, accept: str = "application/vnd.ksqlapi.delimited.v1") -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(OneQueryEngine(query), poll_interval=0.05))
    async with httpx.AsyncClient(transport=transport, base_url="http://ksql") as http:
        return await http.post("/query-stream", json={"sql": "SELECT * FROM S;"}, headers={"accept": accept})


async def test_ready_rows_end_and_close_take_one_hop() -> None:
    query = ReadyQuery([[1], [2], [3]])
    response = await post(query)
    assert response.text == HEADER + "\n[1]\n[2]\n[3]\n"
    threads = {thread for thread, _ in query.polls}
    assert len(threads) == 1 and query.closes == list(threads)  # polled to the end and closed in one hop
    assert [timeout for _, timeout in query.polls] == [0.05, 0, 0, 0]  # one blocking poll, then what was ready


async def test_rows_before_an_error_are_written_first() -> None:
    query = ReadyQuery([[1], [2], RuntimeError("Error deserializing row")])
    response = await post(query, accept="application/json")
    error = '{"@type":"generic_error","error_code":50000,"message":"Error deserializing row"}'
    assert response.text == "[" + HEADER + ",[1],[2]," + error + "]"
    assert len(query.closes) == 1


async def test_a_long_answer_is_written_in_bounded_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", 2)
    query = ReadyQuery([[i] for i in range(5)])
    response = await post(query)
    assert response.text == HEADER + "\n" + "".join(f"[{i}]\n" for i in range(5))
    assert [timeout for _, timeout in query.polls].count(0.05) == 3  # batches of 2, 2 and 1 rows
    assert len(query.closes) == 1
