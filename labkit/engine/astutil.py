"""Small helpers over the frozen syntax tree: bottom-up rewriting and column-reference collection."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

from labkit.sql import ast

__all__ = ["rewrite", "column_refs", "contains"]


def rewrite(node: Any, visit: Callable[[ast.Node], ast.Node | None]) -> Any:
    """Rebuild `node`: `visit(n)` may return a replacement for n (used as is), else n's children are
    rewritten and n is rebuilt only if one changed. Lambda bodies are rewritten too."""
    if isinstance(node, tuple):
        items = tuple(rewrite(item, visit) for item in node)
        return items if any(a is not b for a, b in zip(items, node)) else node
    if not isinstance(node, ast.Node):
        return node
    replaced = visit(node)
    if replaced is not None:
        return replaced
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        if f.name in ("pos", "text"):
            continue
        value = getattr(node, f.name)
        new = rewrite(value, visit)
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(node, **changes) if changes else node


def column_refs(node: ast.Node) -> Iterator[ast.ColumnRef]:
    """Every ColumnRef under `node`, in order."""
    for n in ast.iter_nodes(node):
        if isinstance(n, ast.ColumnRef):
            yield n


def contains(node: ast.Node, kind: type) -> bool:
    """Whether a node of type `kind` appears under `node`."""
    return any(isinstance(n, kind) for n in ast.iter_nodes(node))
