"""Run labkit's ksqlDB-compatible engine as a background process on the ksqlDB port (8088 by default).

`labkit up` starts it after the brokers are ready and waits until `/healthcheck` says healthy; `labkit down`
stops it first. Like the Kafka nodes, it is tracked by a PID file whose process must still be ours.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labkit.cluster.processes import live_pid, log_tail, port_is_free, stop_processes
from labkit.config import Settings
from labkit.errors import ClusterError, PortInUseError

SERVER_MODULE = "labkit.server"


class EngineStartError(ClusterError):
    """The engine process exited or never became healthy; carries the tail of its log."""


@dataclass(frozen=True)
class EngineStatus:
    """PID of the engine process (None if stopped) and whether /healthcheck answered healthy."""

    pid: int | None
    healthy: bool
    url: str


class EngineProcess:
    """Start, stop and check the engine's REST server process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.state_dir / "engine"

    @property
    def log_path(self) -> Path:
        """The engine's log (its stdout and stderr)."""
        return self.root / "engine.log"

    @property
    def _pid_file(self) -> Path:
        return self.root / "pid"

    @property
    def _marker(self) -> str:
        return f"{SERVER_MODULE} --port {self.settings.ksql_port}"

    def command(self) -> list[str]:
        """The engine's command line: the REST server module on the configured host and port."""
        return [sys.executable, "-m", SERVER_MODULE, "--port", str(self.settings.ksql_port),
                "--host", self.settings.bind_host]

    def environment(self) -> dict[str, str]:
        """The engine's environment: ours, plus the settings it must share with us (cluster, service id)."""
        env = dict(os.environ)
        env.update({"LABKIT_BOOTSTRAP": self.settings.bootstrap_servers,
                    "LABKIT_KSQL_URL": self.settings.ksql_url,
                    "LABKIT_KSQL_SERVICE_ID": self.settings.ksql_service_id,
                    "LABKIT_SECURITY_PROTOCOL": self.settings.security_protocol})
        return env

    def pid(self) -> int | None:
        """PID of the running engine, or None (a stale PID file is removed)."""
        return live_pid(self._pid_file, self._marker)

    def up(self, *, timeout: float = 60.0, progress: Callable[[str], None] = lambda _: None) -> bool:
        """Start the engine unless it runs; wait until healthy. False if it was already running."""
        if self.pid() is not None:
            self.wait_healthy(timeout=timeout)
            progress(f"The ksqlDB engine is already running on {self.settings.ksql_url}.")
            return False
        if not port_is_free(self.settings.ksql_port, self.settings.bind_host):
            raise PortInUseError(self.settings.ksql_port, "ksqlDB REST API")
        self.root.mkdir(parents=True, exist_ok=True)
        progress(f"Starting the ksqlDB engine on {self.settings.ksql_url}…")
        started = time.monotonic()
        with self.log_path.open("ab") as out:
            proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=self.environment())
        self._pid_file.write_text(f"{proc.pid}\n")
        self.wait_healthy(timeout=timeout, proc=proc)
        progress(f"The ksqlDB engine is ready in {time.monotonic() - started:.1f} s.")
        return True

    def wait_healthy(self, *, timeout: float, proc: subprocess.Popen | None = None) -> None:
        """Block until /healthcheck reports healthy; raise EngineStartError if the process dies or times out."""
        deadline = time.monotonic() + timeout
        while True:
            if proc is not None and proc.poll() is not None:
                raise self._failure(f"exited with code {proc.returncode} during start-up")
            if proc is None and self.pid() is None:
                raise self._failure("is not running")
            if self.healthy():
                return
            if time.monotonic() > deadline:
                raise self._failure(f"was not healthy after {timeout:.0f} s")
            time.sleep(0.2)

    def healthy(self) -> bool:
        """True if GET /healthcheck answers with isHealthy true."""
        import requests

        try:
            reply = requests.get(f"{self.settings.ksql_url}/healthcheck", timeout=2, auth=self.settings.ksql_auth())
            return reply.status_code == 200 and reply.json().get("isHealthy") is True
        except (requests.RequestException, ValueError):
            return False

    def down(self, *, progress: Callable[[str], None] = lambda _: None) -> bool:
        """Stop the engine if it runs; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        progress("Stopping the ksqlDB engine…")
        stop_processes([pid], self.settings.stop_timeout_s)
        self._pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> EngineStatus:
        """Whether the engine runs and answers healthy."""
        pid = self.pid()
        return EngineStatus(pid, pid is not None and self.healthy(), self.settings.ksql_url)

    def _failure(self, reason: str) -> EngineStartError:
        tail = log_tail(self.log_path, 20) or "(the log is empty)"
        return EngineStartError(f"The ksqlDB engine {reason}.\nLast lines of its log:\n{tail}\nFull log: {self.log_path}")
