"""labkit's embedded ksqlDB-compatible engine: types, formats, functions, planner and runtime.

`create_engine()` builds the live engine over the configured Kafka cluster, adapted to the REST server
(`python -m labkit.server` loads `labkit.engine:create_engine`); it is imported on first use, so importing
`labkit.engine` stays cheap and needs no broker.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_engine"]


def __getattr__(name: str) -> Any:
    """Import `create_engine` (and the Kafka clients behind it) on first use."""
    if name == "create_engine":
        from labkit.engine.server_adapter import create_engine

        return create_engine
    raise AttributeError(f"module 'labkit.engine' has no attribute {name!r}")
