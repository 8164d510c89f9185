"""Request limits of labkit's REST server, enforced before any handler runs.

`BodySizeLimit` answers 413 with ksqlDB's error body (`error_code` 41300) as soon as a request *declares* a
body larger than the limit (Content-Length), on every path, without reading it; chunked bodies are
counted by the handlers as they read (`labkit.server.routes.read_body`). The server is asynchronous, so a
client that sends its request slowly holds only its own connection: other clients are served meanwhile.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from labkit.server import entities

__all__ = ["BodySizeLimit", "too_large_message"]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def too_large_message(limit: int) -> str:
    """The 413 message, naming the limit and how to raise it."""
    return (f"Request body is larger than the limit of {limit} bytes "
            f"(raise it with create_app(max_body_bytes=...) or `python -m labkit.server --max-body-bytes`).")


class BodySizeLimit:
    """ASGI middleware: 413/41300 for a request whose Content-Length exceeds `max_body_bytes`."""

    def __init__(self, app: App, max_body_bytes: int) -> None:
        if max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), b"")
            if declared.strip().isdigit() and int(declared) > self.max_body_bytes:
                body = entities.dumps(entities.generic_error(entities.PAYLOAD_TOO_LARGE,
                                                             too_large_message(self.max_body_bytes)))
                data = body.encode("utf-8")
                await send({"type": "http.response.start", "status": 413,
                            "headers": [(b"content-type", entities.JSON.encode("latin-1")),
                                        (b"content-length", str(len(data)).encode("latin-1")),
                                        (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": data})
                return
        await self.app(scope, receive, send)
