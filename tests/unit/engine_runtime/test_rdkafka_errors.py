"""librdkafka errors reach the runner as kafka-python KafkaErrors, retriable exactly when the brokers' return cures them."""
import confluent_kafka as ck
import pytest
from kafka.errors import KafkaError

from labkit.engine.kafka_runtime import _retriable
from labkit.engine.rdkafka_clients import RdKafkaError


@pytest.mark.parametrize("code", [ck.KafkaError._TRANSPORT, ck.KafkaError._ALL_BROKERS_DOWN,
                                  ck.KafkaError._MSG_TIMED_OUT, ck.KafkaError.NOT_ENOUGH_REPLICAS,
                                  ck.KafkaError.NOT_COORDINATOR, ck.KafkaError.REQUEST_TIMED_OUT,
                                  ck.KafkaError.NOT_LEADER_FOR_PARTITION, ck.KafkaError.UNKNOWN_TOPIC_OR_PART,
                                  ck.KafkaError.FENCED_LEADER_EPOCH])
def test_errors_that_end_when_the_brokers_return_are_retriable(code):
    error = RdKafkaError(ck.KafkaError(code))
    assert isinstance(error, KafkaError) and _retriable(error)
    assert error.code == code


@pytest.mark.parametrize("code", [ck.KafkaError._UNKNOWN_TOPIC, ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
                                  ck.KafkaError.MSG_SIZE_TOO_LARGE, ck.KafkaError.INVALID_RECORD])
def test_errors_no_wait_cures_are_not_retriable(code):
    assert not _retriable(RdKafkaError(ck.KafkaError(code)))


def test_a_kafka_exception_is_unwrapped_and_named():
    error = RdKafkaError(ck.KafkaException(ck.KafkaError(ck.KafkaError._ALL_BROKERS_DOWN)))
    assert error.code == ck.KafkaError._ALL_BROKERS_DOWN and "ALL_BROKERS_DOWN" in str(error)


def test_a_plain_message_is_a_non_retriable_error():
    error = RdKafkaError("No position for t-0: seek first.")
    assert error.code is None and not _retriable(error) and "seek first" in str(error)
