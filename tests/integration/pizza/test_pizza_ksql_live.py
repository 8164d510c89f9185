"""The ksqlDB view of the pizza flow on a live engine process: pull and push queries over the order table."""
from __future__ import annotations

import uuid

import pytest

from labkit.cluster.engine_process import EngineProcess
from labkit.ksql import KsqlClient
from labkit.pizza import wait_until
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
        ksql_view.create_order_status_view(client, topics=shop.topics, fresh=True)
        yield client
        ksql_view.drop_order_status_view(client)


def test_pull_query_counts_an_orders_finished_pizzas(ksql, shop):
    order_id = shop.order(3)
    shop.wait(order_id)

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


def test_the_table_counts_orders_placed_before_it_existed_and_each_pizza_once(engine, shop):
    earlier = shop.order(2)
    shop.wait(earlier)
    with KsqlClient(engine.settings.ksql_url, timeout=30) as client:
        ksql_view.create_order_status_view(client, topics=shop.topics, fresh=True)
        try:
            wait_until(lambda: list(ksql_view.order_status(earlier, client)["FINISHED"]) == [2], timeout=30,
                       what="the new table to count the earlier order's 2 pizzas")
            with ksql_view.order_status_rows(client, timeout=30) as rows:
                replayed = next(row for row in rows if row["ORDER_ID"] == earlier and row["FINISHED"] == 2)
        finally:
            dropped = ksql_view.drop_order_status_view(client)
    assert replayed == {"ORDER_ID": earlier, "FINISHED": 2}
    assert [answer[0]["commandStatus"]["status"] for answer in dropped] == ["SUCCESS", "SUCCESS"]
