"""`labkit up/status/down/reset` as a learner runs them, on a separate one-node cluster (ports 9297/19297)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import psutil
import pytest

PORT, CONTROLLER_PORT, KSQL_PORT = 9297, 19297, 18297


@pytest.fixture
def env(tmp_path):
    # `labkit up` also starts the ksqlDB engine: on a port of its own, beside the session's engine on 8088.
    return {**os.environ, "LABKIT_RUN_DIR": str(tmp_path / "run"), "LABKIT_BROKER_PORTS": str(PORT),
            "LABKIT_CONTROLLER_PORTS": str(CONTROLLER_PORT), "LABKIT_STOP_TIMEOUT": "20",
            "LABKIT_KSQL_URL": f"http://127.0.0.1:{KSQL_PORT}"}


def labkit(env, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def kafka_pids(run_dir):
    """PIDs of Kafka JVMs whose properties file lies under `run_dir`."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "kafka.Kafka" in cmdline and str(run_dir) in cmdline:
            found.append(proc.info["pid"])
    return found


def test_up_twice_then_down_leaves_no_process(env, tmp_path):
    run_dir = tmp_path / "run"
    try:
        first = labkit(env, "up", "--brokers", "1")
        assert first.returncode == 0, first.stderr
        assert "Kafka is ready: 1 broker(s) unfenced" in first.stdout
        assert len(kafka_pids(run_dir)) == 1

        second = labkit(env, "up", "--brokers", "1")
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert len(kafka_pids(run_dir)) == 1

        status = labkit(env, "status")
        assert status.returncode == 0
        assert f"127.0.0.1:{PORT}" in status.stdout and "unfenced" in status.stdout
    finally:
        down = labkit(env, "down")
    assert down.returncode == 0, down.stderr
    assert kafka_pids(run_dir) == []
    assert labkit(env, "status").returncode == 3


def test_stale_pid_file_is_ignored_and_up_still_works(env, tmp_path):
    run_dir = tmp_path / "run"
    node_dir = run_dir / "kraft-1" / "node1"
    node_dir.mkdir(parents=True)
    (node_dir / "pid").write_text(f"{os.getpid()}\n")  # a live PID that is not ours to signal
    try:
        result = labkit(env, "up", "--brokers", "1")
        assert result.returncode == 0, result.stderr
        assert "already running" not in result.stdout
    finally:
        labkit(env, "down")
    assert psutil.pid_exists(os.getpid())
    assert kafka_pids(run_dir) == []


def test_port_in_use_names_the_port(env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", PORT))
        sock.listen()
        result = labkit(env, "up", "--brokers", "1")
    assert result.returncode == 1
    assert f"Port {PORT} (Kafka broker 1) is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_node_that_fails_to_start_shows_its_log(env, tmp_path):
    run_dir = tmp_path / "run"
    try:
        assert labkit(env, "up", "--brokers", "1").returncode == 0
        assert labkit(env, "down").returncode == 0
        meta = run_dir / "kraft-1" / "node1" / "data" / "meta.properties"
        meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))
        result = labkit(env, "up", "--brokers", "1")
    finally:
        labkit(env, "down")
    assert result.returncode == 1
    assert "Kafka node 1 exited during start-up" in result.stderr
    assert "Last lines of its log" in result.stderr
    assert f"Full log: {run_dir / 'kraft-1' / 'node1' / 'node.log'}" in result.stderr
    assert "Traceback (most recent call last)" not in result.stderr
    assert kafka_pids(run_dir) == []


def test_reset_deletes_the_data(env, tmp_path):
    run_dir = tmp_path / "run"
    assert labkit(env, "up", "--brokers", "1").returncode == 0
    result = labkit(env, "reset", "--yes")
    assert result.returncode == 0, result.stderr
    assert not (run_dir / "kraft-1").exists()
    assert kafka_pids(run_dir) == []
