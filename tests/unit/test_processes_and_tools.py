"""Process helpers, Java version parsing, and the CLI's messages when a tool is missing (no cluster needed)."""
import os
import socket
import subprocess
import sys

import pytest

from labkit.cluster import jars
from labkit.cluster.processes import live_pid, log_tail, port_is_free, process_matches, stop_processes


@pytest.mark.parametrize("text, major", [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('java version "1.8.0_292"', 8),
    ('openjdk version "21" 2023-09-19', 21),
    ("garbage", None),
])
def test_java_major_version(text, major):
    assert jars.java_major_version(text) == major


def test_port_is_free_sees_a_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free(port)
    assert port_is_free(port)


def test_stale_pid_file_is_removed(tmp_path):
    pid_file = tmp_path / "pid"
    pid_file.write_text(f"{os.getpid()}\n")  # our own PID, but not a Kafka node
    assert live_pid(pid_file, "kafka.Kafka /nowhere/server.properties") is None
    assert not pid_file.exists()


def test_stop_processes_terminates_only_the_given_pid(tmp_path):
    marker = str(tmp_path / "marker")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_matches(proc.pid, marker)
        assert stop_processes([proc.pid], timeout=5) == []
        proc.wait(timeout=5)
        assert not process_matches(proc.pid, marker)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_stop_processes_kills_a_process_that_ignores_sigterm():
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    assert stop_processes([proc.pid], timeout=0.5) == [proc.pid]
    proc.wait(timeout=5)  # labkit reaped its own child; the process is gone
    assert not process_matches(proc.pid, "SIGTERM")


def test_log_tail_returns_the_last_lines(tmp_path):
    log = tmp_path / "node.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert log_tail(tmp_path / "missing.log") == ""


def _labkit(args, env):
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def _env_without(tool, tmp_path):
    """A PATH with everything of the current one except `tool`, plus an empty cache dir."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("java", "mvn"):
        if name != tool:
            real = jars.shutil.which(name)
            if real:
                (bin_dir / name).symlink_to(real)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path), "LABKIT_CACHE_DIR": str(tmp_path / "cache"),
            "LABKIT_BROKER_PORTS": "9297", "LABKIT_CONTROLLER_PORTS": "19297"}


def test_up_without_java_says_what_to_install(tmp_path):
    done = _labkit(["up", "--brokers", "1"], _env_without("java", tmp_path))
    assert done.returncode == 1
    assert "Java is not installed" in done.stderr and "openjdk" in done.stderr
    assert "Traceback" not in done.stderr


def test_fetch_without_maven_says_what_to_install(tmp_path):
    done = _labkit(["fetch"], _env_without("mvn", tmp_path))
    assert done.returncode == 1
    assert "Maven (mvn) is not installed" in done.stderr and "apt-get install maven" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_setting_is_a_message_not_a_traceback(tmp_path):
    env = {**os.environ, "LABKIT_BACKEND": "kubernetes"}
    done = _labkit(["status"], env)
    assert done.returncode == 2
    assert "LABKIT_BACKEND='kubernetes'" in done.stderr and "Traceback" not in done.stderr
