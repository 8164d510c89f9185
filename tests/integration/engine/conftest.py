"""The live engine as `labkit up` runs it: `python -m labkit.server` on a free port, over the session's cluster.

Each engine gets a service id of its own, so its command topic, consumer groups and processing log never
meet those of the workbook's engine on 8088 or of another test session.
"""
from __future__ import annotations

import socket
import uuid

import pytest

from labkit.cluster.engine_process import EngineProcess
from labkit.ksql import KsqlClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_settings(settings, tmp_path_factory, name: str):
    """Settings for an engine process of its own: run dir, port and service id."""
    return settings.with_overrides(run_dir=tmp_path_factory.mktemp(name), ksql_url=f"http://127.0.0.1:{free_port()}",
                                   ksql_service_id=f"t{uuid.uuid4().hex[:8]}_")


def drop_engine_topics(process: EngineProcess) -> None:
    """Delete what an engine of the tests kept for itself: command topic, processing log, changelogs."""
    from kafka import KafkaAdminClient

    service_id = process.settings.ksql_service_id
    admin = KafkaAdminClient(**process.settings.kafka_client_config(), client_id="test-engine-cleanup")
    try:
        own = [t for t in admin.list_topics()
               if t.startswith(f"_confluent-ksql-{service_id}") or t == f"{service_id}ksql_processing_log"]
        if own:
            admin.delete_topics(own)
    finally:
        admin.close()


@pytest.fixture
def engine_process(cluster, settings, tmp_path_factory):
    """An engine process of this test's own (run dir, port, service id), stopped and cleaned up after it."""
    process = EngineProcess(engine_settings(settings, tmp_path_factory, "own-engine"))
    process.up(timeout=120)
    yield process
    process.down()
    drop_engine_topics(process)


@pytest.fixture(scope="session")
def live_engine(cluster, settings, tmp_path_factory):
    """One engine process for the session's REST tests."""
    process = EngineProcess(engine_settings(settings, tmp_path_factory, "engine"))
    process.up(timeout=120)
    yield process
    process.down()
    drop_engine_topics(process)


@pytest.fixture
def client(live_engine):
    with KsqlClient(live_engine.settings.ksql_url, timeout=30) as client:
        yield client


@pytest.fixture
def unique() -> str:
    """A suffix for stream, table and topic names no other test uses."""
    return uuid.uuid4().hex[:8].upper()
