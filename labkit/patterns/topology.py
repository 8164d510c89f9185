"""The topics and consumer groups of one pattern run, named from a prefix, created and dropped together.

A lesson or test says `PatternTopics("lesson05-ordered")` and gets `lesson05-ordered-main`, `-output`,
`-retry`, `-redirect` (compacted) and `-error`, plus consumer-group names made unique per run, so a re-run
never resumes from an old run's offsets.

Example:
    >>> t = PatternTopics("demo", run="r1")
    >>> t.main, t.redirect, t.retry_level(2), t.group("main")
    ('demo-main', 'demo-redirect', 'demo-retry-2', 'demo-main-r1')
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Sequence

from kafka.errors import TopicAlreadyExistsError

from labkit.config import Settings
from labkit.patterns import clients
from labkit.patterns.clients import Message
from labkit.patterns.errors import PatternError
from labkit.patterns.retry import RetryLevel, RetryPolicy
from labkit.topics import admin_client

COMPACTED = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class Results:
    """Everything the run wrote, read back: one list of Messages per topic role."""

    main: list[Message]
    output: list[Message]
    error: list[Message]
    retry: list[Message]
    redirect: list[Message]

    def settled(self) -> bool:
        """True when every main-topic record is in the output or the error topic (by id or origin)."""
        from labkit.patterns.invariants import check_no_loss

        report = check_no_loss(self.main, self.output, self.error)
        return report.metrics["missing"] == 0


@dataclass(frozen=True)
class PatternTopics:
    """Topic and group names of one pattern run."""

    prefix: str
    retry_levels: int = 1
    partitions: int = 1
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def main(self) -> str:
        """The main topic: the events to process."""
        return f"{self.prefix}-main"

    @property
    def output(self) -> str:
        """Where processed events go."""
        return f"{self.prefix}-output"

    @property
    def error(self) -> str:
        """The error topic (dead-letter queue)."""
        return f"{self.prefix}-error"

    @property
    def retry(self) -> str:
        """The retry topic (the first level when there are several)."""
        return self.retry_level(1) if self.retry_levels > 1 else f"{self.prefix}-retry"

    def retry_level(self, n: int) -> str:
        """The retry topic of delay level n (1-based)."""
        return f"{self.prefix}-retry-{n}"

    @property
    def retry_topics(self) -> list[str]:
        """Every retry topic, first level first."""
        if self.retry_levels > 1:
            return [self.retry_level(n) for n in range(1, self.retry_levels + 1)]
        return [self.retry]

    @property
    def redirect(self) -> str:
        """The compacted redirect topic of ordered retry."""
        return f"{self.prefix}-redirect"

    @property
    def all(self) -> list[str]:
        """Every topic of the run."""
        return [self.main, self.output, self.error, *self.retry_topics, self.redirect]

    def retry_policy(self, *, delays: Sequence[float], max_attempts: int | None = None) -> RetryPolicy:
        """A retry policy over this run's retry topics, one delay per level (the last delay repeats)."""
        levels = tuple(RetryLevel(topic, delays[min(n, len(delays) - 1)])
                       for n, topic in enumerate(self.retry_topics))
        return RetryPolicy(levels, max_attempts if max_attempts is not None else len(levels) + 1)

    def group(self, role: str) -> str:
        """A consumer-group id for one app of this run ("main", "retry", …)."""
        return f"{self.prefix}-{role}-{self.run}"

    def create(self, settings: Settings | None = None, *, timeout: float = 30.0) -> "PatternTopics":
        """(Re)create every topic: RF 3, the redirect topic compacted; waits until all are visible."""
        spec = {name: {"num_partitions": self.partitions, "replication_factor": 3,
                       "configs": dict(COMPACTED) if name == self.redirect else {}} for name in self.all}
        deadline = time.monotonic() + timeout
        with admin_client(settings) as admin:
            stale = [name for name in spec if name in set(admin.list_topics())]
            if stale:
                admin.delete_topics(stale)
            while stale and set(stale) & set(admin.list_topics()):
                if time.monotonic() > deadline:
                    raise PatternError(f"Topics {stale} are still being deleted after {timeout:.0f} s.")
                time.sleep(0.2)
            while True:  # the old topics are gone: whatever exists now was created here
                missing = {name: s for name, s in spec.items() if name not in set(admin.list_topics())}
                if not missing:
                    break
                try:
                    admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    if time.monotonic() > deadline:
                        raise PatternError(f"Could not recreate {sorted(missing)} within {timeout:.0f} s.") from None
                    time.sleep(0.3)  # a deletion is still being applied
            admin.wait_for_topics(self.all)
        return self

    def delete(self, settings: Settings | None = None) -> list[str]:
        """Delete the run's topics (the ones that exist); returns their names."""
        with admin_client(settings) as admin:
            existing = [name for name in self.all if name in set(admin.list_topics())]
            if existing:
                admin.delete_topics(existing)
        return existing

    def read(self, settings: Settings | None = None) -> Results:
        """Read every topic of the run from the beginning."""
        retry: list[Message] = []
        for topic in self.retry_topics:
            retry += clients.read_topic(topic, settings)
        return Results(main=clients.read_topic(self.main, settings), output=clients.read_topic(self.output, settings),
                       error=clients.read_topic(self.error, settings), retry=retry,
                       redirect=clients.read_topic(self.redirect, settings))
