"""Syntax tree of ksqlDB SQL: frozen dataclasses for statements, queries, expressions and types.

Every node declares its fields once. Two nodes compare equal when their fields do; where a node was
found (`pos`) and the original statement text (`text`) take no part in equality, so a statement
compares equal to the parse of its rendering. Identifiers are stored as ksqlDB resolves them:
unquoted names upper-cased, quoted names as written. The nodes live in `labkit.sql.nodes` (types and
expressions) and `labkit.sql.statements` (queries and statements); this module gathers them.
"""
from __future__ import annotations

from labkit.sql.nodes import *  # noqa: F401,F403
from labkit.sql.nodes import __all__ as _node_names
from labkit.sql.statements import *  # noqa: F401,F403
from labkit.sql.statements import __all__ as _statement_names

__all__ = [*_node_names, *_statement_names]
