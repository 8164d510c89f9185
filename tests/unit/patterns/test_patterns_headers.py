"""Header encoding of retry and error-topic records: text values, origin, attempts, time."""
from labkit.patterns import headers as hdr


def test_failure_headers_carry_origin_error_attempts_and_time_as_text():
    headers = hdr.failure_headers(topic="orders", partition=2, offset=41, error=KeyError("price"), attempts=3,
                                  failed_at_ms=1_700_000_000_123, message_id="orders/2/41", not_before_ms=5)
    assert all(isinstance(name, str) and isinstance(value, bytes) for name, value in headers)
    decoded = hdr.decode(headers)
    assert decoded[hdr.ORIGINAL_TOPIC] == "orders"
    assert hdr.origin(decoded) == ("orders", 2, 41)
    assert decoded[hdr.ERROR_CLASS] == "KeyError"
    assert decoded[hdr.ERROR_MESSAGE] == "'price'"
    assert hdr.attempts(decoded) == 3
    assert decoded[hdr.FAILED_AT] == "2023-11-14T22:13:20.123Z"
    assert decoded[hdr.MESSAGE_ID] == "orders/2/41"
    assert hdr.not_before_ms(decoded) == 5


def test_every_dead_letter_header_is_present():
    decoded = hdr.decode(hdr.failure_headers(topic="t", partition=0, offset=0, error=ValueError("x"), attempts=1,
                                             failed_at_ms=0))
    assert set(hdr.DEAD_LETTER_HEADERS) <= set(decoded)


def test_none_values_are_left_out_and_messages_are_one_short_line():
    headers = hdr.encode({"a": None, "b": 1})
    assert headers == [("b", b"1")]
    long = ValueError("line one\nline two " + "x" * 1000)
    text = hdr.error_message(long)
    assert "\n" not in text and len(text) == hdr.MAX_MESSAGE_CHARS and text.endswith("…")
    assert hdr.error_message(ValueError()) == "ValueError"


def test_decode_tolerates_missing_and_null_headers():
    assert hdr.decode(None) == {}
    assert hdr.decode([("k", None), ("k2", b"\xff")]) == {"k": "", "k2": "\ufffd"}
    assert hdr.origin({}) is None
    assert hdr.attempts({hdr.ATTEMPTS: "not a number"}, default=7) == 7


def test_replace_overrides_named_headers_and_keeps_the_rest():
    headers = [("a", b"1"), (hdr.ATTEMPTS, b"1")]
    assert hdr.replace(headers, {hdr.ATTEMPTS: 2}) == [("a", b"1"), (hdr.ATTEMPTS, b"2")]
