"""Every server the workbook starts listens on the loopback interface only, unless told otherwise.

The checks look at the real listening sockets of each process (psutil), not at configuration: the Kafka
nodes, the engine's REST server (`python -m labkit.server` as `labkit up` starts it), the pizza order API,
and JupyterLab started with the Makefile's own `lab` recipe.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from labkit.pizza import Pipeline, PizzaTopics
from labkit.pizza.order_api import ApiServer

from reliability_support import free_port, unique_name

ROOT = Path(__file__).resolve().parents[2]


def listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on."""
    return [(c.laddr.ip, c.laddr.port) for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN]


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def assert_loopback_only(pid: int, wanted_port: int) -> None:
    sockets = listening(pid)
    assert wanted_port in {port for _, port in sockets}, sockets
    assert all(is_loopback(address) for address, _ in sockets), sockets


def test_kafka_nodes_listen_on_loopback_only(cluster):
    pids = [cluster.pid(n) for n in range(1, len(cluster.settings.broker_ports) + 1)]
    assert all(pids), pids
    for pid, port, controller in zip(pids, cluster.settings.broker_ports, cluster.settings.controller_ports):
        assert_loopback_only(pid, port)
        assert controller in {p for _, p in listening(pid)}


def test_the_engine_process_listens_on_loopback_only(own_engine):
    assert_loopback_only(own_engine.pid(), own_engine.settings.ksql_port)


def test_the_pizza_order_api_listens_on_loopback_only(cluster, settings):
    topics = PizzaTopics(prefix=f"{unique_name('rel').lower()}-")
    pipeline = Pipeline(seed=1, topics=topics, settings=settings, port=free_port(), fresh=True).start()
    try:
        assert_loopback_only(os.getpid(), pipeline.port)
        assert requests.get(pipeline.url + "/health", timeout=10).status_code == 200
    finally:
        pipeline.stop()
        pipeline.delete_topics()


def test_the_order_api_server_defaults_to_loopback():
    from labkit.pizza.order_api import create_app

    class NoOrders:
        ready = True

        def orders(self):
            return []

    server = ApiServer(create_app(NoOrders()), port=free_port())
    assert server.host == "127.0.0.1"
    with server:
        assert_loopback_only(os.getpid(), server.port)


def test_jupyterlab_from_the_makefile_recipe_listens_on_loopback_only(tmp_path):
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab: up\n(?:\t.*\n)*?\t@?(\$\(BIN\)/jupyter lab[^\n]*)\n", makefile, re.M).group(1)
    port = free_port()
    command = (recipe.replace("$(BIN)", str(Path(sys.executable).parent)).replace("$(JUPYTER_PORT)", str(port))
               .replace("$(ALLOW_ROOT)", "--allow-root" if os.geteuid() == 0 else ""))
    assert "$(" not in command, command
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    proc = subprocess.Popen([*shlex.split(command), "--no-browser", "--IdentityProvider.token=reliability"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while port not in {p for _, p in listening(proc.pid)}:
            assert proc.poll() is None, "JupyterLab exited"
            assert time.monotonic() < deadline, "JupyterLab did not listen within 120 s"
            time.sleep(0.5)
        assert_loopback_only(proc.pid, port)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("module", ["labkit.server", "labkit.pizza"])
def test_command_line_servers_default_to_loopback(module):
    text = subprocess.run([sys.executable, "-m", module, *(["run"] if module == "labkit.pizza" else []), "--help"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT).stdout
    assert "127.0.0.1" in text, text
