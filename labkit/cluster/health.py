"""Reachability checks shared by the CLI and the notebooks (`labkit.require_cluster()`)."""
from __future__ import annotations

from labkit.config import Settings
from labkit.errors import ClusterError


def kafka_reachable(settings: Settings, *, timeout_ms: int = 3000) -> bool:
    """True if the configured bootstrap servers answer a metadata request."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = None
    try:
        admin = KafkaAdminClient(**settings.kafka_client_config(), request_timeout_ms=timeout_ms,
                                 bootstrap_timeout_ms=timeout_ms, client_id="labkit-health")
        admin.describe_cluster()
        return True
    except (KafkaError, OSError, ValueError):
        return False
    finally:
        if admin is not None:
            admin.close()


def require_cluster(settings: Settings) -> dict:
    """Describe the cluster, or raise a ClusterError telling the learner how to start it."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = None
    try:
        admin = KafkaAdminClient(**settings.kafka_client_config(), request_timeout_ms=5000,
                                 bootstrap_timeout_ms=5000, client_id="labkit-check")
        return admin.describe_cluster()
    except (KafkaError, OSError, ValueError):
        raise ClusterError(
            f"No Kafka cluster answers at {settings.bootstrap_servers}. Start it with `make lab`, or run "
            "`labkit up` in a terminal, then run this cell again."
        ) from None
    finally:
        if admin is not None:
            admin.close()
