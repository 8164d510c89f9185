"""Topic and consumer-group names of the pizza pipeline, in one place, plus creating and resetting them.

The names are the lesson material's: pizza → pizza-with-sauce → pizza-with-cheese → pizza-with-meats →
pizza-with-veggies. Two topics are new: `pizza-orders` keeps every order (so orders survive a restart of
the order service) and `pizza-errors` receives records no service can read (a dead-letter topic).
A prefix gives tests and benchmarks their own copy of every topic and group.

Example:
    >>> PizzaTopics(prefix="test-").name(PIZZA)
    'test-pizza'
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from kafka.errors import GroupIdNotFoundError, KafkaError, NonEmptyGroupError, TopicAlreadyExistsError

from labkit.config import Settings, settings as load_settings
from labkit.pizza.errors import PipelineError

PIZZA = "pizza"
WITH_SAUCE = "pizza-with-sauce"
WITH_CHEESE = "pizza-with-cheese"
WITH_MEATS = "pizza-with-meats"
WITH_VEGGIES = "pizza-with-veggies"
ORDERS = "pizza-orders"
ERRORS = "pizza-errors"
CHAIN = (PIZZA, WITH_SAUCE, WITH_CHEESE, WITH_MEATS, WITH_VEGGIES)
ALL = (*CHAIN, ORDERS, ERRORS)
PARTITIONS = 1
REPLICATION_FACTOR = 3


@dataclass(frozen=True)
class PizzaTopics:
    """Real topic and group names for one copy of the pipeline (prefix '' is the lesson material's names)."""

    prefix: str = ""

    def name(self, base: str) -> str:
        """The real name of a base topic name such as PIZZA."""
        return f"{self.prefix}{base}"

    def group(self, service: str) -> str:
        """The consumer group of a service: one group per service, never shared."""
        return f"{self.prefix}pizza-{service}-service"

    @property
    def orders(self) -> str:
        """Topic of placed orders (order id and pizza count)."""
        return self.name(ORDERS)

    @property
    def errors(self) -> str:
        """Dead-letter topic for records a service cannot read."""
        return self.name(ERRORS)


def ensure_topics(names: Iterable[str], *, settings: Settings | None = None, partitions: int = PARTITIONS,
                  replication_factor: int = REPLICATION_FACTOR, timeout: float = 30.0) -> list[str]:
    """Create the topics among `names` that do not exist yet; returns the ones created."""
    from labkit.topics import admin_client

    wanted = list(dict.fromkeys(names))
    deadline = time.monotonic() + timeout
    with admin_client(settings or load_settings()) as admin:
        missing = [n for n in wanted if n not in admin.list_topics()]
        remaining = list(missing)
        while remaining:
            try:
                admin.create_topics([_new_topic(n, partitions, replication_factor) for n in remaining])
                remaining = []
            except TopicAlreadyExistsError:
                # A topic of the same name is still being deleted, or someone else created it meanwhile.
                existing = set(admin.list_topics())
                remaining = [n for n in remaining if n not in existing]
                if time.monotonic() > deadline:
                    raise PipelineError(f"Could not create topics {remaining} within {timeout:.0f} s.") from None
                time.sleep(0.3)
        if missing:
            admin.wait_for_topics(missing, timeout_ms=int(timeout * 1000))
    return missing


def _new_topic(name: str, partitions: int, replication_factor: int):
    from kafka.admin import NewTopic

    return NewTopic(name, partitions, replication_factor)


def delete_groups(groups: Iterable[str], *, settings: Settings | None = None, timeout: float = 20.0) -> list[str]:
    """Delete consumer groups (their committed offsets); returns the ones deleted.

    A group must have no members. A member that crashed stays until its session times out (10 s for the
    pizza services), so a group that still has members is retried for up to `timeout` seconds.
    """
    from labkit.topics import admin_client

    remaining = list(groups)
    deleted: list[str] = []
    deadline = time.monotonic() + timeout
    with admin_client(settings or load_settings()) as admin:
        while remaining:
            results = admin.delete_groups(remaining)
            busy = []
            for group, result in results.items():
                if result == "OK":
                    deleted.append(group)
                elif result == GroupIdNotFoundError.__name__:
                    continue
                elif result in (NonEmptyGroupError.__name__, "CoordinatorNotAvailableError",
                                "CoordinatorLoadInProgressError", "NotCoordinatorError"):
                    busy.append(group)  # members still leaving, or a just-started cluster's coordinator loading
                else:
                    raise PipelineError(f"Could not delete consumer group {group}: {result}.")
            remaining = busy
            if remaining and time.monotonic() > deadline:
                raise PipelineError(f"Consumer group {remaining[0]} still has members: another copy of the pizza "
                                    "pipeline is running. Stop it (`labkit pizza down`, or shop.stop() in its "
                                    "notebook) first.")
            if remaining:
                time.sleep(0.5)
    return deleted


def reset(names: Iterable[str], groups: Iterable[str], *, settings: Settings | None = None,
          timeout: float = 60.0) -> None:
    """Delete the groups and topics, then create the topics again, empty: a fresh start for a lesson or a test."""
    from labkit.topics import admin_client

    settings = settings or load_settings()
    names = list(dict.fromkeys(names))
    delete_groups(groups, settings=settings)
    deadline = time.monotonic() + timeout
    with admin_client(settings) as admin:
        existing = [n for n in names if n in admin.list_topics()]
        if existing:
            admin.delete_topics(existing)
            while set(existing) & set(admin.list_topics()):
                if time.monotonic() > deadline:
                    raise PipelineError(f"Topics {existing} were not deleted within {timeout:.0f} s.")
                time.sleep(0.2)
    try:
        ensure_topics(names, settings=settings, timeout=max(5.0, deadline - time.monotonic()))
    except KafkaError as error:
        raise PipelineError(f"Could not create the pizza topics again: {error}") from error
