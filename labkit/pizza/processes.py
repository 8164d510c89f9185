"""`labkit pizza up|down|status`: the five pizza services as background processes.

Each runs `python -m labkit.pizza run <service>`; its PID file and log live in `<run dir>/pizza/`, next to
the cluster's. `down` stops only PIDs it recorded whose command line is still a pizza service.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from labkit.cluster.processes import live_pid, log_tail, port_is_free, stop_processes
from labkit.config import Settings, settings as load_settings
from labkit.errors import PortInUseError
from labkit.pizza.client import OrderClient
from labkit.pizza.errors import PipelineError
from labkit.pizza.services import TOPPING_SERVICES
from labkit.pizza.topics import ALL, ERRORS, ORDERS, PIZZA, PizzaTopics, delete_groups, ensure_topics

ORDER_SERVICE = "orders"
SERVICE_NAMES = (*(cls.name for cls in TOPPING_SERVICES), ORDER_SERVICE)


@dataclass(frozen=True)
class ServiceStatus:
    """One service process: its PID (None when stopped) and its log file."""

    name: str
    pid: int | None
    log: Path


class PizzaProcesses:
    """Start, stop and inspect the pizza services as processes."""

    def __init__(self, settings: Settings | None = None, *, topics: PizzaTopics | None = None,
                 seed: int | None = None, work_seconds: Mapping[str, float] | None = None) -> None:
        self.settings = settings or load_settings()
        self.topics = topics or PizzaTopics()
        self.seed = seed
        self.work_seconds = dict(work_seconds or {})
        self.root = self.settings.state_dir / "pizza"

    def log_path(self, name: str) -> Path:
        """The service's log file (its stdout and stderr)."""
        return self.root / f"{name}.log"

    def _pid_file(self, name: str) -> Path:
        return self.root / f"{name}.pid"

    @staticmethod
    def _marker(name: str) -> str:
        return f"labkit.pizza run {name}"

    def command(self, name: str) -> list[str]:
        """The command line of one service."""
        command = [sys.executable, "-m", "labkit.pizza", "run", name, "--topic-prefix", self.topics.prefix]
        if self.seed is not None:
            command += ["--seed", str(self.seed)]
        if name == ORDER_SERVICE:
            command += ["--port", str(self.settings.pizza_port), "--host", self.settings.bind_host]
        elif self.work_seconds.get(name):
            command += ["--work-seconds", str(self.work_seconds[name])]
        return command

    def pid(self, name: str) -> int | None:
        """PID of a running service, or None (a stale PID file is removed)."""
        return live_pid(self._pid_file(name), self._marker(name))

    def status(self) -> list[ServiceStatus]:
        """Every service's PID and log."""
        return [ServiceStatus(name, self.pid(name), self.log_path(name)) for name in SERVICE_NAMES]

    def healthy(self) -> bool:
        """True when every service runs and the order API says it is ready."""
        return all(s.pid is not None for s in self.status()) and self._api_ready()

    def up(self, *, timeout: float = 60.0, progress: Callable[[str], None] = lambda _: None) -> list[str]:
        """Start every service that is not running and wait until the order API is ready; returns those started."""
        missing = [name for name in SERVICE_NAMES if self.pid(name) is None]
        if ORDER_SERVICE in missing and not port_is_free(self.settings.pizza_port, self.settings.bind_host):
            raise PortInUseError(self.settings.pizza_port, "pizza order API")
        bases = [PIZZA, *(cls.target for cls in TOPPING_SERVICES), ORDERS, ERRORS]
        ensure_topics([self.topics.name(base) for base in bases], settings=self.settings)
        self.root.mkdir(parents=True, exist_ok=True)
        launched = {name: self._launch(name) for name in missing}
        if launched:
            progress(f"Starting pizza services: {', '.join(launched)} (logs in {self.root})…")
        self._wait_ready(launched, timeout)
        progress(f"The pizza shop is open: order API on {self.settings.pizza_url}.")
        return list(launched)

    def start(self, name: str, *, timeout: float = 60.0) -> None:
        """Start one service if it is not running (used after a crash test)."""
        if self.pid(name) is None:
            self._wait_ready({name: self._launch(name)}, timeout)

    def kill(self, name: str) -> bool:
        """SIGKILL one service, as a crash would; True if it was running."""
        pid = self.pid(name)
        if pid is None:
            return False
        stop_processes([pid], self.settings.stop_timeout_s, kill=True)
        self._pid_file(name).unlink(missing_ok=True)
        return True

    def down(self, *, progress: Callable[[str], None] = lambda _: None) -> list[str]:
        """Stop every running service (SIGTERM, then SIGKILL after the stop timeout); returns those stopped."""
        running = {s.name: s.pid for s in self.status() if s.pid is not None}
        if not running:
            progress("No pizza service is running.")
            return []
        progress(f"Stopping pizza services: {', '.join(running)}…")
        stop_processes(list(running.values()), self.settings.stop_timeout_s)
        for name in running:
            self._pid_file(name).unlink(missing_ok=True)
        return list(running)

    def delete_topics(self) -> list[str]:
        """Delete the shop's topics and consumer groups (every service must be stopped); returns the topics."""
        from labkit.topics import delete_topics

        running = [s.name for s in self.status() if s.pid is not None]
        if running:
            raise PipelineError(f"Stop the pizza services first (`labkit pizza down`): {', '.join(running)} running.")
        delete_groups([self.topics.group(cls.name) for cls in TOPPING_SERVICES], settings=self.settings)
        return delete_topics([self.topics.name(base) for base in ALL], settings=self.settings)

    def _launch(self, name: str) -> subprocess.Popen:
        with self.log_path(name).open("ab") as out:
            proc = subprocess.Popen(self.command(name), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._pid_file(name).write_text(f"{proc.pid}\n")
        return proc

    def _api_ready(self) -> bool:
        try:
            with OrderClient(self.settings.pizza_url, timeout=2) as client:
                return bool(client.health().get("ready"))
        except PipelineError:
            return False

    def _wait_ready(self, launched: dict[str, subprocess.Popen], timeout: float) -> None:
        """Wait until the order API is ready; fail early with its log if a launched process exits."""
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in launched.items():
                if proc.poll() is not None:
                    raise PipelineError(f"The {name} service exited with code {proc.returncode}.\n"
                                        f"Last lines of its log:\n{log_tail(self.log_path(name), 15)}")
            if self._api_ready():
                return
            if time.monotonic() > deadline:
                raise PipelineError(f"The pizza shop was not ready after {timeout:.0f} s; "
                                    f"see the logs in {self.root}.")
            time.sleep(0.2)
