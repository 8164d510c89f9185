"""labkit's ksqlDB-compatible REST server: ksqlDB 0.29's HTTP API over any engine implementing `Engine`.

`protocol` is the boundary (what the engine implements), `entities` the JSON shapes (shared with the client
in labkit.ksql), `routes` and `streaming` the endpoints, `app` the ASGI app and the ways to run it.
The web stack (Starlette, uvicorn) is imported only when `create_app`, `serve` or `BackgroundServer` is used,
so the client can import `entities` cheaply.
"""
from __future__ import annotations

from typing import Any

from labkit.server.protocol import (
    Engine,
    HealthStatus,
    InsertSink,
    NotAQueryError,
    PrintStream,
    QueryHeader,
    QueryStream,
    ServerInfo,
    StatementError,
    Tombstone,
)

__all__ = [
    "BackgroundServer",
    "DEFAULT_MAX_BODY_BYTES",
    "Engine",
    "HealthStatus",
    "InsertSink",
    "NotAQueryError",
    "PrintStream",
    "QueryHeader",
    "QueryStream",
    "ServerInfo",
    "StatementError",
    "Tombstone",
    "create_app",
    "serve",
]

_FROM_APP = {"BackgroundServer", "DEFAULT_MAX_BODY_BYTES", "create_app", "serve"}


def __getattr__(name: str) -> Any:
    """Import the server app on first use of one of its names."""
    if name in _FROM_APP:
        from labkit.server import app

        return getattr(app, name)
    raise AttributeError(f"module 'labkit.server' has no attribute {name!r}")
