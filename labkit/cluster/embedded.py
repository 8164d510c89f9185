"""The embedded backend: a real Apache Kafka KRaft cluster as local JVM processes, no Docker needed.

Three nodes (or one, for quick work) each run as broker+controller on 127.0.0.1. `up` formats the nodes on
first use, starts them all together (a controller election needs a majority of voters) and waits until every
broker is unfenced. `down` stops only the PIDs it recorded. Node data, logs and PID files live in
`Settings.state_dir / f"kraft-{size}"`, so a one-node and a three-node cluster never share data.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labkit.cluster import jars
from labkit.cluster.processes import live_pid, log_tail, port_accepts, port_is_free, stop_processes
from labkit.cluster.properties import LOG4J2_PROPERTIES, NodeSpec, render_properties
from labkit.config import Settings, settings as load_settings
from labkit.errors import ClusterError, ConfigError, NodeStartError, PortInUseError

Progress = Callable[[str], None]
SIZES = (1, 3)


def _quiet(_: str) -> None:
    return None


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 characters).

    Like Kafka's ``Uuid.randomUuid`` it never starts with a dash, which the storage tool's
    argument parser would read as an option (1 start in 64 failed with "expected one argument").
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class NodeStatus:
    """What `status()` knows about one node."""

    node_id: int
    port: int
    pid: int | None
    accepting: bool
    unfenced: bool | None  # None when the cluster could not be asked


@dataclass(frozen=True)
class ClusterStatus:
    """The cluster as seen from the outside: processes, ports and the brokers' own view."""

    size: int
    nodes: tuple[NodeStatus, ...]
    controller_id: int | None

    @property
    def running(self) -> bool:
        """True if at least one node process is alive."""
        return any(n.pid is not None for n in self.nodes)

    @property
    def healthy(self) -> bool:
        """True if every node is alive, accepting connections and unfenced."""
        return all(n.pid is not None and n.accepting and n.unfenced for n in self.nodes)


class EmbeddedCluster:
    """Start, stop and inspect the local KRaft cluster.

    Example:
        >>> cluster = EmbeddedCluster()          # three nodes on 9097, 9098, 9099
        >>> cluster.up()                          # doctest: +SKIP
        >>> cluster.stop_broker(3)                # doctest: +SKIP
    """

    def __init__(self, settings: Settings | None = None, *, brokers: int | None = None) -> None:
        self.settings = settings or load_settings()
        if brokers is None:
            brokers = self._running_size() or (3 if len(self.settings.broker_ports) >= 3 else 1)
        if brokers not in SIZES:
            raise ConfigError(f"--brokers {brokers}: choose 1 (quick work) or 3 (the lessons' cluster).")
        if brokers > len(self.settings.broker_ports):
            raise ConfigError(f"{brokers} brokers need {brokers} ports in LABKIT_BROKER_PORTS.")
        self.size = brokers
        self.root = self.settings.state_dir / f"kraft-{brokers}"
        self.host = self.settings.bind_host
        self._launched: dict[int, subprocess.Popen] = {}

    # ---- layout -------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[NodeSpec]:
        """The node specs of this cluster (ids from 1)."""
        return [
            NodeSpec(i + 1, self.settings.broker_ports[i], self.settings.controller_ports[i],
                     self.root / f"node{i + 1}" / "data")
            for i in range(self.size)
        ]

    @property
    def bootstrap(self) -> list[str]:
        """host:port of every node's client listener."""
        return [f"{self.host}:{n.client_port}" for n in self.nodes]

    def node_dir(self, node_id: int) -> Path:
        """Folder of one node: server.properties, data/, node.log, pid."""
        return self.root / f"node{node_id}"

    def log_path(self, node_id: int) -> Path:
        """The node's log file (the broker's stdout and stderr)."""
        return self.node_dir(node_id) / "node.log"

    def _pid_file(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "pid"

    def _properties(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "server.properties"

    def _node(self, node_id: int) -> NodeSpec:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise ConfigError(f"There is no broker {node_id}; this cluster has brokers 1 to {self.size}.")

    def pid(self, node_id: int) -> int | None:
        """PID of the node's JVM if it is running (stale PID files are removed)."""
        return live_pid(self._pid_file(node_id), str(self._properties(node_id)))

    def _running_size(self) -> int | None:
        for size in SIZES:
            probe = EmbeddedCluster.__new__(EmbeddedCluster)
            probe.settings, probe.size = self.settings, size
            probe.root, probe.host = self.settings.state_dir / f"kraft-{size}", self.settings.bind_host
            if size <= len(self.settings.broker_ports) and any(probe.pid(n.node_id) for n in probe.nodes):
                return size
        return None

    # ---- lifecycle ----------------------------------------------------------------------------------
    def up(self, *, timeout: float | None = None, progress: Progress = _quiet) -> bool:
        """Start every node and wait until all brokers are unfenced; False if it was already running."""
        other = self._running_size()
        if other is not None and other != self.size:
            raise ClusterError(
                f"A {other}-broker cluster is already running. Stop it first with `labkit down`."
            )
        alive = [n.node_id for n in self.nodes if self.pid(n.node_id)]
        if len(alive) == self.size:
            progress(f"The {self.size}-broker cluster is already running on {', '.join(self.bootstrap)}.")
            self.wait_ready(timeout=timeout)
            return False
        started = time.monotonic()
        java = jars.find_java()
        jars.ensure_kafka_jars(self.settings)
        to_start = [n for n in self.nodes if n.node_id not in alive]
        self._check_ports(to_start)
        self._write_configs()
        unformatted = [n for n in to_start if not (n.data_dir / "meta.properties").exists()]
        if unformatted:
            progress(f"Formatting {len(unformatted)} KRaft node(s)…")
            self._format(java, unformatted)
        progress(f"Starting {len(to_start)} Kafka node(s) on {', '.join(self.bootstrap)}…")
        for node in to_start:
            self._launch(java, node)
        self.wait_ready(timeout=timeout, progress=progress)
        progress(f"Kafka is ready: {self.size} broker(s) unfenced in {time.monotonic() - started:.1f} s.")
        return True

    def down(self, *, progress: Progress = _quiet) -> list[int]:
        """Stop every node this cluster recorded (SIGTERM together, SIGKILL after the timeout)."""
        pids = {n.node_id: self.pid(n.node_id) for n in self.nodes}
        running = {node_id: pid for node_id, pid in pids.items() if pid}
        if not running:
            progress("No labkit Kafka node is running.")
            return []
        progress(f"Stopping Kafka node(s) {', '.join(map(str, running))}…")
        killed = stop_processes(list(running.values()), self.settings.stop_timeout_s)
        for node_id in running:
            self._pid_file(node_id).unlink(missing_ok=True)
            self._launched.pop(node_id, None)
        if killed:
            progress(f"{len(killed)} node(s) did not stop within {self.settings.stop_timeout_s:.0f} s and were killed.")
        return list(running)

    def reset(self, *, progress: Progress = _quiet) -> None:
        """Stop the cluster and delete its data, logs and configuration."""
        self.down(progress=progress)
        if self.root.exists():
            shutil.rmtree(self.root)
            progress(f"Deleted {self.root}.")

    def stop_broker(self, node_id: int, *, kill: bool = False, progress: Progress = _quiet) -> None:
        """Stop one node (SIGTERM, or SIGKILL with kill=True) for the fault lessons."""
        self._node(node_id)
        pid = self.pid(node_id)
        if pid is None:
            progress(f"Broker {node_id} is not running.")
            return
        stop_processes([pid], self.settings.stop_timeout_s, kill=kill)
        self._pid_file(node_id).unlink(missing_ok=True)
        self._launched.pop(node_id, None)
        progress(f"Broker {node_id} stopped ({'killed' if kill else 'shut down'}).")

    def start_broker(self, node_id: int, *, timeout: float | None = None, progress: Progress = _quiet) -> None:
        """Start one stopped node again and wait until every broker is unfenced."""
        node = self._node(node_id)
        if self.pid(node_id) is None:
            self._check_ports([node])
            self._write_configs()
            self._launch(jars.find_java(), node)
        self.wait_ready(timeout=timeout, nodes=[node_id])
        progress(f"Broker {node_id} is back and unfenced.")

    # ---- readiness and status -----------------------------------------------------------------------
    def wait_ready(self, *, timeout: float | None = None, nodes: list[int] | None = None,
                   progress: Progress = _quiet) -> None:
        """Block until the given nodes (default: all) accept connections and are unfenced brokers."""
        deadline = time.monotonic() + (timeout or self.settings.start_timeout_s)
        last_note = time.monotonic()
        waiting = [self._node(n) for n in nodes] if nodes else self.nodes
        while True:
            for node in waiting:
                if not self._still_running(node.node_id):
                    raise self._start_failure(node.node_id, "exited during start-up")
            if all(port_accepts(n.client_port, self.host) for n in waiting):
                unfenced, _ = self._unfenced_brokers()
                if unfenced is not None and {n.node_id for n in waiting} <= unfenced:
                    return
            now = time.monotonic()
            if now > deadline:
                slow = next((n.node_id for n in waiting if not port_accepts(n.client_port, self.host)),
                            waiting[0].node_id)
                raise self._start_failure(slow, f"was not ready after {timeout or self.settings.start_timeout_s:.0f} s")
            if now - last_note > 10:
                progress("…still waiting for the brokers to be unfenced")
                last_note = now
            time.sleep(0.25)

    def status(self) -> ClusterStatus:
        """Processes, ports and (if reachable) the brokers' fenced state and the active controller."""
        unfenced, controller = self._unfenced_brokers()
        nodes = tuple(
            NodeStatus(
                node_id=n.node_id, port=n.client_port, pid=self.pid(n.node_id),
                accepting=port_accepts(n.client_port, self.host),
                unfenced=None if unfenced is None else n.node_id in unfenced,
            )
            for n in self.nodes
        )
        return ClusterStatus(self.size, nodes, controller)

    def _unfenced_brokers(self) -> tuple[set[int] | None, int | None]:
        live = [f"{self.host}:{n.client_port}" for n in self.nodes if port_accepts(n.client_port, self.host)]
        if not live:
            return None, None
        from kafka import KafkaAdminClient  # imported late: the CLI's `down` should not pay for it
        from kafka.errors import KafkaError

        admin = None
        try:
            admin = KafkaAdminClient(bootstrap_servers=live, request_timeout_ms=3000,
                                     bootstrap_timeout_ms=3000, client_id="labkit-status")
            meta = admin.describe_cluster()
        except (KafkaError, OSError, ValueError):
            return None, None
        finally:
            if admin is not None:
                admin.close()
        brokers = {b["broker_id"] for b in meta.get("brokers", []) if not b.get("is_fenced", False)}
        controller = meta.get("controller_id")
        return brokers, (controller if controller is not None and controller >= 0 else None)

    # ---- helpers ------------------------------------------------------------------------------------
    def _check_ports(self, nodes: list[NodeSpec]) -> None:
        for node in nodes:
            if not port_is_free(node.client_port, self.host):
                raise PortInUseError(node.client_port, f"Kafka broker {node.node_id}")
            if not port_is_free(node.controller_port, self.host):
                raise PortInUseError(node.controller_port, f"Kafka controller {node.node_id}")

    def _cluster_id(self) -> str:
        meta = self.root / "cluster.json"
        if meta.exists():
            return json.loads(meta.read_text())["cluster_id"]
        cluster_id = new_cluster_id()
        self.root.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"cluster_id": cluster_id, "brokers": self.size}) + "\n")
        return cluster_id

    def _write_configs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        for node in self.nodes:
            self.node_dir(node.node_id).mkdir(parents=True, exist_ok=True)
            self._properties(node.node_id).write_text(render_properties(node, self.nodes, self.host))

    def _jvm_base(self, java: str) -> list[str]:
        return [java, f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}", "-Djava.awt.headless=true"]

    def _format(self, java: str, nodes: list[NodeSpec]) -> None:
        cluster_id = self._cluster_id()
        procs = []
        for node in nodes:
            command = self._jvm_base(java) + [
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", jars.classpath(self.settings),
                "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(self._properties(node.node_id)),
            ]
            procs.append((node, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, text=True)))
        for node, proc in procs:
            output, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                tail = "\n".join(output.strip().splitlines()[-10:])
                raise NodeStartError(node.node_id, "could not be formatted", str(self.node_dir(node.node_id)), tail)

    def _launch(self, java: str, node: NodeSpec) -> None:
        heap = self.settings.broker_heap_mb
        log = self.log_path(node.node_id)
        if log.exists() and log.stat().st_size > 20 * 1024 * 1024:
            log.replace(log.with_suffix(".log.1"))
        command = self._jvm_base(java) + [
            f"-Xms{min(heap, 256)}m", f"-Xmx{heap}m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
            f"-Dkafka.logs.dir={self.node_dir(node.node_id) / 'logs'}",
            "-cp", jars.classpath(self.settings), "kafka.Kafka", str(self._properties(node.node_id)),
        ]
        with log.open("ab") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=self.node_dir(node.node_id))
        self._pid_file(node.node_id).write_text(f"{proc.pid}\n")
        self._launched[node.node_id] = proc

    def _still_running(self, node_id: int) -> bool:
        # A node launched by this object is checked through its Popen: right after the fork its command
        # line is still Python's, so the PID-file check would wrongly call it dead.
        proc = self._launched.get(node_id)
        if proc is not None:
            return proc.poll() is None
        return self.pid(node_id) is not None

    def _start_failure(self, node_id: int, reason: str) -> NodeStartError:
        path = self.log_path(node_id)
        tail = log_tail(path, 15)
        if "Address already in use" in tail:
            reason += " (one of its ports is already in use by another program)"
        return NodeStartError(node_id, reason, str(path), tail or "(the log is empty)")
