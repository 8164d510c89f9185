"""The stage loop's contract, with fake Kafka clients: flush before commit, dead letters, no commit on failure."""
from __future__ import annotations

import json
from collections import namedtuple

import pytest
from kafka import TopicPartition

from labkit.pizza import toppings
from labkit.pizza.errors import PipelineError, ProduceFailedError
from labkit.pizza.pipeline import DEFAULT_STAGES, check_chain
from labkit.pizza.records import Pizza
from labkit.pizza.service import PizzaService, producer_config
from labkit.pizza.services import CheeseService, MeatService, SauceService, VeggieService
from labkit.pizza.topics import PizzaTopics

Record = namedtuple("Record", "topic partition offset key value")
TP = TopicPartition("t-pizza", 0)


class FakeFuture:
    def __init__(self, error=None):
        self.exception = error

    def failed(self):
        return self.exception is not None


class FakeProducer:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def send(self, topic, key=None, value=None, headers=None):
        self.calls.append(("send", topic, key, value, headers))
        return FakeFuture(RuntimeError("broker said no") if self.fail else None)

    def flush(self):
        self.calls.append(("flush",))


class FakeConsumer:
    def __init__(self, calls):
        self.calls = calls

    def commit(self, offsets=None):
        self.calls.append(("commit", offsets))


def sauce_service():
    return SauceService(topics=PizzaTopics(prefix="t-"), seed=6)


def record(offset, value, key=b"42"):
    return Record("t-pizza", 0, offset, key, value)


def test_a_batch_is_sent_flushed_once_then_committed():
    service = sauce_service()
    producer = FakeProducer()
    batch = {TP: [record(0, Pizza("42", 1).to_json()), record(1, Pizza("42", 2).to_json())]}
    service._process(batch, producer, FakeConsumer(producer.calls))
    kinds = [call[0] for call in producer.calls]
    assert kinds == ["send", "send", "flush", "commit"]
    assert producer.calls[-1][1][TP].offset == 2  # the next offset to read
    sent = Pizza.from_json(producer.calls[0][3])
    assert producer.calls[0][1] == "t-pizza-with-sauce" and sent.sauce in toppings.SAUCES
    assert service.processed == 2


def test_a_record_that_is_not_a_pizza_goes_to_the_error_topic_with_headers():
    service = sauce_service()
    producer = FakeProducer()
    service._process({TP: [record(7, b"not json"), record(8, Pizza("42", 1).to_json())]}, producer,
                     FakeConsumer(producer.calls))
    dead = producer.calls[0]
    assert dead[1] == "t-pizza-errors" and dead[3] == b"not json"
    headers = dict(dead[4])
    assert headers["source.topic"] == b"t-pizza" and headers["source.offset"] == b"7"
    assert headers["error.class"] == b"MalformedPizzaError" and headers["service"] == b"sauce"
    assert producer.calls[1][1] == "t-pizza-with-sauce"
    assert service.dead_lettered == 1


def test_a_bug_in_prepare_dead_letters_the_record_and_reports_it():
    seen = []

    class Broken(PizzaService):
        name, source, target = "broken", "pizza", "pizza-broken"

        def prepare(self, pizza):
            raise KeyError("oven")

    service = Broken(topics=PizzaTopics(prefix="t-"), on_error=lambda s, r, e: seen.append(type(e).__name__))
    producer = FakeProducer()
    service._process({TP: [record(0, Pizza("42", 1).to_json())]}, producer, FakeConsumer(producer.calls))
    assert dict(producer.calls[0][4])["error.class"] == b"KeyError"
    assert seen == ["KeyError"]


def test_nothing_is_committed_when_kafka_does_not_acknowledge():
    service = sauce_service()
    producer = FakeProducer(fail=True)
    with pytest.raises(ProduceFailedError, match="could not send 1 record"):
        service._process({TP: [record(0, Pizza("42", 1).to_json())]}, producer, FakeConsumer(producer.calls))
    assert "commit" not in [call[0] for call in producer.calls]


def test_each_topping_service_sets_only_its_own_topping():
    plain = Pizza("42", 1)
    for cls in (SauceService, CheeseService, MeatService, VeggieService):
        done = cls(seed=6).prepare(plain)
        changed = {k for k, v in done.to_dict().items() if v != plain.to_dict()[k]}
        assert changed == {cls.topping}
        assert done == cls(seed=6).prepare(plain)  # seeded: the same pizza gets the same topping


def test_the_producer_acknowledges_with_all_replicas_and_does_not_linger():
    from labkit.config import settings

    config = producer_config(settings(), "x")
    assert config["acks"] == "all" and config["enable_idempotence"] is True and config["linger_ms"] == 0


def test_stages_must_form_one_chain_from_the_pizza_topic():
    check_chain(DEFAULT_STAGES)

    class Oven(PizzaService):
        name, source, target = "bake", "pizza-with-veggies", "pizza-baked"

        def prepare(self, pizza):
            return pizza

    check_chain((*DEFAULT_STAGES, Oven))
    with pytest.raises(PipelineError, match="reads 'pizza-with-veggies'"):
        check_chain((Oven, *DEFAULT_STAGES))
    with pytest.raises(PipelineError, match="Two stages are named 'sauce'"):
        check_chain((SauceService, type("Again", (SauceService,), {"source": "pizza-with-sauce"})))


def test_stopping_a_service_that_never_started_is_harmless():
    service = sauce_service()
    service.stop()
    assert not service.running and json.loads(Pizza("1", 1).to_json())["number"] == 1
