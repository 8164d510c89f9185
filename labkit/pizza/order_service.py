"""The order service: places orders (an order record plus one empty pizza per count) and collects finished pizzas.

It replaces the lesson material's `pizza_service.py`: `acks='all'` instead of `acks=0`; the order itself is
written to `pizza-orders`, so a restarted service rebuilds every order from the topics before it answers;
finished pizzas are read with a blocking poll (no `sleep(1)`); an unknown order id is an error the API turns
into 404 (the material raised `KeyError`).
"""
from __future__ import annotations

import logging
import random
import threading
import uuid
from typing import Iterator

from labkit.config import Settings, settings as load_settings
from labkit.pizza.errors import InvalidOrderError, MalformedPizzaError, PipelineError, ProduceFailedError
from labkit.pizza.order_book import OrderBook
from labkit.pizza.records import OrderView, Pizza, PizzaOrder
from labkit.pizza.service import FETCH_MAX_WAIT_MS, POLL_TIMEOUT_MS, producer_config
from labkit.pizza.topics import PIZZA, WITH_VEGGIES, PizzaTopics

MIN_PIZZAS = 1
MAX_PIZZAS = 50
SEND_TIMEOUT_S = 30.0


def check_count(count: object) -> int:
    """The pizza count as an int from 1 to 50, or InvalidOrderError with a message for the customer."""
    text = str(count).strip()
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdecimal()):  # not isdigit(): "²" is a digit that int() refuses
        raise InvalidOrderError(f"The pizza count must be a whole number from {MIN_PIZZAS} to {MAX_PIZZAS}; "
                                f"got {str(count)!r}.")
    value = int(text)
    if not MIN_PIZZAS <= value <= MAX_PIZZAS:
        raise InvalidOrderError(f"The pizza count must be from {MIN_PIZZAS} to {MAX_PIZZAS}; got {value}.")
    return value


class OrderIds:
    """Order ids like the material's (`str(uuid4().int)`), drawn from a seeded generator when a seed is given."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed) if seed is not None else None
        self._lock = threading.Lock()

    def next(self, taken: OrderBook) -> str:
        """A fresh id not in `taken`."""
        with self._lock:
            while True:
                if self._rng is None:
                    candidate = str(uuid.uuid4().int)
                else:
                    candidate = str(uuid.UUID(int=self._rng.getrandbits(128), version=4).int)
                if candidate not in taken:
                    return candidate


class OrderService:
    """Places orders and keeps the order book current from the finished-pizza topic; a context manager."""

    name = "orders"

    def __init__(self, *, topics: PizzaTopics | None = None, settings: Settings | None = None,
                 seed: int | None = None, finished: str = WITH_VEGGIES) -> None:
        self.topics = topics or PizzaTopics()
        self.settings = settings or load_settings()
        self.seed = seed
        self.finished = finished
        self.book = OrderBook()
        self.malformed = 0
        self.failure: BaseException | None = None
        self.log = logging.getLogger("labkit.pizza.orders")
        self._ids = OrderIds(seed)
        self._producer = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def finished_topic(self) -> str:
        """The real name of the topic of finished pizzas."""
        return self.topics.name(self.finished)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, *, timeout: float = 60.0) -> "OrderService":
        """Rebuild the order book from the topics, then keep reading; returns once rebuilt."""
        from kafka import KafkaProducer

        if self.running:
            return self
        self._stop.clear()
        self._ready.clear()
        self.failure = None
        self._producer = KafkaProducer(**producer_config(self.settings, self.topics.group(self.name)))
        self._thread = threading.Thread(target=self._read_logged, name="pizza-orders", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise PipelineError(f"The order service did not rebuild its orders within {timeout:.0f} s"
                                + (f": {self.failure}" if self.failure else "."))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading and close the producer (pending orders were acknowledged before POST answered)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self._ready.clear()
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    @property
    def running(self) -> bool:
        """True while the reader thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def ready(self) -> bool:
        """True once the order book was rebuilt and the service takes orders."""
        return self._ready.is_set() and self.running

    def __enter__(self) -> "OrderService":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- orders ------------------------------------------------------------------------------------------------
    def order(self, count: object) -> str:
        """Place an order of `count` pizzas; returns its id once Kafka acknowledged every record."""
        count = check_count(count)
        producer = self._producer
        if not self.ready or producer is None:
            raise PipelineError("The order service is not running (or still rebuilding its orders).")
        order = PizzaOrder(self._ids.next(self.book), count)
        self.book.add_order(order)
        key = order.order_id.encode("utf-8")
        try:
            futures = [producer.send(self.topics.orders, key=key, value=order.to_json())]
            futures += [producer.send(self.topics.name(PIZZA), key=key,
                                      value=Pizza(order.order_id, number).to_json())
                        for number in range(1, count + 1)]
            for future in futures:
                future.get(timeout=SEND_TIMEOUT_S)
        except Exception as error:  # not acknowledged: the order does not exist; tell the caller
            self.book.forget(order.order_id)
            raise ProduceFailedError(f"Kafka did not acknowledge order {order.order_id}: {error}") from error
        return order.order_id

    def get(self, order_id: str) -> OrderView:
        """The order with its finished pizzas and status; raises OrderNotFoundError for an unknown id."""
        return self.book.get(order_id)

    def wait(self, order_id: str, timeout: float = 30.0) -> OrderView:
        """Block until the order is complete or `timeout` passes; returns the order either way."""
        return self.book.wait(order_id, timeout)

    def orders(self) -> list[OrderView]:
        """Every order, in the order placed."""
        return self.book.views()

    def updates(self, *, replay: bool = True) -> Iterator[OrderView | None]:
        """Each order's view whenever it changes (None while idle), like a push query on an order table."""
        return self.book.subscribe(replay=replay)

    # -- the reader ----------------------------------------------------------------------------------------------
    def _read_logged(self) -> None:
        try:
            self._read()
        except Exception as error:
            self.failure = error
            self.log.exception("The order service's reader stopped with an error")

    def _read(self) -> None:
        """Read orders and finished pizzas from the beginning; mark ready at the end offsets seen at start."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(**self.settings.kafka_client_config(), client_id=self.topics.group(self.name),
                                 group_id=None, enable_auto_commit=False, fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
                                 max_poll_records=1000)
        try:
            partitions = []
            for topic in (self.topics.orders, self.finished_topic):
                numbers = consumer.partitions_for_topic(topic)
                if not numbers:
                    raise PipelineError(f"Topic {topic} does not exist; start the pipeline to create it.")
                partitions += [TopicPartition(topic, n) for n in sorted(numbers)]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            ends = consumer.end_offsets(partitions)
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                for records in batch.values():
                    for record in records:
                        self._apply(record)
                if not self._ready.is_set() and all(consumer.position(tp) >= ends[tp] for tp in partitions):
                    self.log.info("order service: %d order(s) rebuilt", len(self.book))
                    self._ready.set()
        finally:
            consumer.close(autocommit=False)

    def _apply(self, record) -> None:
        try:
            if record.topic == self.topics.orders:
                self.book.add_order(PizzaOrder.from_json(record.value))
            else:
                self.book.add_pizza(Pizza.from_json(record.value))
        except MalformedPizzaError as error:
            # The topping services dead-letter bad pizzas before they get here; count and skip what remains.
            self.malformed += 1
            self.log.warning("order service: skipped %s[%s]@%s: %s", record.topic, record.partition,
                             record.offset, error)
