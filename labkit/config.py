"""Every address, port and default of the workbook, in one place, overridable by LABKIT_* variables.

The notebooks, the CLI, the engine and the tests all read their settings from `settings()`, so a learner
who points the workbook at another cluster changes environment variables, never code.

Example:
    >>> from labkit import config
    >>> config.settings().bootstrap_servers
    'localhost:9097,localhost:9098,localhost:9099'
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from labkit.errors import ConfigError

BACKENDS = ("embedded", "compose", "external")
KAFKA_VERSION = "4.3.1"
DEFAULT_BROKER_PORTS = (9097, 9098, 9099)
DEFAULT_CONTROLLER_PORTS = (19097, 19098, 19099)
DEFAULT_KSQL_PORT = 8088
DEFAULT_PIZZA_PORT = 8094
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def _default_cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labkit"


@dataclass(frozen=True)
class Settings:
    """The workbook's settings; build one with `settings()` rather than by hand."""

    backend: str = "embedded"
    bind_host: str = "127.0.0.1"
    broker_ports: tuple[int, ...] = DEFAULT_BROKER_PORTS
    controller_ports: tuple[int, ...] = DEFAULT_CONTROLLER_PORTS
    bootstrap: str | None = None
    ksql_url: str = f"http://localhost:{DEFAULT_KSQL_PORT}"
    pizza_url: str = f"http://localhost:{DEFAULT_PIZZA_PORT}"
    cache_dir: Path = field(default_factory=lambda: _default_cache_dir(os.environ))
    run_dir: Path | None = None
    kafka_version: str = KAFKA_VERSION
    broker_heap_mb: int = 512
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 20.0
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ksql_api_key: str | None = None
    ksql_api_secret: str | None = None
    ksql_service_id: str = "default_"
    ksql_auth_method: str = "NONE"
    ksql_auth_file: Path | None = None
    ksql_auth_realm: str = "KsqlServer-Props"
    ksql_auth_roles: tuple[str, ...] = ()

    @property
    def bootstrap_servers(self) -> str:
        """Comma-separated bootstrap list; defaults to the embedded brokers on localhost."""
        if self.bootstrap:
            return self.bootstrap
        return ",".join(f"localhost:{port}" for port in self.broker_ports)

    @property
    def bootstrap_list(self) -> list[str]:
        """The bootstrap servers as a list, as kafka-python accepts them."""
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    @property
    def ksql_port(self) -> int:
        """The TCP port of the ksqlDB URL (the embedded engine listens there)."""
        return _port_of(self.ksql_url, DEFAULT_KSQL_PORT)

    @property
    def pizza_port(self) -> int:
        """The TCP port of the pizza order API URL."""
        return _port_of(self.pizza_url, DEFAULT_PIZZA_PORT)

    @property
    def kafka_libs_dir(self) -> Path:
        """Where Maven copies the Kafka jars (outside the repository, shared by checkouts)."""
        return self.cache_dir / f"kafka-{self.kafka_version}" / "libs"

    @property
    def state_dir(self) -> Path:
        """Run directory: node data, logs and PID files of what `labkit up` started."""
        return self.run_dir if self.run_dir is not None else self.cache_dir / "run"

    def kafka_client_config(self) -> dict[str, object]:
        """Keyword arguments for kafka-python clients (producer, consumer, admin)."""
        conf: dict[str, object] = {"bootstrap_servers": self.bootstrap_list}
        if self.security_protocol != "PLAINTEXT":
            conf["security_protocol"] = self.security_protocol
        if self.sasl_mechanism:
            conf["sasl_mechanism"] = self.sasl_mechanism
            conf["sasl_plain_username"] = self.sasl_username
            conf["sasl_plain_password"] = self.sasl_password
        if self.ssl_cafile:
            conf["ssl_cafile"] = self.ssl_cafile
        return conf

    def librdkafka_config(self) -> dict[str, object]:
        """The same connection settings as librdkafka properties (confluent-kafka clients of the engine)."""
        conf: dict[str, object] = {"bootstrap.servers": ",".join(self.bootstrap_list)}
        if self.security_protocol != "PLAINTEXT":
            conf["security.protocol"] = self.security_protocol
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = self.sasl_password or ""
        if self.ssl_cafile:
            conf["ssl.ca.location"] = self.ssl_cafile
        return conf

    def ksql_auth(self) -> tuple[str, str] | None:
        """Basic-auth pair the client sends to the ksqlDB REST API (user and password, or a cloud key and secret)."""
        if self.ksql_api_key:
            return (self.ksql_api_key, self.ksql_api_secret or "")
        return None

    @property
    def ksql_server_requires_auth(self) -> bool:
        """True if the embedded engine's REST server demands basic authentication (`authentication.method=BASIC`)."""
        return self.ksql_auth_method == "BASIC"

    def with_overrides(self, **changes: object) -> "Settings":
        """A copy with some fields changed (for `labkit up --brokers 1` and for tests)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _port_of(url: str, default: int) -> int:
    tail = url.split("://", 1)[-1].split("/", 1)[0]
    if ":" in tail:
        try:
            return int(tail.rsplit(":", 1)[1])
        except ValueError:
            raise ConfigError(f"The URL {url!r} has a port that is not a number.") from None
    return default


def _ports(name: str, raw: str) -> tuple[int, ...]:
    try:
        ports = tuple(int(p) for p in raw.replace(" ", "").split(",") if p)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected comma-separated port numbers, like 9097,9098,9099.") from None
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise ConfigError(f"{name}={raw!r}: ports must be between 1 and 65535.")
    return ports


def _number(name: str, raw: str, kind: type) -> object:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number.") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r}: must be greater than zero.")
    return value


_STRING_VARS = {
    "LABKIT_BIND_HOST": "bind_host",
    "LABKIT_BOOTSTRAP": "bootstrap",
    "LABKIT_KSQL_URL": "ksql_url",
    "LABKIT_PIZZA_URL": "pizza_url",
    "LABKIT_KAFKA_VERSION": "kafka_version",
    "LABKIT_SASL_MECHANISM": "sasl_mechanism",
    "LABKIT_SASL_USERNAME": "sasl_username",
    "LABKIT_SASL_PASSWORD": "sasl_password",
    "LABKIT_SSL_CAFILE": "ssl_cafile",
    "LABKIT_KSQL_API_KEY": "ksql_api_key",
    "LABKIT_KSQL_API_SECRET": "ksql_api_secret",
    "LABKIT_KSQL_SERVICE_ID": "ksql_service_id",
    "LABKIT_KSQL_AUTH_REALM": "ksql_auth_realm",
}
# Basic-auth user and password the client sends to ksqlDB: other names for the API key and secret.
_CLIENT_AUTH_ALIASES = {"LABKIT_KSQL_USER": "ksql_api_key", "LABKIT_KSQL_PASSWORD": "ksql_api_secret"}
KSQL_AUTH_METHODS = ("NONE", "BASIC")


def settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or from `env`), validating every LABKIT_* value."""
    env = os.environ if env is None else env
    values: dict[str, object] = {"cache_dir": Path(env["LABKIT_CACHE_DIR"]) if env.get("LABKIT_CACHE_DIR")
                                 else _default_cache_dir(env)}
    for var, attr in _STRING_VARS.items():
        if env.get(var):
            values[attr] = env[var]
    backend = env.get("LABKIT_BACKEND", "embedded").strip().lower() or "embedded"
    if backend not in BACKENDS:
        raise ConfigError(f"LABKIT_BACKEND={backend!r}: choose one of {', '.join(BACKENDS)}.")
    values["backend"] = backend
    if env.get("LABKIT_RUN_DIR"):
        values["run_dir"] = Path(env["LABKIT_RUN_DIR"])
    if env.get("LABKIT_BROKER_PORTS"):
        values["broker_ports"] = _ports("LABKIT_BROKER_PORTS", env["LABKIT_BROKER_PORTS"])
    if env.get("LABKIT_CONTROLLER_PORTS"):
        values["controller_ports"] = _ports("LABKIT_CONTROLLER_PORTS", env["LABKIT_CONTROLLER_PORTS"])
    if env.get("LABKIT_BROKER_HEAP_MB"):
        values["broker_heap_mb"] = _number("LABKIT_BROKER_HEAP_MB", env["LABKIT_BROKER_HEAP_MB"], int)
    if env.get("LABKIT_STOP_TIMEOUT"):
        values["stop_timeout_s"] = _number("LABKIT_STOP_TIMEOUT", env["LABKIT_STOP_TIMEOUT"], float)
    if env.get("LABKIT_START_TIMEOUT"):
        values["start_timeout_s"] = _number("LABKIT_START_TIMEOUT", env["LABKIT_START_TIMEOUT"], float)
    protocol = env.get("LABKIT_SECURITY_PROTOCOL", "PLAINTEXT").strip().upper() or "PLAINTEXT"
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(f"LABKIT_SECURITY_PROTOCOL={protocol!r}: choose one of {', '.join(SECURITY_PROTOCOLS)}.")
    values["security_protocol"] = protocol
    _ksql_auth(env, values)
    result = Settings(**values)  # type: ignore[arg-type]
    if len(result.controller_ports) < len(result.broker_ports):
        raise ConfigError("LABKIT_CONTROLLER_PORTS needs one port per broker port.")
    if result.sasl_mechanism and not protocol.startswith("SASL"):
        raise ConfigError("LABKIT_SASL_MECHANISM is set but LABKIT_SECURITY_PROTOCOL is not SASL_PLAINTEXT or SASL_SSL.")
    return result


def _ksql_auth(env: Mapping[str, str], values: dict[str, object]) -> None:
    """The engine's basic authentication (LABKIT_KSQL_AUTH_*) and the client's user and password."""
    for var, attr in _CLIENT_AUTH_ALIASES.items():
        if env.get(var) and attr not in values:
            values[attr] = env[var]
    auth_file = env.get("LABKIT_KSQL_AUTH_FILE", "").strip()
    method = env.get("LABKIT_KSQL_AUTH_METHOD", "BASIC" if auth_file else "NONE").strip().upper() or "NONE"
    if method not in KSQL_AUTH_METHODS:
        raise ConfigError(f"LABKIT_KSQL_AUTH_METHOD={method!r}: choose one of {', '.join(KSQL_AUTH_METHODS)}.")
    if method == "BASIC" and not auth_file:
        raise ConfigError("LABKIT_KSQL_AUTH_METHOD=BASIC needs LABKIT_KSQL_AUTH_FILE: a JAAS file or a password "
                          "file with lines `user: password[,role,...]`.")
    values["ksql_auth_method"] = method
    if auth_file:
        values["ksql_auth_file"] = Path(auth_file).expanduser()
    if env.get("LABKIT_KSQL_AUTH_ROLES"):
        values["ksql_auth_roles"] = tuple(r.strip() for r in env["LABKIT_KSQL_AUTH_ROLES"].split(",") if r.strip())
