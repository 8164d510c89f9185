"""`labkit pizza up|status|down` on the real cluster, and a service killed mid-order (SIGKILL) losing nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.pizza import OrderClient, wait_until
from labkit.pizza.processes import PizzaProcesses
from labkit.pizza.topics import PizzaTopics
from labkit.topics import message_count

LABKIT = [sys.executable, "-m", "labkit.cli"]


@pytest.fixture
def shop_env(cluster, settings, tmp_path, make_port, make_topics):
    """Environment and names for a `labkit pizza` run of its own (run directory, port, topic prefix)."""
    topics = make_topics()
    env = {**os.environ, "LABKIT_RUN_DIR": str(tmp_path), "LABKIT_PIZZA_URL": f"http://127.0.0.1:{make_port()}"}
    yield env, topics
    subprocess.run([*LABKIT, "pizza", "down"], env=env, capture_output=True, timeout=60)
    run_settings = settings.with_overrides(run_dir=tmp_path, pizza_url=env["LABKIT_PIZZA_URL"])
    PizzaProcesses(run_settings, topics=topics).delete_topics()


def labkit(env, topics: PizzaTopics, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LABKIT, "pizza", *args, "--topic-prefix", topics.prefix, "--seed", "6"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_up_status_down(shop_env):
    env, topics = shop_env
    up = labkit(env, topics, "up")
    assert up.returncode == 0, up.stderr
    assert "The pizza shop is open" in up.stdout
    status = labkit(env, topics, "status")
    assert status.returncode == 0 and status.stdout.count("running (pid") == 5 and "ready" in status.stdout
    assert labkit(env, topics, "up").returncode == 0  # up twice: nothing new started
    with OrderClient(env["LABKIT_PIZZA_URL"]) as client:
        assert client.wait(client.order(3)).status == "complete"
    down = labkit(env, topics, "down")
    assert down.returncode == 0 and "Stopping pizza services" in down.stdout
    assert labkit(env, topics, "status").returncode == 3
    logs = Path(env["LABKIT_RUN_DIR"]) / "pizza"
    assert {p.name for p in logs.glob("*.log")} == {f"{n}.log" for n in ("sauce", "cheese", "meats", "veggies",
                                                                          "orders")}
    assert not list(logs.glob("*.pid"))


def test_a_killed_service_loses_no_pizza_and_counts_none_twice(shop_env, settings):
    env, topics = shop_env
    run_settings = settings.with_overrides(run_dir=Path(env["LABKIT_RUN_DIR"]), pizza_url=env["LABKIT_PIZZA_URL"])
    shop = PizzaProcesses(run_settings, topics=topics, seed=6, work_seconds={"meats": 0.02})  # 1 s for 50
    with_meats = topics.name("pizza-with-meats")
    shop.up()
    try:
        with OrderClient(run_settings.pizza_url) as client:
            order_id = client.order(50)
            wait_until(lambda: message_count(with_meats, settings) >= 5, timeout=30, what="meats to be at work")
            assert shop.kill("meats")  # SIGKILL: no flush, no commit, no goodbye to the group
            sent_before_kill = message_count(with_meats, settings)
            assert sent_before_kill < 50 and client.get(order_id).status == "in progress"
            shop.start("meats")
            done = client.wait(order_id, timeout=90)
            assert done.count == 50 and [p.number for p in done.pizzas] == list(range(1, 51))
            assert all(p.meats for p in done.pizzas)
            # Pizzas sent before the kill but not committed are sent again; the order still counts 50.
            assert message_count(with_meats, settings) >= 50
            assert client.get(order_id).ready == 50
    finally:
        shop.down()
