"""Run one pizza service in this process: `python -m labkit.pizza run sauce|cheese|meats|veggies|orders`.

`labkit pizza up` starts one such process per service; SIGTERM (or Ctrl-C) stops a service cleanly.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Sequence

from labkit.config import settings as load_settings
from labkit.errors import LabkitError
from labkit.pizza.services import TOPPING_SERVICES
from labkit.pizza.topics import PizzaTopics

SERVICES = {cls.name: cls for cls in TOPPING_SERVICES}
ORDER_SERVICE = "orders"


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m labkit.pizza`."""
    parser = argparse.ArgumentParser(prog="python -m labkit.pizza", description="Run one pizza service.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one service until SIGTERM")
    run.add_argument("service", choices=[*SERVICES, ORDER_SERVICE])
    run.add_argument("--topic-prefix", default="", help="prefix of every topic and group (tests use one)")
    run.add_argument("--seed", type=int, default=None, help="seed for reproducible toppings and order ids")
    run.add_argument("--port", type=int, default=None, help="order API port (default from LABKIT_PIZZA_URL)")
    run.add_argument("--host", default="127.0.0.1", help="order API address (default 127.0.0.1)")
    run.add_argument("--work-seconds", type=float, default=0.0,
                     help="simulated work per pizza (a slow stage, for experiments and tests)")
    return parser


def run_topping_service(name: str, topics: PizzaTopics, seed: int | None, work_seconds: float = 0.0) -> None:
    """Run a topping service in the main thread until SIGTERM/SIGINT."""
    service = SERVICES[name](topics=topics, seed=seed, work_seconds=work_seconds)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: service.request_stop())
    service.run()


def run_order_service(topics: PizzaTopics, seed: int | None, host: str, port: int) -> None:
    """Rebuild the orders, then serve the order API with uvicorn until SIGTERM/SIGINT."""
    import uvicorn

    from labkit.pizza.order_api import create_app
    from labkit.pizza.order_service import OrderService

    with OrderService(topics=topics, seed=seed) as orders:
        config = uvicorn.Config(create_app(orders), host=host, port=port, log_config=None, log_level="info",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=5)
        uvicorn.Server(config).run()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; logs go to stderr (the run directory's log file when started by `labkit pizza up`)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    topics = PizzaTopics(prefix=args.topic_prefix)
    try:
        if args.service == ORDER_SERVICE:
            run_order_service(topics, args.seed, args.host, args.port or load_settings().pizza_port)
        else:
            run_topping_service(args.service, topics, args.seed, args.work_seconds)
    except LabkitError as error:
        logging.getLogger("labkit.pizza").error("%s", error)
        return 1
    logging.getLogger("labkit.pizza").info("%s service stopped", args.service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
