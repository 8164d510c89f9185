"""labkit.patterns: the public names are pinned, every module's examples run, modules stay small."""
import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import labkit.patterns as patterns

MODULES = sorted(m.name for m in pkgutil.iter_modules(patterns.__path__))


def test_public_names_are_pinned():
    assert patterns.__all__ == sorted(patterns.__all__)
    assert set(patterns.__all__) == {
        "BEFORE_COMMIT", "BETWEEN_OUTPUT_AND_TOMBSTONE", "BETWEEN_REDIRECT_AND_RETRY", "DeadLetterConsumer",
        "DeadLetterWriter", "Event", "Failure", "FaultInjector", "InjectedCrash", "InvalidRecordError",
        "InvariantViolation", "Message", "OrderedMainApp", "OrderedRetryApp", "PatternApp", "PatternError",
        "PatternTopics", "PermanentError", "PoisonRecordError", "ProcessingError", "RecoveryError",
        "RedirectStore", "Results", "RetryApp", "RetryLevel", "RetryPolicy", "RetryingConsumer", "RunStats",
        "StopOnErrorConsumer", "StoppedOnError", "TransientError", "UndecodableRecordError", "compacted_view",
        "decode_event", "echo_handler", "make_events", "message_id", "produce_events", "read_topic", "send_all",
        "wait_until"}
    for name in patterns.__all__:
        assert hasattr(patterns, name), name


def test_errors_derive_from_labkit_error():
    from labkit.errors import LabkitError

    for name in ("PatternError", "TransientError", "PermanentError", "StoppedOnError", "InjectedCrash",
                 "InvariantViolation", "RecoveryError", "UndecodableRecordError", "InvalidRecordError"):
        assert issubclass(getattr(patterns, name), LabkitError)


@pytest.mark.parametrize("module", MODULES)
def test_module_examples_run(module):
    loaded = importlib.import_module(f"labkit.patterns.{module}")
    result = doctest.testmod(loaded, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("module", MODULES)
def test_modules_do_one_job_in_under_400_lines(module):
    lines = (Path(patterns.__path__[0]) / f"{module}.py").read_text().count("\n")
    assert lines <= 400, f"{module}.py has {lines} lines; split it"
