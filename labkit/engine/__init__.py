"""labkit's embedded ksqlDB-compatible engine: types, formats, functions, planner and runtime."""
from __future__ import annotations
