"""Run one QTT case against a ConformanceDriver, as ksqlDB's TestExecutor does."""
from __future__ import annotations

from dataclasses import dataclass

from labkit.conformance.cases import Case
from labkit.conformance.compare import outputs_mismatch, post_mismatch
from labkit.conformance.driver import DriverFactory, TestRecord
from labkit.errors import LabkitError

HARNESS_PROPERTIES = {
    "auto.offset.reset": "earliest",
    "cache.max.bytes.buffering": 0,
    "ksql.service.id": "some.ksql.service.id",
}


@dataclass(frozen=True)
class Outcome:
    """The result of one case variant."""

    status: str  # "pass", "fail" or "skip"
    reason: str = ""


def _expected_message(case: Case) -> str | None:
    expected = case.expected_exception or {}
    return expected.get("message")


def _record(raw: dict) -> TestRecord:
    return TestRecord(topic=raw["topic"], key=raw.get("key"), value=raw.get("value"),
                      timestamp=raw.get("timestamp", 0), window=raw.get("window"), headers=raw.get("headers") or [])


def run_qtt_case(case: Case, make_driver: DriverFactory) -> Outcome:
    """Execute statements, pipe inputs, compare outputs and post-conditions."""
    if case.skip_reason:
        return Outcome("skip", case.skip_reason)
    properties = {**HARNESS_PROPERTIES, **case.properties}
    driver = make_driver(properties)
    try:
        for topic in case.topics:
            driver.create_topic(topic["name"], partitions=topic.get("partitions", 1),
                                key_format=_fmt(topic.get("keyFormat")), value_format=_fmt(topic.get("valueFormat")))
        try:
            for statement in case.statements:
                driver.execute(statement)
            for raw in case.inputs:
                driver.produce(_record(raw))
        except LabkitError as error:
            expected = _expected_message(case)
            if case.expected_exception is None:
                return Outcome("fail", f"unexpected error: {_one_line(str(error))}")
            if expected is not None and expected not in str(error):
                return Outcome("fail", f"expected error containing {expected!r}, got {_one_line(str(error))!r}")
            return Outcome("pass")
        if case.expected_exception is not None:
            return Outcome("fail", f"expected an error ({_expected_message(case)!r}) but the case ran")
        produced = {topic: driver.produced(topic) for topic in {o["topic"] for o in case.outputs}}
        problem = outputs_mismatch(case.outputs, produced) or post_mismatch(case.post, driver)
        return Outcome("fail", problem) if problem else Outcome("pass")
    except Exception as error:  # an engine bug: report it as this case's failure, keep running the suite
        return Outcome("fail", f"engine crashed: {type(error).__name__}: {_one_line(str(error))}")
    finally:
        driver.close()


def _fmt(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("format")
    return str(value)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
