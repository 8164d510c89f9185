"""Events: seeded generation and decoding with typed errors for every kind of bad input."""
import json

import pytest

from labkit.patterns.errors import InvalidRecordError, PermanentError, UndecodableRecordError
from labkit.patterns.events import Event, decode_event, make_events, output_value


def test_make_events_is_seeded_and_keeps_seq_order_within_each_key():
    first, second = make_events(per_key=5, seed=3), make_events(per_key=5, seed=3)
    assert first == second
    assert len(first) == 20
    for key in ("k1", "k2", "k3", "k4"):
        assert [e.seq for e in first if e.key == key] == [1, 2, 3, 4, 5]
    assert len({e.id for e in first}) == 20
    assert make_events(per_key=5, seed=4) != first


def test_an_encoded_event_decodes_to_itself():
    event = Event("k1-1", "k1", 1, {"amount": 7})
    assert decode_event(b"k1", event.encode()) == event


def test_the_record_key_is_the_group_and_a_keyless_record_uses_the_value_key():
    value = json.dumps({"id": "a-1", "key": "a", "seq": 1}).encode()
    assert decode_event(None, value).key == "a"
    assert decode_event(b"other", value).key == "other"


@pytest.mark.parametrize("value, error, words", [
    (None, InvalidRecordError, "null value"),
    (b"{not json", UndecodableRecordError, "not JSON"),
    (b"\xff\xfe", UndecodableRecordError, "not UTF-8"),
    (b"null", InvalidRecordError, "got null"),
    (b"[1, 2]", InvalidRecordError, "got an array"),
    (b'{"seq": 1}', InvalidRecordError, "'id'"),
    (b'{"id": 5, "seq": 1}', InvalidRecordError, "got a number"),
    (b'{"id": "a-1", "seq": "one"}', InvalidRecordError, "'seq' must be an integer, got a string"),
    (b'{"id": "a-1", "seq": true}', InvalidRecordError, "got a boolean"),
])
def test_bad_input_raises_a_permanent_error_that_says_why(value, error, words):
    with pytest.raises(error) as raised:
        decode_event(b"k1", value)
    assert isinstance(raised.value, PermanentError)
    assert words in str(raised.value)


def test_a_keyless_record_without_a_key_field_is_invalid():
    with pytest.raises(InvalidRecordError, match="no key"):
        decode_event(None, b'{"id": "a-1", "seq": 1}')


def test_output_value_names_the_event_the_attempt_and_the_app():
    document = json.loads(output_value(Event("k1-2", "k1", 2), {"x": 1}, attempt=2, via="retry"))
    assert document == {"id": "k1-2", "key": "k1", "seq": 2, "attempt": 2, "via": "retry", "result": {"x": 1}}
