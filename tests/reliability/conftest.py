"""Reliability and security tests (issue 7): fuzzed input, authentication, bind addresses, load and faults.

Every test here is marked `reliability`; those that need Kafka are also marked `integration`, and the long
ones `slow` (still run by `make test`). Engines and clusters the tests break are their own: an engine on a
free port with a service id of its own, or a three-node cluster in a temporary run directory on other ports.
The shared cluster (9097-9099) and the shared engine (8088) are never stopped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from labkit import config
from labkit.cluster import EmbeddedCluster
from labkit.cluster.engine_process import EngineProcess
from reliability_support import EngineFactory

_NEEDS_KAFKA = ("cluster", "shared_cluster", "own_engine", "engine_factory", "own_cluster", "shop")


def pytest_configure(config):
    """Register the `reliability` marker."""
    config.addinivalue_line("markers", "reliability: faults, load, fuzzed input and security (issue 7)")


def pytest_collection_modifyitems(config, items):
    """Mark every test of this folder `reliability`, and `integration` where it uses Kafka."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
            if any(name in getattr(item, "fixturenames", ()) for name in _NEEDS_KAFKA):
                item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return config.settings()


@pytest.fixture(scope="session")
def cluster(settings) -> Iterator[EmbeddedCluster]:
    """The shared three-node cluster: reused when running (it always is under `make test`), else started."""
    cluster = EmbeddedCluster(settings, brokers=3)
    started = cluster.up(progress=print)
    yield cluster
    if started:
        cluster.down()


@pytest.fixture
def engine_factory(cluster, settings, tmp_path_factory) -> Iterator[EngineFactory]:
    """Engine processes of this test's own; every one is stopped and its topics deleted afterwards."""
    factory = EngineFactory(settings, tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def own_engine(cluster, settings, tmp_path_factory) -> Iterator[EngineProcess]:
    """One engine process per test module (own port, own service id), over the shared cluster."""
    factory = EngineFactory(settings, tmp_path_factory)
    process = factory.start()
    yield process
    factory.stop_all()
