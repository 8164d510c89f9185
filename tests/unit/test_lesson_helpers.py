"""labkit.lesson_helpers: engine check, /ksql answers as tables, clean-up, the ksqlDB image's env-var rule.

The HTTP tests serve labkit's in-memory ksqlDB engine (or a scripted health report) on 127.0.0.1 with a random
port; no Kafka is needed.
"""
from __future__ import annotations

import logging
import socket

import pandas as pd
import pytest

from labkit import lesson_helpers as lh
from labkit.ksql import KsqlClient, KsqlResponseError
from labkit.server import BackgroundServer
from labkit.server.protocol import HealthStatus

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def served_engine():
    from labkit.engine.command_topic import CommandTopic
    from labkit.engine.engine import KsqlEngine
    from labkit.engine.server_adapter import SERVER_DEFAULTS, ServerEngine
    from labkit.engine.topics import InMemoryTopicStore

    store = InMemoryTopicStore()
    service = ServerEngine(KsqlEngine(store, dict(SERVER_DEFAULTS)), commands=CommandTopic(store)).start()
    with BackgroundServer(service, poll_interval=0.05) as server:
        yield server
    service.close()


@pytest.fixture
def client(served_engine):
    with KsqlClient(served_engine.url, timeout=10) as ksql_client:
        yield ksql_client


class _Health:
    """Just enough of an engine for /healthcheck."""

    def __init__(self, status: HealthStatus) -> None:
        self.status = status

    def health(self) -> HealthStatus:
        return self.status


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------- health

def test_require_ksqldb_reports_a_healthy_server(served_engine):
    assert lh.require_ksqldb(served_engine.url) == (
        f"ksqlDB is up at {served_engine.url}: healthy, serverState READY.")


def test_require_ksqldb_says_how_to_start_when_nothing_answers():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(lh.KsqlNotReadyError) as caught:
        lh.require_ksqldb(url, timeout=2)
    assert f"No ksqlDB server answers at {url}" in str(caught.value)
    assert "labkit up" in str(caught.value) and "labkit status" in str(caught.value)


def test_require_ksqldb_names_the_unhealthy_part():
    sick = HealthStatus(False, {"metastore": True, "kafka": False, "commandRunner": True}, "READY")
    with BackgroundServer(_Health(sick), poll_interval=0.05) as server:
        with pytest.raises(lh.KsqlNotReadyError) as caught:
            lh.require_ksqldb(server.url)
    assert "not healthy" in str(caught.value) and "unhealthy: kafka" in str(caught.value)


# ---------------------------------------------------------------------------------------------- frame

def test_frame_of_create_and_drop_is_the_status_message(client):
    created = client.execute("CREATE STREAM lh_one (id INT KEY, name VARCHAR) "
                             "WITH (kafka_topic='lh-one', value_format='json', partitions=2);")
    assert lh.frame(created) == "Stream created"
    assert lh.frame(client.execute("DROP STREAM lh_one DELETE TOPIC;")) == \
        "Source `LH_ONE` (topic: lh-one) was dropped."


def test_frame_lists_describes_and_topics_are_sorted_tables(client):
    client.execute("CREATE STREAM lh_b (id INT KEY, tags ARRAY<VARCHAR>) "
                   "WITH (kafka_topic='lh-b', value_format='json', partitions=3);"
                   "CREATE STREAM lh_a (v DOUBLE) WITH (kafka_topic='lh-a', value_format='json', partitions=1);")
    try:
        streams = lh.frame(client.execute("SHOW STREAMS;"))
        ours = streams[streams["name"].str.startswith("LH_")]
        assert list(ours["name"]) == ["LH_A", "LH_B"]
        assert list(streams.columns) == ["name", "topic", "keyFormat", "valueFormat", "isWindowed"]

        described = lh.frame(client.execute("DESCRIBE lh_b;"))
        assert described.to_dict("records") == [{"column": "ID", "type": "INTEGER", "key": "KEY"},
                                               {"column": "TAGS", "type": "ARRAY<STRING>", "key": ""}]

        topics = lh.frame(client.execute("SHOW TOPICS;"))
        assert topics[topics["name"] == "lh-b"][["partitions", "replicas"]].values.tolist() == [[3, 1]]

        extended = lh.frame(client.execute("SHOW STREAMS EXTENDED;"))
        row = extended[extended["name"] == "LH_B"].iloc[0]
        assert (row["topic"], row["partitions"], row["columns"]) == ("lh-b", 3, "ID, TAGS")

        two = lh.frame(client.execute("SHOW TABLES; SHOW QUERIES;"))
        assert isinstance(two, list) and len(two) == 2 and all(isinstance(t, pd.DataFrame) for t in two)
    finally:
        client.execute("DROP STREAM IF EXISTS lh_a DELETE TOPIC; DROP STREAM IF EXISTS lh_b DELETE TOPIC;")


def test_frame_properties_has_name_scope_value(client):
    table = lh.frame(client.execute("SHOW PROPERTIES;"))
    assert list(table.columns) == ["name", "scope", "value"]
    assert table.set_index("name").loc["ksql.service.id", "value"] == "default_"
    assert list(table["name"]) == sorted(table["name"])


def test_frame_rejects_what_is_not_an_entity():
    with pytest.raises(TypeError):
        lh.frame("SHOW STREAMS;")


def test_frame_of_hand_written_entities():
    topics = {"@type": "kafka_topics_extended", "statementText": "SHOW TOPICS EXTENDED;", "warnings": [],
              "topics": [{"name": "b", "replicaInfo": [3, 3], "consumerCount": 1, "consumerGroupCount": 1},
                         {"name": "a", "replicaInfo": [1], "consumerCount": 0, "consumerGroupCount": 0}]}
    table = lh.frame(topics)
    assert table.to_dict("records") == [
        {"name": "a", "partitions": 1, "replicas": 1, "consumerCount": 0, "consumerGroupCount": 0},
        {"name": "b", "partitions": 2, "replicas": 3, "consumerCount": 1, "consumerGroupCount": 1}]
    queries = {"@type": "queries", "queries": [
        {"id": "CSAS_B_3", "queryType": "PERSISTENT", "state": "RUNNING", "sinks": ["B"]},
        {"id": "CSAS_A_2", "queryType": "PERSISTENT", "state": "RUNNING", "sinks": ["A"]}]}
    assert list(lh.frame(queries)["id"]) == ["CSAS_A_2", "CSAS_B_3"]
    warning = {"@type": "warning_entity", "message": "Cannot add stream `S`: A stream with the same name "
                                                    "already exists.", "warnings": []}
    assert lh.frame(warning).startswith("Cannot add stream")


# ---------------------------------------------------------------------------------------------- errors

def test_error_of_returns_ksqldbs_error(client):
    error = lh.error_of(client.execute, "DROP STREAMS nothing;")
    assert isinstance(error, KsqlResponseError) and error.error_code == 40001


def test_error_of_fails_when_the_statement_works(client):
    with pytest.raises(AssertionError, match="expected ksqlDB to refuse"):
        lh.error_of(client.execute, "SHOW STREAMS;")


# ---------------------------------------------------------------------------------------------- clean up

def test_drop_sources_drops_what_exists_in_order_and_skips_the_rest(client):
    client.execute("CREATE STREAM lh_src (id INT KEY, v INT) "
                   "WITH (kafka_topic='lh-src', value_format='json', partitions=1);"
                   "CREATE TABLE lh_tab (id INT PRIMARY KEY, v INT) "
                   "WITH (kafka_topic='lh-tab', value_format='json', partitions=1);"
                   "CREATE STREAM lh_derived AS SELECT * FROM lh_src;")
    messages = lh.drop_sources(client, ["lh_derived", "lh_tab", "lh_src", "lh_missing"])
    assert messages == ["Source `LH_DERIVED` (topic: LH_DERIVED) was dropped.",
                        "Source `LH_TAB` (topic: lh-tab) was dropped.",
                        "Source `LH_SRC` (topic: lh-src) was dropped."]
    names = set(lh.frame(client.execute("SHOW STREAMS;"))["name"]) | set(
        lh.frame(client.execute("SHOW TABLES;"))["name"])
    assert not {"LH_DERIVED", "LH_TAB", "LH_SRC"} & names
    assert lh.drop_sources(client, ["lh_src"]) == []


def test_drop_sources_keeps_quoted_names(client):
    client.execute("CREATE STREAM `lh_Mixed` (v INT) WITH (kafka_topic='lh-mixed', value_format='json', "
                   "partitions=1);")
    assert lh.drop_sources(client, ["`lh_Mixed`"], delete_topic=False) == [
        "Source `lh_Mixed` (topic: lh-mixed) was dropped."]


# ---------------------------------------------------------------------------------------------- env vars

@pytest.mark.parametrize("prop, env", [
    ("bootstrap.servers", "KSQL_BOOTSTRAP_SERVERS"),
    ("listeners", "KSQL_LISTENERS"),
    ("ksql.connect.url", "KSQL_KSQL_CONNECT_URL"),
    ("ksql.streams.auto.offset.reset", "KSQL_KSQL_STREAMS_AUTO_OFFSET_RESET"),
    ("ksql.logging.processing.stream.auto.create", "KSQL_KSQL_LOGGING_PROCESSING_STREAM_AUTO_CREATE"),
    ("ksql.service.id", "KSQL_KSQL_SERVICE_ID"),
    ("ksql.internal.topic.replicas", "KSQL_KSQL_INTERNAL_TOPIC_REPLICAS"),
    ("ksql.streams.state_dir", "KSQL_KSQL_STREAMS_STATE__DIR"),
    ("confluent.support.customer-id", "KSQL_CONFLUENT_SUPPORT_CUSTOMER___ID"),
])
def test_env_var_rule_both_ways(prop, env):
    assert lh.env_var_for(prop) == env
    assert lh.property_for(env) == prop


def test_env_var_rule_rejects_other_variables():
    with pytest.raises(ValueError):
        lh.property_for("BOOTSTRAP_SERVERS")
    with pytest.raises(ValueError):
        lh.env_var_for("")


# ---------------------------------------------------------------------------------------------- logs

def test_log_recorder_catches_one_loggers_warnings_and_restores_it():
    # as in a lesson: require_cluster() silenced the parent ("kafka"); the recorder listens below it
    parent = logging.getLogger("labkit.test")
    parent.setLevel(logging.CRITICAL)
    recorder = lh.LogRecorder("labkit.test.producer", contains="Idempotence")
    child = logging.getLogger("labkit.test.producer.kafka")
    child.warning("Idempotence will be disabled: acks=0")
    child.warning("unrelated chatter")
    child.info("Idempotence info is below the level")
    assert recorder.stop() == ["Idempotence will be disabled: acks=0"]
    restored = logging.getLogger("labkit.test.producer")
    assert restored.level == logging.NOTSET and restored.propagate is True
    assert restored.getEffectiveLevel() == logging.CRITICAL


# ---------------------------------------------------------------------------------------------- pull_until

def test_pull_until_returns_once_the_rows_are_there(client):
    client.execute("CREATE STREAM lh_wait (id INT KEY, v INT) "
                   "WITH (kafka_topic='lh-wait', value_format='json', partitions=1);")
    try:
        client.execute("INSERT INTO lh_wait (id, v) VALUES (1, 10); INSERT INTO lh_wait (id, v) VALUES (2, 20);")
        rows = lh.pull_until(client, "SELECT * FROM lh_wait;", 2, timeout=10)
        assert sorted(rows["ID"]) == [1, 2]
        rows = lh.pull_until(client, "SELECT * FROM lh_wait;", lambda r: 20 in set(r["V"]), timeout=10)
        assert len(rows) == 2
        with pytest.raises(TimeoutError, match="still returned 2 row"):
            lh.pull_until(client, "SELECT * FROM lh_wait;", 3, timeout=0.3, interval=0.1)
    finally:
        client.execute("DROP STREAM IF EXISTS lh_wait DELETE TOPIC;")


def test_wait_until_returns_the_first_true_result_or_times_out():
    calls = iter([0, None, "done"])
    assert lh.wait_until(lambda: next(calls), timeout=5, interval=0.01) == "done"
    with pytest.raises(TimeoutError, match="Waited 0.05 s for nothing to happen"):
        lh.wait_until(lambda: False, timeout=0.05, interval=0.01, what="nothing to happen")


def test_drop_sources_cascades_to_what_reads_the_source(client):
    client.execute("CREATE STREAM lh_base (id INT KEY, v INT) "
                   "WITH (kafka_topic='lh-base', value_format='json', partitions=1);"
                   "CREATE STREAM lh_child AS SELECT * FROM lh_base;"
                   "CREATE STREAM lh_grandchild AS SELECT * FROM lh_child;"
                   "CREATE STREAM lh_other (id INT KEY, v INT) "
                   "WITH (kafka_topic='lh-other', value_format='json', partitions=1);"
                   "INSERT INTO lh_other SELECT * FROM lh_base;")
    try:
        refused = lh.error_of(lh.drop_sources, client, ["lh_base"], cascade=False)
        assert "Cannot drop LH_BASE" in refused.message
        messages = lh.drop_sources(client, ["lh_base"], delete_topic=False)
        assert messages[:2] == ["Source `LH_GRANDCHILD` (topic: LH_GRANDCHILD) was dropped.",
                                "Source `LH_CHILD` (topic: LH_CHILD) was dropped."]
        assert messages[-1] == "Source `LH_BASE` (topic: lh-base) was dropped."
        assert len(messages) == 4  # ... and the INSERT INTO query was terminated
        names = set(lh.frame(client.execute("SHOW STREAMS;"))["name"])
        assert not {"LH_BASE", "LH_CHILD", "LH_GRANDCHILD"} & names and "LH_OTHER" in names
        assert not [q for q in client.execute("SHOW QUERIES;")[0]["queries"] if "LH_" in q["queryString"].upper()]
    finally:
        client.execute("DROP STREAM IF EXISTS lh_other DELETE TOPIC;")


# ---------------------------------------------------------------------------------------------- topics (Kafka)

@pytest.fixture(scope="module")
def kafka():
    from labkit import config
    from labkit.cluster.health import kafka_reachable

    settings = config.settings()
    if not kafka_reachable(settings):
        pytest.skip("needs the Kafka cluster (labkit up)")
    return settings


@pytest.mark.integration
def test_fresh_topics_recreates_empty_in_sync_topics_and_delete_topics_waits(kafka):
    from labkit import data, topics

    name = "lesson-helpers-test-fresh"
    try:
        assert lh.fresh_topics([name], partitions=2, replicas=3) == [name]
        data.produce(name, [{"n": 1}, {"n": 2}])
        assert topics.message_count(name) == 2
        lh.fresh_topics([name], partitions=1, replicas=3)
        described = topics.describe_topic(name)
        assert len(described) == 1 and all(len(isr) == 3 for isr in described["in_sync"])
        assert topics.message_count(name) == 0
    finally:
        assert lh.delete_topics([name, "lesson-helpers-test-never-existed"]) == [name]
    assert lh.delete_topics([name]) == []


def test_query_consumer_group_is_named_as_ksqldb_names_it():
    assert lh.query_consumer_group("CTAS_CLICKS_7") == "_confluent-ksql-default_query_CTAS_CLICKS_7"
    assert lh.query_consumer_group("CSAS_X_1", "lab_") == "_confluent-ksql-lab_query_CSAS_X_1"


@pytest.mark.integration
def test_committed_records_sums_the_query_groups_committed_offsets(kafka):
    import uuid

    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    from labkit import data

    name = f"lesson-helpers-test-offsets-{uuid.uuid4().hex[:6]}"
    query_id = f"CTAS_LESSON_HELPERS_{uuid.uuid4().hex[:6].upper()}_1"
    group = lh.query_consumer_group(query_id, kafka.ksql_service_id)
    try:
        lh.fresh_topics([name], partitions=2, replicas=3)
        data.produce(name, [{"n": n} for n in range(5)])
        assert lh.committed_records(query_id, name) == 0  # nothing committed yet
        consumer = KafkaConsumer(**kafka.kafka_client_config(), group_id=group, enable_auto_commit=False)
        try:
            consumer.commit({TopicPartition(name, 0): OffsetAndMetadata(2, "", -1),
                             TopicPartition(name, 1): OffsetAndMetadata(1, "", -1)})
        finally:
            consumer.close()
        assert lh.committed_records(query_id, name) == 3
        assert lh.committed_records(query_id, "lesson-helpers-test-other-topic") == 0
    finally:
        lh.delete_topics([name])
        admin = KafkaAdminClient(**kafka.kafka_client_config())
        try:
            admin.delete_groups([group])
        finally:
            admin.close()
