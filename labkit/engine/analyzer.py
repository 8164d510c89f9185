"""Resolve a SELECT against the catalog: its source, aliases, column references and clauses.

Mirrors ksqlDB's AstSanitizer and Analyzer: unaliased select items get their names (a column keeps its
name, `s->f` becomes `F`, anything else `KSQL_COL_n`, skipping numbers the source already uses), column
references are qualified with the source alias, reserved names and unknown columns are rejected with
ksqlDB's messages, and features of later engine stages (joins, windows, aggregations, table functions)
are refused as not supported yet rather than mis-executed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from labkit.engine.astutil import rewrite
from labkit.engine.catalog import Catalog, DataSource
from labkit.engine.compile import AGGREGATE_FUNCTIONS, TABLE_FUNCTIONS
from labkit.engine.errors import EngineError, NotSupportedError, UnknownColumnError, UnknownSourceError
from labkit.engine.exprtext import expression_text
from labkit.engine.schema import SYSTEM_COLUMNS, LogicalSchema
from labkit.sql import ast

__all__ = ["Analysis", "analyze", "AliasGenerator", "unknown_source_message"]

_NUMBERED = re.compile(r"(?P<name>.*?)?(?:_(?P<number>\d+))?")
GENERATED_PREFIX = "KSQL_COL"


class AliasGenerator:
    """ksqlDB's ColumnAliasGenerator: KSQL_COL_n and struct-field names, unique against `columns`."""

    def __init__(self, columns: Iterable[str]) -> None:
        self._used: dict[str, set[int]] = {}
        for name in columns:
            m = _NUMBERED.fullmatch(name)
            assert m is not None
            base = m.group("name") or ""
            self._used.setdefault(base, set()).add(int(m.group("number")) if m.group("number") else 0)
        self._next: dict[str, int] = {}

    def _take(self, prefix: str) -> str:
        used = self._used.get(prefix, set())
        index = self._next.get(prefix, 0)
        while index in used:
            index += 1
        self._next[prefix] = index + 1
        if index == 0 and prefix != GENERATED_PREFIX:
            return prefix
        return f"{prefix}_{index}"

    def next_generated(self) -> str:
        """The next KSQL_COL_n."""
        return self._take(GENERATED_PREFIX)

    def alias_for(self, expression: ast.Expression) -> str:
        """The name ksqlDB gives an unaliased expression."""
        if isinstance(expression, ast.Dereference):
            m = _NUMBERED.fullmatch(expression.field)
            assert m is not None
            return self._take(m.group("name") or "")
        return self.next_generated()


def unknown_source_message(name: str, catalog: Catalog) -> str:
    """ksqlDB's text for a missing source, with its case hint when one differs only in case."""
    message = f"Exception while preparing statement: {name} does not exist."
    similar = catalog.similar_names(name)
    if similar:
        message += f"\nDid you mean \"{similar[0]}\"? Hint: wrap the source name in double quotes to make it " \
                   "case-sensitive."
    return message


@dataclass
class Analysis:
    """A SELECT resolved against one source; expressions have qualified column references."""

    query: ast.Query
    source: DataSource
    alias: str
    items: list[ast.SelectItem]
    where: ast.Expression | None
    partition_by: tuple[ast.Expression, ...] | None
    limit: int | None
    persistent: bool
    qualifiers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def processing_schema(self) -> LogicalSchema:
        return self.source.schema.with_pseudo_and_key_cols_in_value(self.source.is_windowed)


def _reject_unsupported(query: ast.Query) -> None:
    if isinstance(query.source, ast.Join):
        raise NotSupportedError("JOIN is not supported yet by labkit's engine.")
    if query.window is not None:
        raise NotSupportedError("WINDOW is not supported yet by labkit's engine.")
    if query.group_by is not None:
        raise NotSupportedError("GROUP BY is not supported yet by labkit's engine.")
    if query.having is not None:
        raise NotSupportedError("HAVING is not supported yet by labkit's engine.")
    for node in ast.iter_nodes(query):
        if isinstance(node, ast.FunctionCall):
            name = node.name.upper()
            if name in AGGREGATE_FUNCTIONS:
                raise NotSupportedError(f"Aggregate functions are not supported yet by labkit's engine: {name}")
            if name in TABLE_FUNCTIONS:
                raise NotSupportedError(f"Table functions are not supported yet by labkit's engine: {name}")


def analyze(query: ast.Query, catalog: Catalog, *, persistent: bool) -> Analysis:
    """Resolve `query`; raise EngineError with ksqlDB's message when it cannot run."""
    if isinstance(query.source, ast.AliasedSource):
        source = catalog.source(query.source.name)
        if source is None:
            raise UnknownSourceError(unknown_source_message(query.source.name, catalog))
    _reject_unsupported(query)
    assert isinstance(query.source, ast.AliasedSource)
    if query.emit == "FINAL":
        raise EngineError("EMIT FINAL is only supported for windowed aggregations.")
    alias = query.source.alias_or_name
    processing = source.schema.with_pseudo_and_key_cols_in_value(source.is_windowed)
    known = {c.name for c in processing.value}

    def qualify(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.ColumnRef) and node.source is None and node.name in known:
            return ast.ColumnRef(node.name, alias, pos=node.pos)
        return None

    generator = AliasGenerator(c.name for c in source.schema.columns)
    items: list[ast.SelectItem] = []
    for item in query.items:
        if isinstance(item, ast.SingleColumn):
            expression = rewrite(item.expression, qualify)
            name = item.alias
            if name is None:
                name = expression.name if isinstance(expression, ast.ColumnRef) else generator.alias_for(expression)
            items.append(ast.SingleColumn(expression, name, pos=item.pos))
        elif isinstance(item, ast.StructAll):
            items.append(ast.StructAll(rewrite(item.base, qualify), pos=item.pos))
        else:
            items.append(item)
    where = rewrite(query.where, qualify) if query.where is not None else None
    partition_by = tuple(rewrite(e, qualify) for e in query.partition_by) if query.partition_by is not None else None
    if partition_by is not None and not partition_by:
        raise EngineError("PARTITION BY requires at least one expression")

    analysis = Analysis(query, source, alias, items, where, partition_by, query.limit, persistent,
                        tuple(dict.fromkeys((alias, source.name))))
    _check_lambdas(query, {c.name for c in source.schema.columns})
    for item in items:
        if isinstance(item, ast.SingleColumn):
            _check_reserved(item, persistent)
    _check_columns(analysis, known)
    return analysis


def _check_lambdas(query: ast.Query, columns: set[str]) -> None:
    """ksqlDB's AstSanitizer: lambda parameters may not shadow columns or enclosing lambdas' parameters."""
    def visit(node: ast.Node, enclosing: frozenset[str]) -> None:
        if isinstance(node, ast.Lambda):
            for param in node.params:
                if param in columns:
                    raise EngineError(f"Lambda function argument can't be a column name: {param}")
            if enclosing & set(node.params) or len(set(node.params)) != len(node.params):
                raise EngineError("Reusing lambda arguments in nested lambda is not allowed")
            visit(node.body, enclosing | set(node.params))
            return
        for child in _children(node):
            visit(child, enclosing)

    visit(query, frozenset())


def _children(node: ast.Node) -> list[ast.Node]:
    from dataclasses import fields

    out: list[ast.Node] = []
    for f in fields(node):
        if f.name in ("pos", "text"):
            continue
        value = getattr(node, f.name)
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if isinstance(item, ast.Node):
                out.append(item)
            elif isinstance(item, tuple):
                out.extend(i for i in item if isinstance(i, ast.Node))
    return out


def _check_columns(analysis: Analysis, known: set[str]) -> None:
    """ksqlDB's ColumnReferenceValidator: WHERE, PARTITION BY, then SELECT."""
    qualifiers = set(analysis.qualifiers)

    def unknown(expression: ast.Expression) -> ast.ColumnRef | None:
        for node in ast.iter_nodes(expression):
            if isinstance(node, ast.ColumnRef):
                if node.name not in known or (node.source is not None and node.source not in qualifiers):
                    return node
        return None

    if analysis.where is not None:
        bad = unknown(analysis.where)
        if bad is not None:
            raise UnknownColumnError(f"WHERE column '{expression_text(bad)}' cannot be resolved.")
    for expression in analysis.partition_by or ():
        bad = unknown(expression)
        if bad is not None:
            text = expression_text(bad)
            raise UnknownColumnError(f"PARTITION BY column '{text}' cannot be resolved. '{text}' must be a column "
                                     "in the source schema since PARTITION BY is applied on the input.")
    for item in analysis.items:
        if isinstance(item, ast.SingleColumn):
            bad = unknown(item.expression)
            if bad is not None:
                raise UnknownColumnError(f"SELECT column '{expression_text(bad)}' cannot be resolved.")
        elif isinstance(item, ast.StructAll):
            bad = unknown(item.base)
            if bad is not None:
                raise UnknownColumnError(f"SELECT column '{expression_text(bad)}' cannot be resolved.")


def _check_reserved(item: ast.SingleColumn, persistent: bool) -> None:
    assert item.alias is not None
    for reserved in SYSTEM_COLUMNS:
        if item.alias.upper() != reserved:
            continue
        text = expression_text(item.expression)
        unqualified = text[text.index(".") + 1:] if "." in text else text
        if unqualified.upper() != item.alias.upper():
            raise EngineError(f"`{reserved}` is a reserved column name. You cannot use it as an alias for a column.")
        if persistent:
            raise EngineError(f"Reserved column name in select: `{reserved}`. Please remove or alias the column.")
