"""The ASGI app that serves an engine with ksqlDB 0.29's REST API, and ways to run it with uvicorn.

Example:
    >>> from labkit.server import create_app, BackgroundServer
    >>> with BackgroundServer(my_engine) as server:        # doctest: +SKIP
    ...     requests.get(server.url + "/info").json()
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from labkit.errors import PortInUseError
from labkit.server import entities
from labkit.server.auth import BasicAuth, PasswordFile, load_credentials
from labkit.server.limits import BodySizeLimit
from labkit.server.protocol import Engine
from labkit.server.routes import ROUTES, json_response
from labkit.server.streaming import QueryResponse

__all__ = ["create_app", "serve", "BackgroundServer", "ServerState", "DEFAULT_MAX_BODY_BYTES",
           "auth_options_from_settings"]

log = logging.getLogger("labkit.server")

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
GRACEFUL_SHUTDOWN_S = 3.0


@dataclass
class ServerState:
    """What the handlers share: the engine, the options and the push queries /close-query can end."""

    engine: Engine
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    poll_interval: float = 0.25
    inserts_over_http1: bool = False
    max_poll_threads: int = 256
    queries: dict[str, QueryResponse] = field(default_factory=dict)
    _poll_limiter: anyio.CapacityLimiter | None = field(default=None, init=False, repr=False)

    @property
    def poll_limiter(self) -> anyio.CapacityLimiter:
        """Worker threads for blocking row polls, apart from the pool that runs /ksql statements."""
        if self._poll_limiter is None:
            self._poll_limiter = anyio.CapacityLimiter(self.max_poll_threads)
        return self._poll_limiter


async def _not_found(request: Request, exc: Exception) -> Response:
    return Response("<html><body><h1>Resource not found</h1></body></html>", status_code=404,
                    media_type="text/html")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        return await _not_found(request, exc)
    return Response(status_code=status)  # Vert.x: 405 and friends with an empty body


async def _bug(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response(entities.generic_error(entities.SERVER_ERROR, str(exc) or type(exc).__name__), 500)


def create_app(engine: Engine, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, poll_interval: float = 0.25,
               inserts_over_http1: bool = False, max_poll_threads: int = 256,
               auth: PasswordFile | None = None, auth_realm: str = "KsqlServer-Props",
               auth_roles: tuple[str, ...] = ()) -> Starlette:
    """An ASGI app serving `engine` with ksqlDB 0.29's REST API.

    `max_body_bytes` bounds request bodies (413 beyond it; per line on /inserts-stream); `poll_interval` is
    how long one `next_rows` call may block; `max_poll_threads` caps the threads polling running queries;
    `inserts_over_http1` accepts /inserts-stream over HTTP/1.1, which ksqlDB refuses (400/40004).
    `auth` turns on ksqlDB's basic authentication with these users (401/40100 without valid credentials,
    403/40300 for a user without one of `auth_roles`).
    """
    if max_body_bytes <= 0 or poll_interval <= 0 or max_poll_threads <= 0:
        raise ValueError("max_body_bytes, poll_interval and max_poll_threads must be positive")
    middleware = [Middleware(BodySizeLimit, max_body_bytes=max_body_bytes)]
    if auth is not None:
        middleware.append(Middleware(BasicAuth, users=auth, realm=auth_realm, roles=auth_roles))
    app = Starlette(routes=[Route(path, endpoint, methods=methods) for path, endpoint, methods in ROUTES],
                    middleware=middleware,
                    exception_handlers={HTTPException: _http_error, 404: _not_found, Exception: _bug})
    app.state.ksql = ServerState(engine, max_body_bytes=max_body_bytes, poll_interval=poll_interval,
                                 inserts_over_http1=inserts_over_http1, max_poll_threads=max_poll_threads)
    return app


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: accepted sockets inherit it, and only then does asyncio set TCP_NODELAY on them
    # (without it every response waits ~40 ms for the client's delayed ACK of its first segment).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise PortInUseError(port, "ksqlDB REST API") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _uvicorn_server(app: Starlette, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    return uvicorn.Server(config)


def serve(engine: Engine, *, host: str = "127.0.0.1", port: int = 8088, log_level: str = "warning",
          **app_options: Any) -> None:
    """Serve `engine` on http://host:port until interrupted (binds 127.0.0.1 unless told otherwise).

    Basic authentication follows labkit's settings (LABKIT_KSQL_AUTH_FILE, _REALM, _ROLES) unless `auth`
    is passed in `app_options`.
    """
    if "auth" not in app_options:
        app_options.update(auth_options_from_settings())
    sock = _bind(host, port)
    server = _uvicorn_server(create_app(engine, **app_options), log_level)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def auth_options_from_settings(settings: Any = None) -> dict[str, Any]:
    """create_app's auth options from labkit's settings: empty unless `authentication.method=BASIC`."""
    from labkit import config

    settings = settings or config.settings()
    if not settings.ksql_server_requires_auth or settings.ksql_auth_file is None:
        return {}
    return {"auth": load_credentials(settings.ksql_auth_file, settings.ksql_auth_realm),
            "auth_realm": settings.ksql_auth_realm, "auth_roles": settings.ksql_auth_roles}


class BackgroundServer:
    """uvicorn serving an engine in a thread of this process: for tests, notebooks and `labkit up`.

    Port 0 picks a free port; `url` says which. Use it as a context manager, or `start()` / `stop()`.
    """

    def __init__(self, engine: Engine, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 **app_options: Any) -> None:
        self.host = host
        self.port = port
        self.app = create_app(engine, **app_options)
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "BackgroundServer":
        """Bind, start serving in a daemon thread, and wait until uvicorn accepts connections."""
        if self._thread is not None:
            return self
        self._socket = _bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._server = _uvicorn_server(self.app, self._log_level)
        self._server.config.install_signal_handlers = False  # not the main thread
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"labkit-ksql-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the ksqlDB REST server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End running push queries, stop uvicorn and join its thread."""
        server, thread = self._server, self._thread
        state: ServerState = self.app.state.ksql
        for running in list(state.queries.values()):
            running.close_requested = True  # each pump sees it after its current poll and ends its response
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server, self._thread, self._socket = None, None, None

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
