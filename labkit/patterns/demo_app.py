"""Run one ordered-retry app as its own process, so a test or a learner can kill it with SIGKILL.

    python -m labkit.patterns.demo_app main  --prefix lesson05-crash --run r1 --fail-key k3:1 --slow 0.02
    python -m labkit.patterns.demo_app retry --prefix lesson05-crash --run r1

The topics and groups come from `PatternTopics(prefix, run=run)`, so a restarted process (or an app in a
notebook) with the same prefix and run is the same app. SIGTERM or Ctrl-C stop it cleanly (clients
closed); SIGKILL is the crash: nothing after the last commit is committed. It prints one line when it is
consuming, and nothing else; its counters go to stderr when it stops cleanly.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Sequence

from labkit import quiet_client_logs
from labkit.patterns.app import PatternApp
from labkit.patterns.events import echo_handler
from labkit.patterns.faults import FaultInjector
from labkit.patterns.ordered_retry import OrderedMainApp, OrderedRetryApp
from labkit.patterns.topology import PatternTopics


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: which app, which topics, which faults."""
    parser = argparse.ArgumentParser(prog="python -m labkit.patterns.demo_app", description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("main", "retry"), help="the ordered-retry main app or its retry app")
    parser.add_argument("--prefix", required=True, help="topic prefix (PatternTopics)")
    parser.add_argument("--run", required=True, help="run id that names the consumer groups")
    parser.add_argument("--fail-key", action="append", default=[], metavar="KEY:TIMES",
                        help="the first TIMES calls for KEY raise TransientError (repeatable)")
    parser.add_argument("--slow", type=float, default=0.0, help="seconds each handler call takes")
    parser.add_argument("--retry-delay", type=float, default=0.5, help="seconds between retries")
    parser.add_argument("--max-attempts", type=int, default=3)
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> PatternApp:
    """The app the arguments describe."""
    faults = FaultInjector().slow(args.slow)
    for rule in args.fail_key:
        key, _, times = rule.partition(":")
        faults.fail_key(key, times=int(times or 1))
    topics = PatternTopics(args.prefix, run=args.run)
    handler = faults.wrap(echo_handler)
    if args.role == "main":
        return OrderedMainApp.for_topics(topics, handler=handler, retry_delay=args.retry_delay)
    return OrderedRetryApp.for_topics(topics, handler=handler, retry_delay=args.retry_delay,
                                      max_attempts=args.max_attempts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app in this process until SIGTERM/SIGINT (or SIGKILL)."""
    args = parse_args(argv)
    quiet_client_logs()
    app = build(args)
    signal.signal(signal.SIGTERM, lambda *_: app.request_stop())
    signal.signal(signal.SIGINT, lambda *_: app.request_stop())
    print(f"{args.role} app of {args.prefix} starting", flush=True)
    stats = app.run()
    print(json.dumps({"reason": stats.reason, **app.snapshot()}, sort_keys=True), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
