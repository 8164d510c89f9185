"""One embedded cluster per test session: reused if `make test` (or a learner) started it, else started here."""
from __future__ import annotations

import uuid

import pytest

from labkit import config
from labkit.cluster import EmbeddedCluster


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return config.settings()


@pytest.fixture(scope="session")
def cluster(settings) -> EmbeddedCluster:
    cluster = EmbeddedCluster(settings, brokers=3)
    started = cluster.up(progress=print)
    yield cluster
    if started:
        cluster.down()


@pytest.fixture
def topic_name() -> str:
    """A fresh topic name per test, so tests never see each other's records."""
    return f"test-{uuid.uuid4().hex[:10]}"
