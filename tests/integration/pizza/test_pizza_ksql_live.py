"""The ksqlDB view of the pizza flow on a live engine process: pull and push queries over the order table.

Skips, saying why, while the engine cannot run the statements (labkit's engine has no aggregations yet).
"""
from __future__ import annotations

import uuid

import pytest

from labkit.cluster.engine_process import EngineProcess
from labkit.ksql import KsqlClient, KsqlResponseError
from labkit.pizza import EngineRequiredError, wait_until
from labkit.pizza import ksql_view
from labkit.topics import admin_client, delete_topics
from labkit.widgets import LiveQueryView


@pytest.fixture(scope="module")
def engine(shop, settings, tmp_path_factory):
    """An engine process of its own (run dir, port, service id), so the workbook's engine is not touched."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    own = settings.with_overrides(run_dir=tmp_path_factory.mktemp("pizza-engine"), ksql_url=f"http://127.0.0.1:{port}",
                                  ksql_service_id=f"t{uuid.uuid4().hex[:8]}_")
    process = EngineProcess(own)
    process.up(timeout=120)
    yield process
    process.down()
    with admin_client(settings) as admin:  # the engine's command topic and processing log
        leftovers = [t for t in admin.list_topics() if own.ksql_service_id in t]
    delete_topics(leftovers, settings=settings)


@pytest.fixture
def ksql(engine, shop):
    with KsqlClient(engine.settings.ksql_url, timeout=30) as client:
        try:
            ksql_view.create_order_status_view(client, topics=shop.topics)
        except EngineRequiredError as error:
            pytest.skip(f"ENGINE: {error}")
        yield client


def test_pull_query_counts_an_orders_finished_pizzas(ksql, shop):
    order_id = shop.order(3)
    shop.wait(order_id)
    try:
        ksql_view.order_status(order_id, ksql)
    except KsqlResponseError as error:
        if "not supported yet" in error.message:
            pytest.skip(f"ENGINE: {error.message}")
        raise

    def counted() -> bool:
        frame = ksql_view.order_status(order_id, ksql)
        return len(frame) == 1 and frame.iloc[0]["FINISHED"] == 3

    wait_until(counted, timeout=30, what="the table to count 3 pizzas")
    frame = ksql_view.order_status(order_id, ksql)
    assert list(frame["ORDER_ID"]) == [order_id] and list(frame.columns) == ["ORDER_ID", "FINISHED"]


def test_push_query_rows_show_in_the_live_view(ksql, shop):
    rows = ksql_view.order_status_rows(ksql, timeout=30)
    view = LiveQueryView(rows, key="ORDER_ID", title="ksql order status", on_stop=rows.close)
    try:
        order_id = shop.order(2)
        shop.wait(order_id)
        wait_until(lambda: any(r.get("ORDER_ID") == order_id and r.get("FINISHED") == 2
                               for r in view.snapshot()["rows"]), timeout=30, what="the push query's row")
    finally:
        view.stop()
    assert not view.running
