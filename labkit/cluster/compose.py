"""The "compose" backend: the workbook's cluster in Docker containers, from compose/docker-compose.yml.

`labkit up --backend compose` uses `ComposeBackend`: it runs `docker compose` (always with an argument list,
never through a shell), then waits until every container is running and every health check passes.

    >>> backend = ComposeBackend()
    >>> backend.up(timeout=300)          # doctest: +SKIP
    >>> backend.status()["kafka1"]       # doctest: +SKIP
    {'state': 'running', 'health': 'healthy'}
    >>> backend.down()                   # doctest: +SKIP
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Callable

from labkit.errors import ClusterError, ConfigError, ToolMissingError

__all__ = ["DEFAULT_COMPOSE_FILE", "ComposeBackend", "ServiceState", "parse_ps_output"]

DEFAULT_COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
"""labkit/../compose/docker-compose.yml: the file shipped next to the package in the workbook's repository."""

_INSTALL_HINT = (
    "Install Docker Desktop (macOS, Windows) or Docker Engine with the Compose plugin "
    "(Linux: packages docker-ce and docker-compose-plugin), "
    "or use the embedded backend, which needs no Docker: `labkit up`."
)
_QUICK_COMMAND_SECONDS = 60.0
_OUTPUT_TAIL_LINES = 20


@dataclass(frozen=True)
class ServiceState:
    """One service's container as `docker compose ps` reports it.

    `health` is "" when the service has no health check, else "starting", "healthy" or "unhealthy".
    """

    service: str
    state: str
    health: str = ""

    @property
    def ready(self) -> bool:
        """Running, and healthy if it has a health check."""
        return self.state == "running" and self.health in ("", "healthy")

    def describe(self) -> str:
        """Short text for progress lines: `running (healthy)`, `exited`, …"""
        return f"{self.state} ({self.health})" if self.health else self.state


_HEALTH_IN_TEXT = re.compile(r"\((?:health: )?(healthy|unhealthy|starting)\)")


def _health_of(record: dict) -> str:
    """The health of one ps record; older Compose versions only write it into State or Status."""
    health = str(record.get("Health") or "").strip().lower()
    if health:
        return health
    for key in ("State", "Status"):
        match = _HEALTH_IN_TEXT.search(str(record.get(key) or "").lower())
        if match:
            return match.group(1)
    return ""


def parse_ps_output(text: str) -> dict[str, ServiceState]:
    """Parse `docker compose ps --format json` into service name → state.

    Compose before 2.21 prints one JSON array; later versions print one JSON object per line. Both, and an
    empty output (no containers), are accepted.
    """
    stripped = text.strip()
    if not stripped:
        return {}
    records: list = []
    try:
        if stripped.startswith("["):
            records = json.loads(stripped)
        else:
            for line in stripped.splitlines():
                if line.strip():
                    item = json.loads(line)
                    records.extend(item if isinstance(item, list) else [item])
    except json.JSONDecodeError as error:
        raise ClusterError(
            f"Could not read the output of `docker compose ps --format json` ({error}). Output was:\n"
            f"{stripped[:500]}"
        ) from error
    states: dict[str, ServiceState] = {}
    for record in records:
        if not isinstance(record, dict):
            continue
        service = str(record.get("Service") or record.get("Name") or "")
        if not service:
            continue
        state = str(record.get("State") or "").strip().lower().split(" ")[0]
        states[service] = ServiceState(service=service, state=state, health=_health_of(record))
    return states


class ComposeBackend:
    """Starts, stops and reports the containers of compose/docker-compose.yml.

    `docker` is the Docker CLI to run (a name looked up on PATH, or a path); `progress` receives one line of
    text per step (print by default); `poll_interval` is the seconds between two `docker compose ps` while
    waiting for health.
    """

    def __init__(
        self,
        compose_file: str | Path | None = None,
        *,
        docker: str = "docker",
        progress: Callable[[str], None] | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        self.compose_file = Path(compose_file) if compose_file is not None else DEFAULT_COMPOSE_FILE
        self.docker = docker
        self.poll_interval = poll_interval
        self._progress = progress if progress is not None else _print_now
        self._docker_path: str | None = None

    # -- public API ----------------------------------------------------------------------------------

    def up(self, timeout: float = 300) -> None:
        """Create and start every service, then wait until all are running and healthy.

        Images are pulled first when missing (not counted in `timeout`); `timeout` covers starting the
        containers and their health checks. Raises ToolMissingError when Docker or its engine is missing and
        ClusterError when a service is not healthy in time.
        """
        self._check_docker()
        services = self.services()
        self._progress(f"Creating containers from {self.compose_file} (pulling images if missing) ...")
        created = self._stream(["up", "--no-start"], deadline=None)
        if created.returncode != 0:
            raise self._compose_failed("create the containers", created.output_tail)

        deadline = time.monotonic() + timeout
        self._progress(f"Starting {', '.join(services)} ...")
        started = self._stream(["up", "--detach"], deadline=deadline)
        if started.timed_out:
            raise self._not_healthy_in_time(services, timeout)
        if started.returncode != 0:
            raise self._compose_failed("start the containers", started.output_tail)

        self._wait_until_ready(services, deadline, timeout)

    def down(self) -> None:
        """Stop and remove the containers, their network and their data volumes.

        Topics and ksqlDB streams are gone afterwards; `docker compose stop` keeps them instead.
        """
        self._check_docker()
        self._progress("Stopping and removing the containers ...")
        result = self._stream(["down", "--volumes", "--remove-orphans"], deadline=None)
        if result.returncode != 0:
            raise self._compose_failed("stop the containers", result.output_tail)
        self._progress("Stopped.")

    def status(self) -> dict[str, dict[str, str]]:
        """Service name → {"state": …, "health": …} for every service of the compose file.

        state is Docker's ("running", "exited", "restarting", …) or "absent" when there is no container;
        health is "healthy", "starting", "unhealthy", or "" for a service without a health check.
        """
        self._check_docker()
        found = self._ps()
        report: dict[str, dict[str, str]] = {}
        for service in self.services():
            state = found.get(service, ServiceState(service, "absent"))
            report[service] = {"state": state.state, "health": state.health}
        return report

    def services(self) -> list[str]:
        """The service names of the compose file, as `docker compose config --services` lists them."""
        self._check_docker()
        result = self._compose(["config", "--services"])
        if result.returncode != 0:
            raise ConfigError(
                f"`docker compose config` rejected {self.compose_file}:\n{_tail(result.stderr)}"
            )
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def command(self, *args: str) -> list[str]:
        """The argument list that runs `docker compose -f <compose file> <args>`."""
        return [self._docker_path or self.docker, "compose", "-f", str(self.compose_file), *args]

    def __enter__(self) -> ComposeBackend:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.down()

    # -- checks ----------------------------------------------------------------------------------------

    def _check_docker(self) -> None:
        """Docker CLI on PATH, Compose v2 plugin present, engine answering; and the compose file exists."""
        if self._docker_path is not None:
            return
        if not self.compose_file.is_file():
            raise ConfigError(
                f"Compose file not found: {self.compose_file}. Pass the path of compose/docker-compose.yml "
                f"from the workbook's repository."
            )
        docker_path = shutil.which(self.docker)
        if docker_path is None:
            raise ToolMissingError(
                f"Docker is not installed: no `{self.docker}` program on PATH. {_INSTALL_HINT}"
            )

        compose = self._run([docker_path, "compose", "version"])
        if compose.returncode != 0:
            raise ToolMissingError(
                "Docker Compose v2 is not available: `docker compose version` failed"
                f"{_reason(compose)}. Install the Compose plugin (package docker-compose-plugin, included in "
                f"Docker Desktop); the old stand-alone `docker-compose` is not used."
            )

        engine = self._run([docker_path, "info", "--format", "{{.ServerVersion}}"])
        if engine.returncode != 0 or not engine.stdout.strip():
            raise ToolMissingError(
                f"The Docker engine is not running: `docker info` failed{_reason(engine)}. "
                "Start Docker Desktop, or on Linux `sudo systemctl start docker`. If the engine runs and the "
                "error says 'permission denied', add yourself to the docker group and log in again."
            )
        self._docker_path = docker_path

    # -- waiting ---------------------------------------------------------------------------------------

    def _wait_until_ready(self, services: list[str], deadline: float, timeout: float) -> None:
        """Poll `docker compose ps` until every service is ready; print each change of state."""
        last: dict[str, str] = {}
        while True:
            found = self._ps()
            for service in services:
                text = found[service].describe() if service in found else "absent"
                if last.get(service) != text:
                    self._progress(f"  {service}: {text}")
                    last[service] = text
            if all(service in found and found[service].ready for service in services):
                self._progress(f"All {len(services)} services are up and healthy.")
                return
            if time.monotonic() >= deadline:
                raise self._not_healthy_in_time(services, timeout, found)
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def _ps(self) -> dict[str, ServiceState]:
        result = self._compose(["ps", "--all", "--format", "json"])
        if result.returncode != 0:
            raise ClusterError(f"`docker compose ps` failed{_reason(result)}.")
        return parse_ps_output(result.stdout)

    # -- errors ----------------------------------------------------------------------------------------

    def _not_healthy_in_time(
        self, services: list[str], timeout: float, found: dict[str, ServiceState] | None = None
    ) -> ClusterError:
        if found is None:
            try:
                found = self._ps()
            except ClusterError:
                found = {}
        not_ready = [service for service in services if not (service in found and found[service].ready)]
        described = ", ".join(
            f"{service} ({found[service].describe() if service in found else 'absent'})"
            for service in not_ready
        )
        return ClusterError(
            f"The compose cluster was not healthy after {timeout:g} s. Not ready: {described or 'none'}. "
            f"Read their logs with `docker compose -f {self.compose_file} logs {' '.join(not_ready)}`. "
            "The containers keep running; `docker compose down` (or `labkit down`) removes them."
        )

    def _compose_failed(self, what: str, output_tail: str) -> ClusterError:
        hint = ""
        if "port is already allocated" in output_tail or "address already in use" in output_tail:
            hint = (
                "\nA port of the cluster (9097-9099, 8088) is taken by another program; if it is labkit's "
                "embedded cluster, stop it first with `labkit down`."
            )
        return ClusterError(
            f"`docker compose` could not {what}. Last lines of its output:\n{output_tail}{hint}\n"
            f"See a service's log with `docker compose -f {self.compose_file} logs <service>`."
        )

    # -- running docker ------------------------------------------------------------------------------

    def _compose(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return self._run(self.command(*args))

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a quick command and capture its output; a hung Docker CLI becomes a ClusterError."""
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=_QUICK_COMMAND_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise ClusterError(
                f"`{' '.join(argv)}` did not answer within {_QUICK_COMMAND_SECONDS:g} s; "
                "is the Docker engine stuck? Restart it and try again."
            ) from error

    def _stream(self, args: list[str], *, deadline: float | None) -> _StreamResult:
        """Run a long `docker compose` command, passing its output on as progress, until done or deadline.

        On the deadline the command (which this process started) is terminated.
        """
        process = subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        tail: deque[str] = deque(maxlen=_OUTPUT_TAIL_LINES)
        reader = threading.Thread(target=self._forward, args=(process, tail), daemon=True)
        reader.start()
        timed_out = False
        try:
            wait_for = None if deadline is None else max(0.0, deadline - time.monotonic())
            process.wait(timeout=wait_for)
        except subprocess.TimeoutExpired:
            timed_out = True
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        finally:
            reader.join(timeout=5)
        return _StreamResult(process.returncode, "\n".join(tail), timed_out)

    def _forward(self, process: subprocess.Popen[str], tail: deque[str]) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                line = line.rstrip()
                if line:
                    tail.append(line)
                    self._progress(f"  {line}")


@dataclass(frozen=True)
class _StreamResult:
    returncode: int
    output_tail: str
    timed_out: bool


def _print_now(message: str) -> None:
    print(message, flush=True)


def _tail(text: str, lines: int = _OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _reason(result: subprocess.CompletedProcess[str]) -> str:
    """': <first line of the error output>' for error messages, or '' when the command printed nothing."""
    for text in (result.stderr or "", result.stdout or ""):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return f": {lines[0]}"
    return ""
