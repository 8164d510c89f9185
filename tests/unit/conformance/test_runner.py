"""The conformance runner's own logic: variant expansion, skip rules, record and schema comparison."""
import decimal
import json

import pytest

from labkit.conformance.cases import expand, load_cases
from labkit.conformance.compare import normalize_schema, outputs_mismatch, post_mismatch, values_equal
from labkit.conformance.driver import TestRecord
from labkit.conformance.qtt import run_qtt_case
from labkit.errors import KsqlError


def test_format_variants_substitute_and_skip_schema_registry_formats():
    raw = {"name": "n", "format": ["AVRO", "JSON"], "statements": ["CREATE STREAM S (A INT) WITH (kafka_topic='t', value_format='{FORMAT}');"]}
    avro, js = expand(raw, kind="qtt", file="f")
    assert (avro.name, js.name) == ("n - AVRO", "n - JSON")
    assert "value_format='JSON'" in js.statements[0]
    assert avro.skip_reason.startswith("AVRO needs a schema registry") and js.skip_reason is None


def test_config_variants_substitute_the_property():
    raw = {"name": "n", "config": ["true", "false"], "properties": {"ksql.x": "{CONFIG}"}, "statements": []}
    first, second = expand(raw, kind="qtt", file="f")
    assert first.properties == {"ksql.x": "true"} and first.name == "n - ksql.x=true"
    assert second.properties == {"ksql.x": "false"}


def test_disabled_and_registered_schema_cases_are_skipped():
    assert expand({"name": "n", "enabled": False, "statements": []}, kind="qtt", file="f")[0].skip_reason == "disabled upstream"
    case = expand({"name": "n", "statements": [], "topics": [{"name": "t", "valueSchema": {}}]}, kind="qtt", file="f")[0]
    assert "schema registry" in case.skip_reason


def test_load_keeps_decimal_scale(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text('{"tests": [{"name": "d", "statements": [], "outputs": [{"topic": "T", "value": {"D": 1.10}}]}]}')
    (case,) = load_cases(path, "qtt")
    assert case.outputs[0]["value"]["D"] == decimal.Decimal("1.10")
    assert case.file == "cases" and case.full_name == "cases - d"


@pytest.mark.parametrize("expected, actual, same", [
    (1, 1, True), (1, 2, False), (1.0, 1.0000001, True), (1.0, 1.1, False),
    ({"A": 1}, {"A": 1}, True), ({"a": 1}, {"A": 1}, True), ({"A": 1}, {"A": 1, "B": 2}, False),
    ({"A": 1, "B": None}, {"A": 1}, True), ({"A": 1}, {"A": 1, "B": None}, True), ({"A": None}, {}, True),
    ([1, 2], [1, 2], True), ([1, 2], [2, 1], False), (True, 1, False), (None, None, True), ("x", None, False),
    (decimal.Decimal("1.10"), decimal.Decimal("1.1"), True),
])
def test_values_equal(expected, actual, same):
    assert values_equal(expected, actual) is same


def test_outputs_compared_per_topic_in_order_with_counts():
    produced = {"OUT": [TestRecord("OUT", 1, {"V": 1}, 0), TestRecord("OUT", 2, {"V": 2}, 5)]}
    ok = [{"topic": "OUT", "key": 1, "value": {"V": 1}}, {"topic": "OUT", "key": 2, "value": {"V": 2}, "timestamp": 5}]
    assert outputs_mismatch(ok, produced) is None
    assert "timestamp" in outputs_mismatch([ok[0], {**ok[1], "timestamp": 6}], produced)
    assert "expected 1 records, got 2" in outputs_mismatch(ok[:1], produced)
    assert "key" in outputs_mismatch(list(reversed(ok)), produced)


def test_schema_normalization_ignores_quotes_spacing_and_aliases():
    assert normalize_schema("`ID` INT KEY, name VARCHAR") == normalize_schema("ID INTEGER KEY, NAME STRING")
    assert normalize_schema("S STRUCT<A INT, B ARRAY<STRING>>") == ["S STRUCT<A INTEGER,B ARRAY<STRING>>"]
    assert normalize_schema("ID INT KEY") != normalize_schema("ID BIGINT KEY")
    assert normalize_schema("ID INT PRIMARY KEY, V INT") == normalize_schema("ID INT KEY, V INT")


class FakeDriver:
    """A stand-in engine that echoes inputs to OUT: enough to test the runner's control flow."""

    def __init__(self, properties, fail_on=None):
        self.properties, self.fail_on, self.out, self.closed = properties, fail_on, [], False

    def create_topic(self, name, **_):
        pass

    def execute(self, statement):
        if self.fail_on and self.fail_on in statement:
            raise KsqlError(40001, "Boom: " + statement, statement)
        return []

    def produce(self, record):
        self.out.append(TestRecord("OUT", record.key, record.value, record.timestamp))

    def produced(self, topic):
        return self.out if topic == "OUT" else []

    def source(self, name):
        return {"name": "OUT", "type": "stream", "schema": "K STRING KEY, V INT", "keyFormat": {"format": "KAFKA"},
                "valueFormat": "JSON"} if name == "OUT" else None

    def topic_names(self):
        return ["OUT", "x-repartition"]

    def topic_info(self, name):
        return {"name": name, "partitions": 1, "keyFormat": "KAFKA", "valueFormat": "JSON"}

    def close(self):
        self.closed = True


def _case(**fields):
    raw = {"name": "n", "statements": ["CREATE STREAM X"], **fields}
    return expand(json.loads(json.dumps(raw)), kind="qtt", file="f")[0]


def test_runner_passes_matching_outputs_and_applies_harness_properties():
    seen = {}

    def factory(props):
        seen.update(props)
        return FakeDriver(props)

    case = _case(inputs=[{"topic": "IN", "key": "a", "value": {"V": 1}}], outputs=[{"topic": "OUT", "key": "a", "value": {"V": 1}}])
    assert run_qtt_case(case, factory).status == "pass"
    assert seen["auto.offset.reset"] == "earliest"


def test_runner_fails_on_wrong_output_and_on_unexpected_success():
    case = _case(inputs=[{"topic": "IN", "key": "a", "value": {"V": 1}}], outputs=[{"topic": "OUT", "key": "a", "value": {"V": 2}}])
    outcome = run_qtt_case(case, FakeDriver)
    assert outcome.status == "fail" and "value" in outcome.reason
    outcome = run_qtt_case(_case(expectedException={"message": "Boom"}), FakeDriver)
    assert outcome.status == "fail" and "expected an error" in outcome.reason


def test_runner_matches_expected_error_by_substring():
    case = _case(expectedException={"message": "Boom: CREATE"})
    assert run_qtt_case(case, lambda p: FakeDriver(p, fail_on="CREATE")).status == "pass"
    case = _case(expectedException={"message": "something else"})
    assert run_qtt_case(case, lambda p: FakeDriver(p, fail_on="CREATE")).status == "fail"


def test_runner_reports_an_engine_crash_as_a_failure_and_closes_the_driver():
    drivers = []

    class Crashing(FakeDriver):
        def produce(self, record):
            raise ZeroDivisionError("bug")

    def factory(props):
        drivers.append(Crashing(props))
        return drivers[-1]

    outcome = run_qtt_case(_case(inputs=[{"topic": "IN", "value": {}}]), factory)
    assert outcome.status == "fail" and "engine crashed: ZeroDivisionError" in outcome.reason
    assert drivers[0].closed


def test_post_conditions():
    driver = FakeDriver({})
    assert post_mismatch({"sources": [{"name": "OUT", "type": "stream", "schema": "`K` STRING KEY, `V` INTEGER"}]}, driver) is None
    assert "does not exist" in post_mismatch({"sources": [{"name": "NOPE"}]}, driver)
    assert "schema" in post_mismatch({"sources": [{"name": "OUT", "schema": "K STRING KEY"}]}, driver)
    assert "blacklist" in post_mismatch({"topics": {"blacklist": ".*-repartition"}}, driver)


def test_rqtt_case_runs_through_the_http_layer_and_matches_partially():
    from labkit.conformance.rqtt import run_rqtt_case
    from labkit.engine.testing import make_driver

    raw = {"name": "push", "statements": [
        "CREATE STREAM INPUT (K STRING KEY, ID INT) WITH (kafka_topic='test_topic', value_format='JSON');",
        "SELECT K, ID FROM INPUT EMIT CHANGES LIMIT 2;"],
        "inputs": [{"topic": "test_topic", "key": "a", "value": {"id": 1}},
                   {"topic": "test_topic", "key": "b", "value": {"id": 2}}],
        "responses": [{"admin": {"@type": "currentStatus", "commandStatus": {"message|STARTS_WITH": "Stream"}}},
                      {"query": [{"header": {"schema": "`K` STRING, `ID` INTEGER"}},
                                 {"row": {"columns": ["b", 2]}}, {"row": {"columns": ["a", 1]}},
                                 {"finalMessage": "Limit Reached"}]}]}
    (case,) = expand(raw, kind="rqtt", file="f")
    assert run_rqtt_case(case, make_driver).status == "pass"
    wrong = dict(raw, responses=[raw["responses"][0], {"query": raw["responses"][1]["query"][:2]}])
    (case,) = expand(wrong, kind="rqtt", file="f")
    outcome = run_rqtt_case(case, make_driver)
    assert outcome.status == "fail" and "expected 2 elements" in outcome.reason
    error = {"name": "err", "statements": ["SELECT * FROM NOPE;"],
             "expectedError": {"type": "io.confluent.ksql.rest.entity.KsqlStatementErrorMessage",
                               "message": "NOPE does not exist", "status": 400}}
    (case,) = expand(error, kind="rqtt", file="f")
    assert run_rqtt_case(case, make_driver).status == "pass"


def _rqtt(raw: dict):  # type: ignore[no-untyped-def]
    from labkit.conformance.rqtt import run_rqtt_case
    from labkit.engine.testing import make_driver

    (case,) = expand(raw, kind="rqtt", file="f")
    return run_rqtt_case(case, make_driver)


def test_rqtt_produces_after_an_active_push_query_which_runs_as_a_scalable_one():
    raw = {"name": "spq", "statements": [
        "CREATE STREAM I (K STRING KEY, ID INT) WITH (kafka_topic='t', value_format='JSON', partitions=1);",
        "CREATE STREAM S AS SELECT * FROM I;", "SELECT ID FROM S EMIT CHANGES LIMIT 2;"],
        "inputs": [{"topic": "t", "key": "a", "value": {"id": 1}}, {"topic": "t", "key": "b", "value": {"id": 2}}],
        "inputConditions": {"waitForActivePushQuery": True}, "properties": {"auto.offset.reset": "latest"},
        "responses": [{"admin": {"@type": "currentStatus"}}, {"admin": {"@type": "currentStatus"}},
                      {"query": [{"header": {"schema": "`ID` INTEGER", "queryId|starts_with": "SCALABLE_PUSH_QUERY"}},
                                 {"row": {"columns": [1]}}, {"row": {"columns": [2]}},
                                 {"finalMessage": "Limit Reached"}]}]}
    assert _rqtt(raw).status == "pass"
    earliest = dict(raw, properties={"auto.offset.reset": "earliest"})  # not scalable: a transient_ id
    outcome = _rqtt(earliest)
    assert outcome.status == "fail" and "SCALABLE_PUSH_QUERY" in outcome.reason


def test_rqtt_topics_have_the_harness_default_partitions_and_kafka_placement():
    from labkit.engine.topics import murmur2_partition

    expected = murmur2_partition(b"x", 4)
    assert expected != 0  # else this test could not tell partition 0 from the hashed one
    raw = {"name": "parts", "statements": [
        "CREATE STREAM I (K STRING KEY, ID INT) WITH (kafka_topic='t', value_format='JSON');",
        "SELECT ROWPARTITION, ID FROM I EMIT CHANGES LIMIT 1;"],
        "inputs": [{"topic": "t", "key": "x", "value": {"id": 1}}],
        "responses": [{"admin": {"@type": "currentStatus"}},
                      {"query": [{"header": {"schema": "`ROWPARTITION` INTEGER, `ID` INTEGER"}},
                                 {"row": {"columns": [expected, 1]}}, {"finalMessage": "Limit Reached"}]}]}
    assert _rqtt(raw).status == "pass"


def test_rqtt_expected_error_that_upstream_never_checks_is_skipped_with_the_reason():
    raw = {"name": "unchecked", "statements": [
        "CREATE STREAM TEST (K INT KEY, ID INT) WITH (kafka_topic='t', value_format='JSON');",
        "INSERT INTO TEST (K, ID) VALUES (10, 5);"],
        "expectedError": {"message": "Expected K and ID to match", "status": 400}}
    outcome = _rqtt(raw)
    assert outcome.status == "skip" and "upstream does not check this expectedError" in outcome.reason
    queried = dict(raw, statements=[*raw["statements"], "SELECT * FROM TEST;"])  # a query answers: checked
    assert _rqtt(queried).status == "fail"
