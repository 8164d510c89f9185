"""Cluster backends: the embedded KRaft cluster (default), the Docker compose stack, or an external cluster.

`stop_broker(n)` / `start_broker(n)` act on the embedded cluster, for the fault lessons.
"""
from __future__ import annotations

from labkit.cluster.embedded import ClusterStatus, EmbeddedCluster, NodeStatus


def stop_broker(node_id: int, *, kill: bool = False) -> None:
    """Stop one broker of the running embedded cluster (kill=True sends SIGKILL, like a crash)."""
    EmbeddedCluster().stop_broker(node_id, kill=kill, progress=print)


def start_broker(node_id: int, *, timeout: float | None = None) -> None:
    """Start a stopped broker of the embedded cluster again and wait until all brokers are unfenced."""
    EmbeddedCluster().start_broker(node_id, timeout=timeout, progress=print)


__all__ = ["ClusterStatus", "EmbeddedCluster", "NodeStatus", "start_broker", "stop_broker"]
