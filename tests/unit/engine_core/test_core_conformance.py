"""labkit's own conformance cases (ksqlDB's QTT format, tests/conformance/cases) pass through the runner.

Also pins the names the runtime and REST integration use, and runs the docstring examples.
"""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from labkit.conformance.cases import discover, load_cases
from labkit.conformance.qtt import run_qtt_case
from labkit.engine.testing import make_driver

CASES_DIR = Path(__file__).resolve().parents[2] / "conformance" / "cases"
CASES = [case for path in discover([CASES_DIR]) for case in load_cases(path, "qtt")]


def test_there_are_at_least_a_hundred_own_cases() -> None:
    assert len(CASES) >= 100
    assert not [c.full_name for c in CASES if c.skip_reason]


@pytest.mark.parametrize("case", CASES, ids=[c.full_name for c in CASES])
def test_own_case_passes(case) -> None:  # type: ignore[no-untyped-def]
    outcome = run_qtt_case(case, make_driver)
    assert outcome.status == "pass", outcome.reason


@pytest.mark.parametrize("module", ["labkit.engine.engine", "labkit.engine.testing", "labkit.engine.compile",
                                    "labkit.engine.topics"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_runtime_integration_api_is_pinned() -> None:
    from labkit.engine import runtime, steps, topics

    assert sorted(topics.__all__) == sorted(["TopicRecord", "TopicDescription", "TopicStore", "InMemoryTopicStore",
                                             "TopicStoreError", "murmur2_partition", "HIDDEN_TOPIC_PREFIXES",
                                             "SandboxTopicStore"])
    assert {"PersistentQuery", "QueryRuntime", "QueryFailedError"} <= set(runtime.__all__)
    assert {"BuildContext", "ExecutionStep", "SourceStep", "SinkStep", "Row"} <= set(steps.__all__)
