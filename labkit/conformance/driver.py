"""What the conformance runner needs from an engine: ksqlDB's test harness, with in-memory topics.

ksqlDB runs its query-validation tests (QTT) through Kafka Streams' TopologyTestDriver: statements are
executed, input records are piped into the topologies, output records are read back, no broker involved.
`ConformanceDriver` is that seam for labkit's engine (implemented in `labkit.engine.testing`).
Keys and values cross it in the test files' JSON representation (JSON object, CSV string or bare
primitive, depending on the topic's format); the driver (de)serializes with the topic's formats.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class TestRecord:
    """One record as the test files write it."""

    __test__ = False  # not a pytest test class, despite its name

    topic: str
    key: Any
    value: Any
    timestamp: int | None = None
    window: dict | None = None  # {"start": ms, "end": ms, "type": "time" | "session"}
    headers: list[dict] = field(default_factory=list)  # [{"KEY": str, "VALUE": base64 str | None}]


class ConformanceDriver(Protocol):
    """An engine over in-memory topics, driven the way ksqlDB's QTT/RQTT executors drive ksqlDB."""

    def create_topic(self, name: str, *, partitions: int = 1, key_format: str | None = None,
                     value_format: str | None = None) -> None:
        """Declare a topic before the statements run (the case's `topics` entries)."""

    def execute(self, statement: str) -> list[dict]:
        """Run one statement as /ksql would; returns its entities; raises a LabkitError with ksqlDB's text."""

    def produce(self, record: TestRecord) -> None:
        """Write one input record (serialized with its topic's formats) and let every query process it."""

    def produced(self, topic: str) -> list[TestRecord]:
        """Records the engine wrote to `topic` (query outputs and INSERT VALUES), in write order."""

    def source(self, name: str) -> dict | None:
        """`{"name", "type": "stream"|"table", "schema", "keyFormat": {...}, "valueFormat", "isSource"}`."""

    def topic_names(self) -> list[str]:
        """Every topic that exists, including internal ones (repartition, changelog)."""

    def topic_info(self, name: str) -> dict | None:
        """`{"name", "partitions", "keyFormat", "valueFormat"}` of a topic, or None."""

    def close(self) -> None:
        """Stop every query and free the driver."""


class DriverFactory(Protocol):
    """Makes a fresh driver from the server/harness properties.

    `kafka_partitioning`: records go to the partition Kafka's default partitioner picks (murmur2 of the
    serialized key), as on the real cluster RQTT runs on; otherwise to partition 0, as in TopologyTestDriver.
    """

    def __call__(self, properties: dict, *, kafka_partitioning: bool = False) -> ConformanceDriver: ...
