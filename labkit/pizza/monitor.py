"""Read how busy the pipeline is from Kafka alone: messages per topic and pizzas in flight at each stage.

A stage's in-flight count is its consumer group's lag: records in its input topic that its group has not
committed yet (waiting, or being worked on). The pipeline monitor widget draws these numbers; the lesson's
checks assert on them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from labkit.config import Settings, settings as load_settings
from labkit.pizza.topics import PizzaTopics


@dataclass(frozen=True)
class Stage:
    """A stage as the monitor sees it: name, base input and output topics, and its group."""

    name: str
    source: str
    target: str


@dataclass(frozen=True)
class Load:
    """One reading: messages per topic (by base name) and in-flight pizzas per stage name."""

    messages: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)

    @property
    def busiest(self) -> str | None:
        """The stage with the most pizzas in flight (the bottleneck), or None when every stage is idle."""
        name, count = max(self.in_flight.items(), key=lambda item: item[1], default=(None, 0))
        return name if count else None


class LoadReader:
    """Reads `Load` for a pipeline's stages; keep one per monitor and close() it."""

    def __init__(self, stages: Sequence[Stage], *, topics: PizzaTopics | None = None,
                 extra_topics: Iterable[str] = (), settings: Settings | None = None) -> None:
        self.stages = list(stages)
        self.topics = topics or PizzaTopics()
        self.settings = settings or load_settings()
        names = [s.source for s in self.stages] + [s.target for s in self.stages] + list(extra_topics)
        self.topic_names = list(dict.fromkeys(names))
        self._consumer = None
        self._admin = None

    def read(self) -> Load:
        """Messages per topic and in-flight per stage, now."""
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

        if self._consumer is None:
            config = self.settings.kafka_client_config()
            self._consumer = KafkaConsumer(**config, client_id=self.topics.group("monitor"))
            self._admin = KafkaAdminClient(**config, client_id=self.topics.group("monitor-admin"))
        partitions: dict[str, list[TopicPartition]] = {}
        for base in self.topic_names:
            real = self.topics.name(base)
            numbers = self._consumer.partitions_for_topic(real) or set()
            partitions[base] = [TopicPartition(real, n) for n in sorted(numbers)]
        every = [tp for tps in partitions.values() for tp in tps]
        ends = self._consumer.end_offsets(every) if every else {}
        starts = self._consumer.beginning_offsets(every) if every else {}
        messages = {base: sum(ends[tp] - starts[tp] for tp in tps) for base, tps in partitions.items()}
        groups = {stage.name: self.topics.group(stage.name) for stage in self.stages}
        committed = self._admin.list_group_offsets({group: None for group in groups.values()})
        in_flight = {}
        for stage in self.stages:
            offsets = committed.get(groups[stage.name], {})
            waiting = 0
            for tp in partitions[stage.source]:
                done = offsets.get(tp)
                position = done.offset if done is not None and done.offset >= 0 else starts[tp]
                waiting += max(0, ends[tp] - position)
            in_flight[stage.name] = waiting
        return Load(messages=messages, in_flight=in_flight)

    def close(self) -> None:
        """Close the Kafka clients."""
        if self._consumer is not None:
            self._consumer.close()
            self._admin.close()
            self._consumer = self._admin = None

    def __enter__(self) -> "LoadReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
