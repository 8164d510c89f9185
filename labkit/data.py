"""Seeded Faker data for the lessons (users, jobs, clicks, orders) and a reliable batch producer.

The record shapes follow the lesson material: users `{"id", "name", "address"}` on `ksql-test-user`,
jobs `{"id", "job", "company"}` on `ksql-test-job`. A seed makes every lesson's data the same on every run,
so notebook outputs can be checked.

Example:
    >>> users(2, seed=7)[0]["id"]
    1
"""
from __future__ import annotations

import random
from typing import Any, Callable, Iterable

from faker import Faker

from labkit.config import Settings, settings as load_settings

USER_TOPIC = "ksql-test-user"
JOB_TOPIC = "ksql-test-job"
PAGES = ("/home", "/pizza", "/menu", "/cart", "/checkout", "/about")


def _faker(seed: int) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


def users(count: int, *, start: int = 1, seed: int = 42) -> list[dict[str, Any]]:
    """Users with ids start..start+count-1, as the material produces them (address on one line)."""
    fake = _faker(seed + start)
    return [{"id": i, "name": fake.name(), "address": fake.address().replace("\n", " ")}
            for i in range(start, start + count)]


def jobs(count: int, *, start: int = 1, seed: int = 42) -> list[dict[str, Any]]:
    """Jobs with ids start..start+count-1 (one per user id)."""
    fake = _faker(seed * 31 + start)
    return [{"id": i, "job": fake.job(), "company": fake.company()} for i in range(start, start + count)]


def clicks(count: int, *, user_ids: Iterable[int], seed: int = 42, start_ms: int = 1_700_000_000_000,
           spacing_ms: int = 1000) -> list[dict[str, Any]]:
    """Page clicks by the given users, one every `spacing_ms` from `start_ms` (event time in `ts`)."""
    rng = random.Random(seed)
    ids = list(user_ids)
    return [{"user_id": rng.choice(ids), "page": rng.choice(PAGES), "ts": start_ms + n * spacing_ms}
            for n in range(count)]


def orders(count: int, *, seed: int = 42, customers: int = 5) -> list[dict[str, Any]]:
    """Pizza orders: order id, customer id and number of pizzas."""
    rng = random.Random(seed)
    return [{"order_id": n, "customer_id": rng.randint(1, customers), "pizzas": rng.randint(1, 4)}
            for n in range(1, count + 1)]


def produce(topic: str, records: Iterable[dict[str, Any]], *, key: str | Callable[[dict], Any] | None = None,
            settings: Settings | None = None) -> int:
    """Send JSON records with acks='all' and one flush at the end; returns how many were acknowledged.

    `key` names a field whose value becomes the record key (as UTF-8 text), or is a function of the record.
    """
    from kafka import KafkaProducer
    from kafka.serializer import JsonSerializer

    settings = settings or load_settings()
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", value_serializer=JsonSerializer())
    futures = []
    try:
        for record in records:
            raw_key = record.get(key) if isinstance(key, str) else key(record) if key else None
            encoded = None if raw_key is None else str(raw_key).encode()
            futures.append(producer.send(topic, key=encoded, value=record))
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()
    return len(futures)
