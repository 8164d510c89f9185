"""Pizza shops on the session's real cluster, each with its own topics (a prefix) and its own port."""
from __future__ import annotations

import socket
import uuid

import pytest

from labkit.pizza import Pipeline, PizzaTopics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_topics() -> PizzaTopics:
    return PizzaTopics(prefix=f"test-{uuid.uuid4().hex[:8]}-")


@pytest.fixture
def make_port():
    """A function returning a free TCP port on 127.0.0.1."""
    return free_port


@pytest.fixture
def make_topics():
    """A function returning fresh topic names (a random prefix)."""
    return new_topics


@pytest.fixture(scope="module")
def shop(cluster, settings):
    """A running shop (threads) shared by a module's tests; deleted afterwards with its topics and groups."""
    pipeline = Pipeline(seed=6, topics=new_topics(), settings=settings, port=free_port(), fresh=True).start()
    yield pipeline
    pipeline.stop()
    pipeline.delete_topics()


@pytest.fixture(scope="module")
def slow_shop(cluster, settings):
    """A shop whose stages take 10 ms per pizza, so a test can stop a service in the middle of an order."""
    stages = ("sauce", "cheese", "meats", "veggies")
    pipeline = Pipeline(seed=7, topics=new_topics(), settings=settings, port=free_port(), fresh=True,
                        work_seconds={name: 0.01 for name in stages}).start()
    yield pipeline
    pipeline.stop()
    pipeline.delete_topics()
