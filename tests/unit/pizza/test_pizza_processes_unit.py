"""`labkit pizza`: command lines, PID files and the CLI, without starting anything."""
from __future__ import annotations

import sys

from labkit import cli, config
from labkit.pizza import __main__ as pizza_main
from labkit.pizza.processes import SERVICE_NAMES, PizzaProcesses
from labkit.pizza.topics import PizzaTopics


def test_each_service_runs_as_python_m_labkit_pizza(tmp_path):
    settings = config.settings({"LABKIT_RUN_DIR": str(tmp_path), "LABKIT_PIZZA_URL": "http://localhost:18123"})
    shop = PizzaProcesses(settings, topics=PizzaTopics(prefix="p-"), seed=6)
    assert SERVICE_NAMES == ("sauce", "cheese", "meats", "veggies", "orders")
    assert shop.command("sauce") == [sys.executable, "-m", "labkit.pizza", "run", "sauce", "--topic-prefix", "p-",
                                     "--seed", "6"]
    assert shop.command("orders")[-4:] == ["--port", "18123", "--host", "127.0.0.1"]
    assert shop.log_path("cheese") == tmp_path / "pizza" / "cheese.log"


def test_a_stale_pid_file_is_not_taken_for_a_running_service(tmp_path):
    settings = config.settings({"LABKIT_RUN_DIR": str(tmp_path)})
    shop = PizzaProcesses(settings)
    (tmp_path / "pizza").mkdir()
    (tmp_path / "pizza" / "sauce.pid").write_text("1\n")  # PID 1 is not a pizza service
    assert shop.pid("sauce") is None
    assert not (tmp_path / "pizza" / "sauce.pid").exists()


def test_cli_has_a_pizza_command_with_up_down_status():
    args = cli.build_parser().parse_args(["pizza", "up", "--seed", "6"])
    assert args.func is cli.cmd_pizza and args.action == "up" and args.seed == 6 and args.topic_prefix == ""


def test_status_of_a_stopped_shop_exits_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("LABKIT_PIZZA_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert cli.main(["pizza", "status"]) == 3
    out = capsys.readouterr().out
    assert "sauce    stopped" in out and "labkit pizza up" in out


def test_service_process_arguments():
    args = pizza_main.build_parser().parse_args(["run", "orders", "--port", "18000", "--seed", "3"])
    assert (args.service, args.port, args.seed, args.topic_prefix) == ("orders", 18000, 3, "")
