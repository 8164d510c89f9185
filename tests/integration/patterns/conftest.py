"""Fixtures of the pattern tests: a fresh set of topics per test (deleted afterwards), quiet client logs."""
from __future__ import annotations

import pytest

from labkit import quiet_client_logs
from labkit.patterns import PatternTopics


@pytest.fixture
def run_topics(cluster, settings, topic_name):
    """A factory of PatternTopics with fresh names (prefix from `topic_name`), created now, dropped at the end."""
    quiet_client_logs()
    made: list[PatternTopics] = []

    def make(retry_levels: int = 1, partitions: int = 1, suffix: str = "") -> PatternTopics:
        topics = PatternTopics(f"{topic_name}{suffix}", retry_levels=retry_levels, partitions=partitions)
        made.append(topics.create(settings))
        return topics

    yield make
    for topics in made:
        topics.delete(settings)
