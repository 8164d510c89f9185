"""The base of every pipeline stage: read pizzas from one topic, change them, send them to the next topic.

The loop fixes the lesson material's `BaseService`:
- a blocking `poll(timeout_ms=…)` returns as soon as records arrive (no `sleep(1)` between polls);
- an idempotent producer with `acks='all'` and `linger_ms=0`, one flush per batch (not one per record);
- offsets are committed only after the batch's records are acknowledged (at-least-once: a crash can send a
  pizza twice, never lose one; the order service counts each pizza number once);
- one consumer group per service (the material put every service in group "meats");
- a record that is not a pizza goes to the dead-letter topic with headers saying where it came from and why;
- `start()`/`stop()` run it on a thread and stop it cleanly (the consumer leaves its group on close).

Example:
    >>> class Oven(PizzaService):
    ...     name, source, target = "bake", "pizza-with-veggies", "pizza-baked"
    ...     def prepare(self, pizza):
    ...         return pizza
"""
from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Callable, ClassVar

from kafka.errors import CommitFailedError

from labkit.config import Settings, settings as load_settings
from labkit.pizza.errors import MalformedPizzaError, PipelineError, ProduceFailedError
from labkit.pizza.records import Pizza
from labkit.pizza.topics import PizzaTopics

POLL_TIMEOUT_MS = 250
FETCH_MAX_WAIT_MS = 50
SESSION_TIMEOUT_MS = 10_000
METADATA_MAX_AGE_MS = 3_000

ErrorCallback = Callable[["PizzaService", object, BaseException], None]


def producer_config(settings: Settings, client_id: str) -> dict[str, object]:
    """kafka-python producer settings for delivery that is acknowledged and fast.

    linger_ms=0 sends at once; one request in flight per broker makes records that arrive meanwhile wait
    and travel together in the next request, which keeps the brokers' work per pizza low under load.
    """
    return {**settings.kafka_client_config(), "client_id": client_id, "acks": "all", "enable_idempotence": True,
            "linger_ms": 0, "max_in_flight_requests_per_connection": 1}


class PizzaService(ABC):
    """One stage: consume `source`, `prepare()` each pizza, produce to `target`; a context manager."""

    name: ClassVar[str]
    source: ClassVar[str]
    target: ClassVar[str]

    def __init__(self, *, topics: PizzaTopics | None = None, settings: Settings | None = None,
                 seed: int | None = None, work_seconds: float = 0.0, on_error: ErrorCallback | None = None) -> None:
        self.topics = topics or PizzaTopics()
        self.settings = settings or load_settings()
        self.seed = seed
        self.work_seconds = work_seconds
        self.on_error = on_error
        self.processed = 0  # records handled (sent on, or dead-lettered)
        self.dead_lettered = 0
        self.failure: BaseException | None = None
        self.log = logging.getLogger(f"labkit.pizza.{self.name}")
        self._stop = threading.Event()
        self._assigned = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what a stage does ---------------------------------------------------------------------------------
    @abstractmethod
    def prepare(self, pizza: Pizza) -> Pizza:
        """Return the pizza with this stage's work done (a topping added, say)."""

    # -- names -----------------------------------------------------------------------------------------------
    @property
    def source_topic(self) -> str:
        """The real name of the topic this stage reads."""
        return self.topics.name(self.source)

    @property
    def target_topic(self) -> str:
        """The real name of the topic this stage writes."""
        return self.topics.name(self.target)

    @property
    def group_id(self) -> str:
        """This stage's own consumer group."""
        return self.topics.group(self.name)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> "PizzaService":
        """Run the loop on a daemon thread; returns self."""
        if self.running:
            return self
        self._stop.clear()
        self._assigned.clear()
        self.failure = None
        self._thread = threading.Thread(target=self._run_logged, name=f"pizza-{self.name}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the loop to finish its current batch and close (returns at once)."""
        self._stop.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the loop and wait for its thread; the consumer commits nothing it has not produced."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise PipelineError(f"The {self.name} service did not stop within {timeout:.0f} s.")
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the loop's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait_assigned(self, timeout: float = 30.0) -> None:
        """Block until the consumer group gave this service its partitions (or raise PipelineError)."""
        if not self._assigned.wait(timeout):
            reason = f": {self.failure}" if self.failure else ""
            raise PipelineError(f"The {self.name} service got no partitions within {timeout:.0f} s{reason}.")

    def __enter__(self) -> "PizzaService":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception as error:  # the thread's last word: keep it for status and tests
            self.failure = error
            self.log.exception("The %s service stopped with an error", self.name)

    # -- the loop ----------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Consume, prepare, produce, flush, commit; until request_stop(). Blocks the calling thread."""
        from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer

        assigned = self._assigned

        class _Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                assigned.clear()

            def on_partitions_assigned(self, partitions):
                if partitions:
                    assigned.set()

        client_id = self.group_id
        producer = KafkaProducer(**producer_config(self.settings, client_id))
        consumer = KafkaConsumer(
            **self.settings.kafka_client_config(), client_id=client_id, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_poll_records=500, session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=1000,
            # A safety net beside _wait_for_topic: metadata that missed a just-created topic is refreshed
            # within seconds, not after the default 5 minutes.
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        try:
            consumer.subscribe([self.source_topic], listener=_Listener())
            self._wait_for_topic(consumer)
            self.log.info("%s service: %s -> %s (group %s)", self.name, self.source_topic, self.target_topic,
                          self.group_id)
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                if batch:
                    self._process(batch, producer, consumer)
        finally:
            producer.close()
            consumer.close(autocommit=False)
            assigned.clear()

    def _wait_for_topic(self, consumer, timeout: float = 30.0) -> None:
        """After subscribing, fetch the input topic's metadata before the first poll joins the group.

        kafka-python 3.0.12 assigns nothing when the group is joined before the topic's metadata arrives, then
        rebalances; if a poll times out during that second join, the assignment is never applied and the
        consumer idles for ever. A blocking metadata fetch first makes the first join the only one.
        """
        deadline = time.monotonic() + timeout
        while not consumer.partitions_for_topic(self.source_topic) or self.source_topic not in consumer.topics():
            if self._stop.is_set():
                return
            if time.monotonic() > deadline:
                raise PipelineError(f"Topic {self.source_topic} does not exist; the {self.name} service needs it.")
            self._stop.wait(0.1)

    def _process(self, batch, producer, consumer) -> None:
        """Handle one polled batch: send every result, flush once, then commit what was sent."""
        from kafka import OffsetAndMetadata

        futures = []
        offsets = {}
        for tp, records in batch.items():
            for record in records:
                if self.work_seconds and self._stop.wait(self.work_seconds):
                    break  # a slow stage asked to stop: commit only what it finished
                futures.append(self._handle(producer, record))
                offsets[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
                self.processed += 1
        producer.flush()
        failed = [future.exception for future in futures if future.failed()]
        if failed:
            raise ProduceFailedError(f"The {self.name} service could not send {len(failed)} record(s): "
                                     f"{failed[0]}. Nothing was committed; a restart sends them again.")
        if offsets:
            try:
                consumer.commit(offsets)
            except CommitFailedError as error:  # the group rebalanced: the new owner re-sends, numbers dedupe
                self.log.warning("%s service: commit refused after a rebalance: %s", self.name, error)

    def _handle(self, producer, record):
        """Prepare one record and send it on; send what cannot be read to the dead-letter topic."""
        try:
            pizza = Pizza.from_json(record.value)
            done = self.prepare(pizza)
        except MalformedPizzaError as error:
            return self._dead_letter(producer, record, error)
        except Exception as error:  # a bug in prepare(): park the record with the error, keep serving others
            self.log.exception("The %s service failed on %s[%s]@%s", self.name, record.topic, record.partition,
                               record.offset)
            return self._dead_letter(producer, record, error)
        key = record.key if record.key is not None else done.order_id.encode("utf-8")
        return producer.send(self.target_topic, key=key, value=done.to_json())

    def _dead_letter(self, producer, record, error: BaseException):
        self.dead_lettered += 1
        if self.on_error is not None:
            self.on_error(self, record, error)
        self.log.warning("%s service: %s[%s]@%s to %s: %s", self.name, record.topic, record.partition,
                         record.offset, self.topics.errors, error)
        headers = [
            ("source.topic", record.topic.encode()), ("source.partition", str(record.partition).encode()),
            ("source.offset", str(record.offset).encode()), ("service", self.name.encode()),
            ("error.class", type(error).__name__.encode()), ("error.message", str(error)[:500].encode()),
        ]
        return producer.send(self.topics.errors, key=record.key, value=record.value, headers=headers)
