"""The ksqlDB view of the pizza flow: the statements, and EngineRequiredError when no engine can run them."""
from __future__ import annotations

import pytest

from labkit.errors import LabkitError
from labkit.ksql import KsqlClient, KsqlConnectionError, KsqlResponseError
from labkit.pizza import ksql_view
from labkit.pizza.errors import EngineRequiredError
from labkit.pizza.topics import PizzaTopics


def test_statements_read_the_finished_pizza_topic_and_count_per_order():
    stream, table = ksql_view.statements(PizzaTopics(prefix="t-"))
    assert "kafka_topic='t-pizza-with-veggies'" in stream and "value_format='json'" in stream
    assert "COUNT_DISTINCT(number)" in table and "GROUP BY order_id" in table


def test_pull_query_quotes_the_order_id():
    assert ksql_view.pull_query("it's") == ("SELECT order_id, finished FROM pizza_order_status "
                                            "WHERE order_id = 'it''s';")


def test_without_a_server_the_view_needs_the_ksqldb_engine():
    with KsqlClient("http://127.0.0.1:9", timeout=2) as client:  # nothing listens on the discard port
        with pytest.raises(EngineRequiredError, match="needs the ksqlDB engine, and none answers") as caught:
            ksql_view.create_order_status_view(client)
    assert isinstance(caught.value, LabkitError)


class FakeClient:
    url = "http://fake"

    def __init__(self, error=None):
        self.error = error
        self.executed = []
        self.properties = []

    def execute(self, statement, properties=None):
        if self.error:
            raise self.error
        self.executed.append(statement)
        self.properties.append(properties)
        return [{"commandStatus": {"status": "SUCCESS"}}]

    def pull(self, sql):
        raise self.error


def server_error(code: int) -> KsqlResponseError:
    return KsqlResponseError(code, "No module named 'labkit.engine.aggregates'", "CREATE TABLE …", status_code=500)


def test_a_server_that_cannot_run_the_statements_also_needs_the_engine():
    with pytest.raises(EngineRequiredError, match="cannot run it yet: No module named"):
        ksql_view.create_order_status_view(FakeClient(server_error(50000)))


def test_statement_errors_of_a_working_server_stay_ksql_errors():
    with pytest.raises(KsqlResponseError):
        ksql_view.create_order_status_view(FakeClient(server_error(40001)))
    with pytest.raises(EngineRequiredError):
        ksql_view.order_status("1", FakeClient(KsqlConnectionError("refused")))


def test_a_working_server_gets_both_statements():
    client = FakeClient()
    answers = ksql_view.create_order_status_view(client, topics=PizzaTopics(prefix="t-"))
    assert len(answers) == 2 and client.executed == ksql_view.statements(PizzaTopics(prefix="t-"))


def test_the_table_counts_the_pizzas_already_in_the_topic_unless_told_otherwise():
    client = FakeClient()
    ksql_view.create_order_status_view(client)
    assert client.properties == [{"auto.offset.reset": "earliest"}] * 2
    later = FakeClient()
    ksql_view.create_order_status_view(later, from_beginning=False)
    assert later.properties == [None, None]


def test_fresh_drops_the_table_with_its_topic_before_the_stream_then_creates_both():
    client = FakeClient()
    ksql_view.create_order_status_view(client, fresh=True)
    drop_table, drop_stream, create_stream, create_table = client.executed
    assert drop_table == "DROP TABLE IF EXISTS pizza_order_status DELETE TOPIC;"
    assert drop_stream == "DROP STREAM IF EXISTS pizza_with_veggies;"  # the pipeline's topic stays
    assert [create_stream, create_table] == ksql_view.statements()
    assert client.properties[:2] == [None, None]


def test_drop_order_status_view_runs_the_drop_statements():
    client = FakeClient()
    ksql_view.drop_order_status_view(client)
    assert client.executed == ksql_view.drop_statements()
