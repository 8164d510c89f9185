"""labkit: the helper package of the ksqlDB & Kafka workbook.

It starts and stops the local cluster, talks to ksqlDB, generates data and runs the lessons' services.
Importing it is cheap; each helper imports what it needs when called.
"""
from __future__ import annotations

import logging

__version__ = "0.1.0"
__all__ = ["__version__", "require_cluster", "quiet_client_logs"]


def quiet_client_logs() -> None:
    """Silence kafka-python's retry chatter, so lessons show errors as exceptions, not as log noise."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


def require_cluster() -> str:
    """Check that the configured Kafka cluster answers; return a one-line summary, or raise ClusterError.

    The error says how to start the cluster (`make lab` or `labkit up`), so a lesson's first cell tells a
    learner what to do instead of failing later with a timeout.
    """
    from labkit import config
    from labkit.cluster.health import require_cluster as _require

    quiet_client_logs()
    settings = config.settings()
    meta = _require(settings)
    brokers = sorted(b["broker_id"] for b in meta["brokers"] if not b.get("is_fenced", False))
    return f"Kafka is up at {settings.bootstrap_servers}: {len(brokers)} broker(s) {brokers} ready."
