"""Invariant checks I1-I7 on hand-built topic contents: each passes when it should and says why when not."""
import pytest

from labkit.patterns import headers as hdr
from labkit.patterns.clients import Message
from labkit.patterns.errors import InvariantViolation
from labkit.patterns.faults import Attempt
from labkit.patterns.invariants import (
    Report,
    check_bounded_retries,
    check_dead_letter_headers,
    check_key_order,
    check_liveness,
    check_no_loss,
    check_retry_delays,
    check_stop_on_error,
    check_store_matches_redirect,
    key_sequences,
    reports_frame,
)
from labkit.patterns.redirect_store import lock_value
from patterns_helpers import dead_letter, events, output, source

EVENTS = events("k1-1", "k2-1", "k1-2", "k2-2")


def test_no_loss_holds_when_every_record_is_in_output_or_error_topic():
    src = source(EVENTS) + [Message("main", 0, 4, b"k1", b"{bad", {}, 0)]
    report = check_no_loss(src, output([("k1", 1), ("k2", 1), ("k1", 2), ("k2", 2)]), [dead_letter(src[4])])
    assert report.ok, report
    assert report.metrics == {"dead_lettered": 1, "duplicates": 0, "missing": 0, "output": 4, "source": 5}


def test_no_loss_names_the_missing_event_and_counts_duplicates():
    src = source(EVENTS)
    report = check_no_loss(src, output([("k1", 1), ("k1", 1), ("k1", 2), ("k2", 2)]), [])
    assert not report.ok
    assert report.problems == ("k2-1 (main[0]@1) is in neither the output nor the error topic",)
    assert report.metrics["duplicates"] == 1 and report.metrics["missing"] == 1


def test_no_loss_flags_output_that_never_was_in_the_source():
    report = check_no_loss(source(EVENTS[:1]), output([("k1", 1), ("k9", 1)]), [])
    assert report.problems == ("output has k9-1, which is not in the source",)


def test_key_order_fails_when_a_retried_event_comes_after_later_ones():
    report = check_key_order(output([("k3", 3), ("k3", 4), ("k1", 1), ("k3", 1), ("k3", 2)]))
    assert not report.ok
    assert report.problems == ("k3: seq 1 after seq 4", "k3: seq 2 after seq 4")
    assert "I2 per-key order: FAILED" in str(report)
    with pytest.raises(InvariantViolation):
        report.raise_if_failed()


def test_key_order_allows_gaps_and_ignores_redelivered_duplicates():
    rows = [("k4", 1), ("k4", 3), ("k4", 3), ("k4", 1), ("k4", 4)]
    assert check_key_order(output(rows)).ok
    assert key_sequences(output(rows)) == {"k4": [1, 3, 4]}


def test_bounded_retries_counts_handler_calls_output_attempts_and_error_topic_attempts():
    src = source(EVENTS)
    assert check_bounded_retries({"k1-1": 3}, max_attempts=3).ok
    report = check_bounded_retries({"k1-1": 4}, max_attempts=3, output=output([("k1", 2)], attempt=4),
                                   dead_letters=[dead_letter(src[0], attempts=5)])
    assert len(report.problems) == 3
    assert report.metrics["most_attempts"] == 4


def test_retry_delays_are_checked_per_level():
    log = [Attempt("a", "k", 1, "transient", 10.0), Attempt("a", "k", 2, "transient", 10.5),
           Attempt("a", "k", 3, "ok", 11.6), Attempt("b", "k", 1, "ok", 10.1)]
    assert check_retry_delays(log, delays=[0.5, 1.0]).ok
    report = check_retry_delays(log, delays=[0.5, 2.0])
    assert report.problems == ("a: retry 2 came 1.100 s after the previous try (delay 2.0 s)",)


def test_liveness_fails_when_a_healthy_key_went_through_the_retry_app():
    src = source(events("k1-1", "k3-1"))
    assert check_liveness(src, output([("k1", 1)]) + output([("k3", 1)], via="retry"), failing_keys=["k3"]).ok
    report = check_liveness(src, output([("k1", 1)], via="retry"), failing_keys=["k3"])
    assert report.problems == ("k1-1 of a healthy key was held back (processed by the retry app)",)
    assert not check_liveness(src, [], failing_keys=["k3"]).ok
    assert not check_liveness(src, output([("k1", 1)], ts=9000), failing_keys=["k3"], within=1.0).ok


def test_store_must_equal_the_compacted_redirect_topic_and_be_empty_at_rest():
    redirect = [Message("r", 0, 0, b"m/0/1", lock_value("k3", ("m", 0, 1)), {}, 0),
                Message("r", 0, 1, b"m/0/1", None, {}, 0)]
    assert check_store_matches_redirect({}, redirect).ok
    report = check_store_matches_redirect({"m/0/1": "k3"}, redirect)
    assert report.problems == ("m/0/1: store has 'k3', redirect topic has None",)
    locked = redirect[:1]
    assert check_store_matches_redirect({"m/0/1": "k3"}, locked, expect_empty=False).ok
    assert not check_store_matches_redirect({"m/0/1": "k3"}, locked).ok


def test_stop_on_error_needs_the_commit_at_the_failing_offset_and_nothing_past_it():
    src = source(EVENTS)
    assert check_stop_on_error(src, output([("k1", 1), ("k2", 1)]), committed=2, failing_offset=2).ok
    report = check_stop_on_error(src, output([("k1", 1), ("k2", 2)]), committed=3, failing_offset=2)
    assert report.problems == ("committed offset is 3, the failing record is at 2",
                               "k2-2 (offset 3) was processed past the failing record",
                               "k2-1 (offset 1) before the failing record was not processed")


def test_dead_letter_headers_must_name_origin_error_attempts_and_time():
    src = source(EVENTS)
    good = dead_letter(src[1], attempts=2)
    assert check_dead_letter_headers([good], src).ok
    missing = Message("err", 0, 1, b"k1", src[0].value, {hdr.ORIGINAL_TOPIC: "main"}, 0)
    wrong_value = Message("err", 0, 2, src[0].key, b"other", dict(good.headers), 0)
    report = check_dead_letter_headers([missing, wrong_value], src)
    assert len(report.problems) == 2
    assert "lacks labkit.original.partition" in report.problems[0]
    assert "does not carry the original key and value" in report.problems[1]


def test_reports_render_as_one_line_when_ok_and_as_a_frame():
    ok = Report("I1 no loss", True)
    assert str(ok) == repr(ok) == "I1 no loss: OK"
    many = Report("I2", False, tuple(f"p{n}" for n in range(12)))
    assert "… and 2 more" in str(many)
    frame = reports_frame([ok, many])
    assert list(frame["ok"]) == [True, False] and list(frame["problems"]) == [0, 12]
