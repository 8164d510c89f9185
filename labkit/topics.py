"""Small admin helpers the lessons use: brokers, quorum and topics as DataFrames, idempotent topic set-up.

They wrap kafka-python's admin client so a lesson cell stays one line; the lessons show the raw admin calls
once, then use these.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import pandas as pd
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

from labkit.config import Settings, settings as load_settings


@contextmanager
def admin_client(settings: Settings | None = None) -> Iterator[KafkaAdminClient]:
    """A kafka-python admin client for the configured cluster, closed on exit."""
    settings = settings or load_settings()
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="labkit-admin")
    try:
        yield admin
    finally:
        admin.close()


def brokers(settings: Settings | None = None) -> pd.DataFrame:
    """One row per broker: id, host, port, fenced, and whether it is the active controller."""
    with admin_client(settings) as admin:
        meta = admin.describe_cluster()
    rows = [
        {"broker": b["broker_id"], "host": b["host"], "port": b["port"], "fenced": b.get("is_fenced", False),
         "active_controller": b["broker_id"] == meta.get("controller_id")}
        for b in meta["brokers"]
    ]
    return pd.DataFrame(rows).sort_values("broker").reset_index(drop=True)


def quorum(settings: Settings | None = None) -> pd.DataFrame:
    """One row per controller voter: node id, controller listener, and whether it leads the quorum."""
    with admin_client(settings) as admin:
        meta = admin.describe_metadata_quorum()
    (partition,) = meta["topics"][0]["partitions"]
    voters = {v["replica_id"] for v in partition["current_voters"]}
    rows = []
    for node in meta["nodes"]:
        listener = node["listeners"][0]
        rows.append({"node": node["node_id"], "controller_listener": f"{listener['host']}:{listener['port']}",
                     "voter": node["node_id"] in voters, "leader": node["node_id"] == partition["leader_id"]})
    return pd.DataFrame(rows).sort_values("node").reset_index(drop=True)


def describe_topic(name: str, settings: Settings | None = None) -> pd.DataFrame:
    """One row per partition: leader, replicas and in-sync replicas (sorted, so outputs are stable)."""
    with admin_client(settings) as admin:
        (topic,) = admin.describe_topics([name])
    if topic.get("error_code"):
        raise UnknownTopicOrPartitionError(f"Topic {name!r} does not exist.")
    rows = [
        {"partition": p["partition_index"], "leader": p["leader_id"],
         "replicas": sorted(p["replica_nodes"]), "in_sync": sorted(p["isr_nodes"])}
        for p in topic["partitions"]
    ]
    return pd.DataFrame(rows).sort_values("partition").reset_index(drop=True)


def create_topic(name: str, *, partitions: int = 1, replication_factor: int = 3,
                 configs: dict[str, str] | None = None, recreate: bool = True,
                 settings: Settings | None = None) -> None:
    """Create a topic and wait until its metadata is visible; with recreate=True an old one is deleted first."""
    with admin_client(settings) as admin:
        if recreate and name in admin.list_topics():
            admin.delete_topics([name])
            _wait(lambda: name not in admin.list_topics(), f"topic {name} to be deleted")
        spec = {name: {"num_partitions": partitions, "replication_factor": replication_factor,
                       "configs": configs or {}}}
        deadline = time.monotonic() + 30
        while True:
            try:
                admin.create_topics(spec)
                break
            except TopicAlreadyExistsError:
                if not recreate:
                    return
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # a delete of the same name is still being applied
        admin.wait_for_topics([name])


def delete_topics(names: list[str], settings: Settings | None = None) -> list[str]:
    """Delete the topics that exist among `names`; returns the ones deleted (missing ones are fine)."""
    with admin_client(settings) as admin:
        existing = [n for n in names if n in admin.list_topics()]
        if existing:
            admin.delete_topics(existing)
    return existing


def message_count(name: str, settings: Settings | None = None) -> int:
    """How many records a topic holds (end offset minus beginning offset over all partitions)."""
    settings = settings or load_settings()
    consumer = KafkaConsumer(**settings.kafka_client_config(), client_id="labkit-count")
    try:
        partitions = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])]
        if not partitions:
            return 0
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
        return sum(ends[tp] - starts[tp] for tp in partitions)
    finally:
        consumer.close()


def _wait(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise KafkaError(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(0.2)


def wait_in_sync(name: str, replicas: int, *, timeout: float = 60.0, settings: Settings | None = None) -> pd.DataFrame:
    """Wait until every partition of `name` has `replicas` in-sync replicas; returns the final description.

    A restarted broker is unfenced before it has caught up, so its replicas rejoin the ISR a moment later.
    """
    deadline = time.monotonic() + timeout
    while True:
        frame = describe_topic(name, settings)
        if all(len(isr) >= replicas for isr in frame["in_sync"]):
            return frame
        if time.monotonic() > deadline:
            raise KafkaError(f"Topic {name}: in-sync replicas still {list(frame['in_sync'])} after {timeout:.0f} s.")
        time.sleep(0.5)
