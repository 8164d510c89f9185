"""Render the server.properties of each embedded KRaft node (a pure function, unit-tested).

All nodes are broker+controller with a static quorum (`controller.quorum.voters`), so formatting needs no
extra flags. Replication settings follow the cluster size: RF 3 and min ISR 2 on three nodes, 1/1 on one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NodeSpec:
    """One KRaft node: its id, client port, controller port and data directory."""

    node_id: int
    client_port: int
    controller_port: int
    data_dir: Path


def quorum_voters(nodes: list[NodeSpec], host: str) -> str:
    """The `controller.quorum.voters` value naming every node's controller listener."""
    return ",".join(f"{n.node_id}@{host}:{n.controller_port}" for n in nodes)


def render_properties(node: NodeSpec, nodes: list[NodeSpec], host: str = "127.0.0.1") -> str:
    """server.properties text for `node` in a cluster of `nodes` (every node a voter)."""
    size = len(nodes)
    replicas = min(3, size)
    min_isr = 2 if size >= 3 else 1
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": quorum_voters(nodes, host),
        "listeners": f"PLAINTEXT://{host}:{node.client_port},CONTROLLER://{host}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{node.client_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(node.data_dir),
        # The lessons produce to a topic before creating a stream over it, as with the cp-kafka images.
        "auto.create.topics.enable": "true",
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "group.initial.rebalance.delay.ms": "0",
        # A laptop cluster: small segments and a short retention check keep disk use low.
        "log.segment.bytes": str(64 * 1024 * 1024),
        "log.retention.check.interval.ms": "60000",
    }
    header = f"# Written by labkit for KRaft node {node.node_id} of {size}. Regenerated on every `labkit up`.\n"
    return header + "".join(f"{key}={value}\n" for key, value in lines.items())


LOG4J2_PROPERTIES = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""
