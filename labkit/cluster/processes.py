"""Process and port helpers for what labkit starts: PID files, liveness, stopping, free ports, log tails."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import psutil


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port (we can bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True if a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    """The PID recorded in `pid_file`, or None if the file is missing or unreadable."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def process_matches(pid: int, marker: str) -> bool:
    """True if `pid` is alive (not a zombie) and its command line contains `marker`.

    The marker (a properties path, say) guards against a stale PID file whose number now belongs to
    another program: labkit only ever signals processes it started.
    """
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return marker in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def live_pid(pid_file: Path, marker: str) -> int | None:
    """The recorded PID if that process is still ours and alive; removes a stale PID file."""
    pid = read_pid(pid_file)
    if pid is not None and process_matches(pid, marker):
        return pid
    if pid_file.exists():
        pid_file.unlink(missing_ok=True)
    return None


def stop_processes(pids: list[int], timeout: float, *, kill: bool = False) -> list[int]:
    """SIGTERM (or SIGKILL) every PID at once, wait, SIGKILL survivors; returns PIDs that needed SIGKILL."""
    first = signal.SIGKILL if kill else signal.SIGTERM
    for pid in pids:
        _signal(pid, first)
    deadline = time.monotonic() + timeout
    remaining = list(pids)
    while remaining and time.monotonic() < deadline:
        remaining = [pid for pid in remaining if _alive(pid)]
        if remaining:
            time.sleep(0.2)
    for pid in remaining:
        _signal(pid, signal.SIGKILL)
    for pid in remaining:
        _wait_gone(pid, 10.0)
    return remaining


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            try:
                os.waitpid(pid, os.WNOHANG)  # reap our own child
            except ChildProcessError:
                pass
            return False
        return True
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file (empty if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
