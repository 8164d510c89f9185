"""`python -m labkit.server`: serve an engine with ksqlDB's REST API on 127.0.0.1:8088 (or as configured).

The engine comes from a factory named `module:callable` (default `labkit.engine:create_engine`), called
with no arguments; it is imported by name, never evaluated.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable

from labkit import config
from labkit.errors import LabkitError
from labkit.server.app import DEFAULT_MAX_BODY_BYTES, serve
from labkit.server.protocol import Engine

DEFAULT_FACTORY = "labkit.engine:create_engine"


def load_factory(spec: str) -> Callable[[], Engine]:
    """The callable named by `module:attribute`."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise LabkitError(f"--engine {spec!r}: expected module:callable, like {DEFAULT_FACTORY}.")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise LabkitError(f"--engine {spec!r}: cannot load it ({exc}).") from None
    if not callable(factory):
        raise LabkitError(f"--engine {spec!r} is not callable.")
    return factory


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the engine and serve until interrupted."""
    settings = config.settings()
    parser = argparse.ArgumentParser(prog="python -m labkit.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=settings.bind_host, help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=settings.ksql_port, help="port (default %(default)s)")
    parser.add_argument("--engine", default=DEFAULT_FACTORY, help="engine factory (default %(default)s)")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        engine = load_factory(args.engine)()
    except LabkitError as exc:
        print(f"labkit server: {exc}", file=sys.stderr)
        return 1
    try:
        serve(engine, host=args.host, port=args.port, log_level=args.log_level,
              max_body_bytes=args.max_body_bytes)
    except LabkitError as exc:
        print(f"labkit server: {exc}", file=sys.stderr)
        return 1
    finally:
        close = getattr(engine, "close", None)  # stop the engine's queries and clients after the last request
        if callable(close):
            close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
