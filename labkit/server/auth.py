"""ksqlDB's HTTP basic authentication (`authentication.method=BASIC`) for labkit's REST server.

ksqlDB reads users from a JAAS configuration whose realm (`authentication.realm`, by default
`KsqlServer-Props`) names a Jetty `PropertyFileLoginModule` and its password file, one user a line:

    KsqlServer-Props {                       # jaas_config.conf
      org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required
      file="/path/to/password-file";
    };

    fred: letmein,admin,developer            # password-file: user: password[,role...]
    harry: MD5:164c88b302622e17050af52c89945d44,user

labkit accepts either file: the JAAS file (the realm's `file=` is followed) or the password file itself.
Passwords are plain or `MD5:<hex>`. A request without valid credentials gets 401 with ksqlDB's error body
(`{"@type":"generic_error","error_code":40100,"message":"Unauthorized"}`) and a `WWW-Authenticate`
header; a user without an allowed role (`authentication.roles`) gets 403/40300. The checks compare in
constant time and the file is read once, at start.

Example:
    >>> users = PasswordFile.parse("fred: letmein,admin")
    >>> users.check("fred", "letmein"), users.check("fred", "nope")
    (('admin',), None)
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping

from labkit.errors import ConfigError
from labkit.server import entities

__all__ = ["BasicAuth", "PasswordFile", "UNAUTHORIZED", "FORBIDDEN", "DEFAULT_REALM", "OPEN_PATHS",
           "load_credentials"]

UNAUTHORIZED = 40100
FORBIDDEN = 40300
DEFAULT_REALM = "KsqlServer-Props"
#: Paths ksqlDB answers without credentials (its liveness and readiness probes).
OPEN_PATHS = frozenset({"/chc/ready", "/chc/live"})

_JAAS_SECTION = re.compile(r"(?P<name>[A-Za-z0-9_.\-]+)\s*\{(?P<body>.*?)\}\s*;", re.S)
_JAAS_FILE = re.compile(r"""\bfile\s*=\s*"(?P<path>[^"]*)"|\bfile\s*=\s*(?P<bare>[^\s;"]+)""")

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class _User:
    secret: str  # the password, or "MD5:<hex>"
    roles: tuple[str, ...]

    def accepts(self, password: str) -> bool:
        if self.secret.upper().startswith("MD5:"):
            digest = hashlib.md5(password.encode("utf-8")).hexdigest()  # noqa: S324 - Jetty's format
            return hmac.compare_digest(digest, self.secret[4:].strip().lower())
        return hmac.compare_digest(self.secret.encode("utf-8"), password.encode("utf-8"))


@dataclass(frozen=True)
class PasswordFile:
    """Users of a Jetty-style password file: `user: password[,role,...]` per line, `#` comments."""

    users: Mapping[str, _User] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, *, source: str = "the password file") -> "PasswordFile":
        """Read the file's text; a line without `user: password` is a ConfigError naming the line."""
        users: dict[str, _User] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith(("#", "!")):
                continue
            name, sep, rest = line.partition(":")
            if not sep:
                name, sep, rest = line.partition("=")
            parts = [p.strip() for p in rest.split(",")]
            if not sep or not name.strip() or not parts[0]:
                raise ConfigError(f"{source}, line {number}: expected `user: password[,role,...]`.")
            if parts[0].upper().startswith(("OBF:", "CRYPT:")):
                raise ConfigError(f"{source}, line {number}: OBF: and CRYPT: passwords are not supported; "
                                  "write the password plainly or as MD5:<hex digest>.")
            users[name.strip()] = _User(parts[0], tuple(p for p in parts[1:] if p))
        return cls(users)

    def check(self, username: str, password: str) -> tuple[str, ...] | None:
        """The user's roles if the password is right, else None (same work for unknown users)."""
        user = self.users.get(username)
        if user is None:
            _User("MD5:" + "0" * 32, ()).accepts(password)  # spend the same time as for a known user
            return None
        return user.roles if user.accepts(password) else None


def load_credentials(path: str | Path, realm: str = DEFAULT_REALM) -> PasswordFile:
    """Users from a JAAS file (its `realm` section's `file=`) or from a password file directly."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the ksqlDB credentials file {path}: {exc.strerror or exc}.") from None
    sections = {m.group("name"): m.group("body") for m in _JAAS_SECTION.finditer(text)}
    if not sections:
        return PasswordFile.parse(text, source=str(path))
    if realm not in sections:
        raise ConfigError(f"{path} has no JAAS section for the realm {realm!r} (found {', '.join(sections)}); "
                          "set LABKIT_KSQL_AUTH_REALM or rename the section.")
    found = _JAAS_FILE.search(sections[realm])
    if found is None:
        raise ConfigError(f"{path}: the {realm} section names no password file (file=\"...\").")
    target = Path(found.group("path") or found.group("bare")).expanduser()
    if not target.is_absolute():
        target = path.parent / target
    try:
        return PasswordFile.parse(target.read_text(encoding="utf-8"), source=str(target))
    except OSError as exc:
        raise ConfigError(f"Cannot read the password file {target} named by {path}: "
                          f"{exc.strerror or exc}.") from None


def _credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class BasicAuth:
    """ASGI middleware: every HTTP request except OPEN_PATHS needs valid basic-auth credentials.

    `roles`: the allowed roles (`authentication.roles`); empty, or containing `*` or `**`, lets every
    authenticated user in.
    """

    def __init__(self, app: App, users: PasswordFile, *, realm: str = DEFAULT_REALM,
                 roles: Iterable[str] = (), open_paths: Iterable[str] = OPEN_PATHS) -> None:
        self.app = app
        self.users = users
        self.realm = realm
        self.roles = frozenset(r for r in roles if r)
        self.open_paths = frozenset(open_paths)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # `app.state` and friends stay reachable through the middleware

    def _allowed(self, user_roles: tuple[str, ...]) -> bool:
        if not self.roles or self.roles & {"*", "**"}:
            return True
        return bool(self.roles.intersection(user_roles))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"authorization"), "")
        credentials = _credentials(header) if header else None
        roles = self.users.check(*credentials) if credentials else None
        if roles is None:
            await _refuse(send, 401, UNAUTHORIZED, "Unauthorized",
                          [(b"www-authenticate", f'Basic realm="{self.realm}"'.encode("latin-1"))])
        elif not self._allowed(roles):
            await _refuse(send, 403, FORBIDDEN, "Forbidden", [])
        else:
            await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, code: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = entities.dumps(entities.generic_error(code, message)).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", entities.JSON.encode("latin-1")),
                            (b"content-length", str(len(body)).encode("latin-1")), *headers]})
    await send({"type": "http.response.body", "body": body})
