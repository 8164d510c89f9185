"""The `labkit` command: start, stop and inspect the workbook's cluster.

    labkit up [--brokers 1|3] [--backend embedded|compose|external] [--no-engine]
    labkit down [--engine-only] | status | reset [--yes] | fetch
    labkit ksql [--execute SQL | --file F] [--url URL]     (a SQL prompt like ksqlDB's CLI)

Every failure labkit expects is a `LabkitError`, printed as a message (never a traceback) with exit code 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from labkit import config
from labkit.errors import ConfigError, LabkitError


def _say(message: str) -> None:
    print(message, flush=True)


def _settings(args: argparse.Namespace) -> config.Settings:
    current = config.settings()
    backend = getattr(args, "backend", None)
    if backend:
        current = current.with_overrides(backend=backend)
    return current


def cmd_up(args: argparse.Namespace) -> int:
    """Start the cluster of the chosen backend and wait until it is ready."""
    settings = _settings(args)
    if settings.backend == "compose":
        from labkit.cluster.compose import ComposeBackend

        ComposeBackend().up()
        return 0
    if settings.backend == "external":
        return _check_external(settings)
    from labkit.cluster import EmbeddedCluster
    from labkit.cluster.engine_process import EngineProcess

    EmbeddedCluster(settings, brokers=args.brokers).up(progress=_say)
    if not args.no_engine:
        EngineProcess(settings).up(progress=_say)
    return 0


def _check_external(settings: config.Settings) -> int:
    from labkit.cluster.health import kafka_reachable

    if kafka_reachable(settings):
        _say(f"External backend: Kafka answers at {settings.bootstrap_servers}; nothing to start.")
        return 0
    raise LabkitError(f"External backend: no Kafka broker answers at {settings.bootstrap_servers}. "
                      "Check LABKIT_BOOTSTRAP and the security settings (LABKIT_SECURITY_PROTOCOL, LABKIT_SASL_*).")


def cmd_down(args: argparse.Namespace) -> int:
    """Stop what `labkit up` started."""
    settings = _settings(args)
    if settings.backend == "compose":
        from labkit.cluster.compose import ComposeBackend

        ComposeBackend().down()
        return 0
    if settings.backend == "external":
        _say("External backend: labkit started nothing, so there is nothing to stop.")
        return 0
    from labkit.cluster import EmbeddedCluster
    from labkit.cluster.engine_process import EngineProcess

    if not EngineProcess(settings).down(progress=_say) and args.engine_only:
        _say("The ksqlDB engine is not running.")
    if not args.engine_only:
        EmbeddedCluster(settings).down(progress=_say)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print the health of each node; exit code 0 only when everything is healthy."""
    settings = _settings(args)
    if settings.backend == "compose":
        from labkit.cluster.compose import ComposeBackend

        services = ComposeBackend().status()
        healthy = True
        for service, state in services.items():
            health = state.get("health") or "-"
            healthy &= state.get("state") == "running" and health in ("healthy", "-")
            if not args.quiet:
                _say(f"{service:15} {state.get('state', '?'):10} {health}")
        return 0 if healthy else 3
    if settings.backend == "external":
        return _check_external(settings)
    from labkit.cluster import EmbeddedCluster
    from labkit.cluster.engine_process import EngineProcess

    status = EmbeddedCluster(settings).status()
    engine = EngineProcess(settings).status()
    if not args.quiet:
        _say(f"Embedded Kafka cluster ({status.size} broker(s)), data in {settings.state_dir}")
        for node in status.nodes:
            fenced = {None: "unknown", True: "unfenced", False: "FENCED"}[node.unfenced]
            state = f"running (pid {node.pid})" if node.pid else "stopped"
            _say(f"  broker {node.node_id}  127.0.0.1:{node.port}  {state:22} {fenced}")
        if status.controller_id is not None:
            _say(f"  active controller: node {status.controller_id}")
        state = f"running (pid {engine.pid})" if engine.pid else "stopped"
        health = "healthy" if engine.healthy else ("not healthy" if engine.pid else "")
        _say(f"  ksqlDB engine  {engine.url:22} {state:22} {health}")
        if not status.running or not engine.healthy:
            _say("Start it with `labkit up` (or `make lab`).")
    if not status.healthy:
        return 3
    return 0 if engine.healthy else 4


def cmd_reset(args: argparse.Namespace) -> int:
    """Stop the embedded cluster and delete all its data."""
    settings = _settings(args)
    from labkit.cluster import EmbeddedCluster
    from labkit.cluster.engine_process import EngineProcess

    if not args.yes:
        answer = input(f"Delete every topic and message in {settings.state_dir}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            _say("Nothing deleted.")
            return 1
    EngineProcess(settings).down(progress=_say)
    for size in (1, 3):
        if size <= len(settings.broker_ports):
            EmbeddedCluster(settings, brokers=size).reset(progress=_say)
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch the Kafka jars with Maven (what `make setup` runs)."""
    from labkit.cluster import jars

    settings = _settings(args)
    path = jars.ensure_kafka_jars(settings)
    _say(f"Apache Kafka {settings.kafka_version} jars are in {path}.")
    return 0


def cmd_pizza(args: argparse.Namespace) -> int:
    """Start, stop or show the pizza shop's services (lesson 06) as background processes."""
    from labkit.pizza.processes import PizzaProcesses
    from labkit.pizza.topics import PizzaTopics

    shop = PizzaProcesses(_settings(args), topics=PizzaTopics(prefix=args.topic_prefix), seed=args.seed)
    if args.action == "up":
        shop.up(progress=_say)
        return 0
    if args.action == "down":
        shop.down(progress=_say)
        return 0
    statuses = shop.status()
    for service in statuses:
        state = f"running (pid {service.pid})" if service.pid else "stopped"
        _say(f"  {service.name:8} {state:22} log: {service.log}")
    healthy = shop.healthy()
    _say(f"Order API {shop.settings.pizza_url}: {'ready' if healthy else 'not answering'}"
         + ("" if healthy else " (start the shop with `labkit pizza up`)"))
    return 0 if healthy else 3


def cmd_ksql(args: argparse.Namespace) -> int:
    """A ksqlDB prompt against the configured engine; --execute/--file run statements without one."""
    from labkit.ksql import KsqlClient
    from labkit.repl import HISTORY_FILE, KsqlRepl

    settings = _settings(args)
    with KsqlClient(args.url) as client:
        repl = KsqlRepl(client)
        if args.execute is not None or args.file is not None:
            if args.file is not None:
                try:
                    script = args.file.read_text(encoding="utf-8")
                except OSError as error:
                    raise LabkitError(f"Cannot read the SQL file {args.file}: {error.strerror}.") from error
            else:
                script = args.execute
            return 0 if repl.run_script(script) else 1
        interactive = sys.stdin.isatty()
        return repl.interactive(history=settings.state_dir / HISTORY_FILE if interactive else None,
                                banner=interactive, read=input if interactive else _read_quietly)


def _read_quietly(prompt: str) -> str:
    """input() without a prompt, for statements piped into `labkit ksql`."""
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `labkit` command."""
    parser = argparse.ArgumentParser(prog="labkit", description="Run the ksqlDB & Kafka workbook's cluster.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    backend_help = "embedded (default), compose or external; LABKIT_BACKEND sets the default"

    up = sub.add_parser("up", help="start Kafka (3 KRaft nodes on 9097-9099) and the ksqlDB engine (8088); wait "
                                   "until they are ready")
    up.add_argument("--brokers", type=int, choices=(1, 3), default=None, help="1 for quick work, 3 (default)")
    up.add_argument("--backend", choices=config.BACKENDS, help=backend_help)
    up.add_argument("--no-engine", action="store_true", help="start Kafka only, not the ksqlDB engine on 8088")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop what `labkit up` started")
    down.add_argument("--backend", choices=config.BACKENDS, help=backend_help)
    down.add_argument("--engine-only", action="store_true", help="stop the ksqlDB engine, leave Kafka running")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="show each broker's and the engine's health (exit 0 when all are "
                                           "healthy, 3 when Kafka is not, 4 when only the engine is not)")
    status.add_argument("--backend", choices=config.BACKENDS, help=backend_help)
    status.add_argument("--quiet", "-q", action="store_true", help="print nothing; only the exit code")
    status.set_defaults(func=cmd_status)

    reset = sub.add_parser("reset", help="stop the embedded cluster and delete its data")
    reset.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(func=cmd_reset)

    pizza = sub.add_parser("pizza", help="run the pizza shop of lesson 06: up, down or status")
    pizza.add_argument("action", choices=("up", "down", "status"))
    pizza.add_argument("--seed", type=int, default=None, help="seed for reproducible toppings and order ids")
    pizza.add_argument("--topic-prefix", default="", help="prefix for every topic and group (default: none)")
    pizza.set_defaults(func=cmd_pizza)

    ksql = sub.add_parser("ksql", help="a ksqlDB SQL prompt like ksqlDB's CLI (statements end with ';'; Ctrl-C "
                                       "ends a running query; exit, quit or Ctrl-D leaves)")
    source = ksql.add_mutually_exclusive_group()
    source.add_argument("--execute", "-e", metavar="SQL", help="run these statements, print the answers, exit")
    source.add_argument("--file", "-f", metavar="FILE", type=Path, help="run the statements in FILE, then exit")
    ksql.add_argument("--url", help="ksqlDB server URL (default: LABKIT_KSQL_URL, or http://localhost:8088)")
    ksql.set_defaults(func=cmd_ksql)

    fetch = sub.add_parser("fetch", help="download the Apache Kafka jars with Maven (done by `make setup`)")
    fetch.set_defaults(func=cmd_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `labkit` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except ConfigError as exc:
        print(f"labkit: configuration error: {exc}", file=sys.stderr)
        return 2
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labkit: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
