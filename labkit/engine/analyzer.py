"""Resolve a SELECT against the catalog: its sources, joins, aliases, column references and clauses.

Mirrors ksqlDB's AstSanitizer and Analyzer: unaliased select items get their names (a column keeps its
name, or `<alias>_<name>` when a join makes it ambiguous; `s->f` becomes `F`; anything else `KSQL_COL_n`,
skipping numbers the sources already use), unqualified column references are qualified with the one
source that has them (two sources having one is ksqlDB's "is ambiguous" error), the join criteria are
checked and recorded as `JoinInfo`s (flipped so that the FROM source is on the left), aggregate and table
functions are collected, and unknown columns are rejected clause by clause with ksqlDB's messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

from labkit.engine.astutil import rewrite
from labkit.engine.catalog import Catalog, DataSource
from labkit.engine.errors import EngineError, UnknownColumnError, UnknownSourceError
from labkit.engine.exprtext import expression_text
from labkit.engine.schema import PSEUDO_COLUMNS, SYSTEM_COLUMNS, WINDOW_BOUNDS, LogicalSchema
from labkit.sql import ast

__all__ = ["Analysis", "SourceAlias", "JoinInfo", "analyze", "AliasGenerator", "unknown_source_message",
           "location_prefix", "JOIN_TYPE_TEXT", "SYNTHETIC_KEY_PREFIX", "is_aggregate_call", "is_table_function_call"]

_NUMBERED = re.compile(r"(?P<name>.*?)?(?:_(?P<number>\d+))?")
GENERATED_PREFIX = "KSQL_COL"
SYNTHETIC_KEY_PREFIX = "ROWKEY"
JOIN_TYPE_TEXT = {"INNER": "[INNER] JOIN", "LEFT": "LEFT [OUTER] JOIN", "RIGHT": "RIGHT [OUTER] JOIN",
                  "OUTER": "[FULL] OUTER JOIN"}
"""ksqlDB's JoinNode.JoinType.toString, as its join error messages print the join type."""
KAFKA_LIMITATION = ("See https://github.com/confluentinc/ksql/issues/4004 for more details.")


def is_aggregate_call(node: ast.Node) -> bool:
    """A call of an aggregate function (UDAF)."""
    from labkit.engine.udafs import is_aggregate
    return isinstance(node, ast.FunctionCall) and is_aggregate(node.name)


def is_table_function_call(node: ast.Node) -> bool:
    """A call of a table function (UDTF)."""
    from labkit.engine.table_functions import is_table_function
    return isinstance(node, ast.FunctionCall) and is_table_function(node.name)


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

    def synthetic_key(self) -> str:
        """ROWKEY, or ROWKEY_n when a source already uses that name (ColumnNames.generateSyntheticJoinKey)."""
        used = self._used.get(SYNTHETIC_KEY_PREFIX, set())
        index = 0
        while index in used:
            index += 1
        return SYNTHETIC_KEY_PREFIX if index == 0 else f"{SYNTHETIC_KEY_PREFIX}_{index}"


def unknown_source_message(name: str, catalog: Catalog) -> str:
    """ksqlDB's text for a missing source, with its case hint when one differs only in case."""
    message = f"Exception while preparing statement: {name} does not exist."
    similar = catalog.similar_names(name)
    if similar:
        message += f"\nDid you mean \"{similar[0]}\"? Hint: wrap the source name in double quotes to make it " \
                   "case-sensitive."
    return message


def location_prefix(node: ast.Node) -> str:
    """ksqlDB's NodeLocation.asPrefix: 'Line: 3, Col: 84: ' (empty when the position is unknown)."""
    pos = getattr(node, "pos", None)
    return "" if pos is None else f"Line: {pos.line}, Col: {pos.column}: "


@dataclass(frozen=True)
class SourceAlias:
    """A source of the query and the alias its columns are qualified with (ksqlDB's AliasedDataSource)."""

    alias: str
    source: DataSource

    @property
    def is_table(self) -> bool:
        return self.source.is_table

    def has_column(self, name: str) -> bool:
        """DataSourceExtractor.hasColumn: pseudo columns, window bounds of windowed sources, key and value."""
        if name in PSEUDO_COLUMNS:
            return True
        if name in WINDOW_BOUNDS and self.source.is_windowed:
            return True
        return self.source.schema.find(name) is not None

    def schema(self, windowed: bool = False) -> LogicalSchema:
        """The source's columns with pseudo and key columns in the value (window bounds when `windowed`)."""
        return self.source.schema.with_pseudo_and_key_cols_in_value(windowed or self.source.is_windowed)


@dataclass(frozen=True)
class JoinInfo:
    """One join criterion `left_expr = right_expr` between two sources (ksqlDB's Analysis.JoinInfo)."""

    left: SourceAlias
    left_expr: ast.Expression
    right: SourceAlias
    right_expr: ast.Expression
    kind: str  # INNER, LEFT, RIGHT or OUTER
    flipped: bool
    within: ast.JoinWindow | None

    def flip(self) -> "JoinInfo":
        return JoinInfo(self.right, self.right_expr, self.left, self.left_expr, self.kind, True, self.within)

    @property
    def written_left(self) -> ast.Expression:
        """The left side of the criterion as the user wrote it."""
        return self.right_expr if self.flipped else self.left_expr

    @property
    def written_right(self) -> ast.Expression:
        return self.left_expr if self.flipped else self.right_expr

    @property
    def type_text(self) -> str:
        return JOIN_TYPE_TEXT[self.kind]


@dataclass
class Analysis:
    """A SELECT resolved against its sources; expressions have qualified column references."""

    query: ast.Query
    source: DataSource  # the FROM source
    alias: str
    items: list[ast.SelectItem]
    where: ast.Expression | None
    partition_by: tuple[ast.Expression, ...] | None
    limit: int | None
    persistent: bool
    qualifiers: tuple[str, ...] = field(default_factory=tuple)
    sources: list[SourceAlias] = field(default_factory=list)
    joins: list[JoinInfo] = field(default_factory=list)
    group_by: tuple[ast.Expression, ...] | None = None
    window: ast.WindowSpec | None = None
    having: ast.Expression | None = None
    implicit_group_by: bool = False  # an aggregate function without GROUP BY (ksqlDB's dummy GROUP BY)
    table_functions: list[ast.FunctionCall] = field(default_factory=list)

    @property
    def is_join(self) -> bool:
        return bool(self.joins)

    @property
    def is_aggregate(self) -> bool:
        return self.group_by is not None or self.implicit_group_by

    @property
    def processing_schema(self) -> LogicalSchema:
        return self.source.schema.with_pseudo_and_key_cols_in_value(self.source.is_windowed)

    def source_by_alias(self, alias: str) -> SourceAlias | None:
        return next((s for s in self.sources if s.alias == alias), None)

    def all_column_names(self) -> list[str]:
        """Key and value column names of every source (what generated aliases must not clash with)."""
        return [c.name for s in self.sources for c in s.source.schema.columns]


# ------------------------------------------------------------------------------------------- sources


def _aliased(relation: ast.AliasedSource, catalog: Catalog, found: list[SourceAlias]) -> SourceAlias:
    source = catalog.source(relation.name)
    if source is None:
        raise UnknownSourceError(unknown_source_message(relation.name, catalog))
    existing = next((s for s in found if s.source.name == source.name), None)
    if existing is not None:
        if len(found) > 1:
            raise EngineError("N-way joins do not support multiple occurrences of the same source. "
                              f"Source: '{relation.name}'.")
        raise EngineError(f"Can not join '{relation.name}' to '{existing.source.name}': self joins are not yet "
                          "supported.")
    return SourceAlias(relation.alias_or_name, source)


def _sources(query: ast.Query, catalog: Catalog) -> list[SourceAlias]:
    relation = query.source
    found: list[SourceAlias] = []
    if isinstance(relation, ast.AliasedSource):
        found.append(_aliased(relation, catalog, found))
        return found
    assert isinstance(relation, ast.Join)
    # ksqlDB's DataSourceExtractor reports a missing source before anything else
    for aliased in [relation.left, *(j.source for j in relation.joins)]:
        if catalog.source(aliased.name) is None:
            raise UnknownSourceError(unknown_source_message(aliased.name, catalog))
    found.append(_aliased(relation.left, catalog, found))
    for joined in relation.joins:
        found.append(_aliased(joined.source, catalog, found))
    return found


# ------------------------------------------------------------------------------------------ sanitizer


class _Sanitizer:
    """ksqlDB's AstSanitizer: qualify column references, name unaliased select items."""

    def __init__(self, sources: Sequence[SourceAlias]) -> None:
        self.sources = list(sources)
        self.is_join = len(self.sources) > 1
        seen: set[str] = set()
        self.clashing: set[str] = set()
        for source in self.sources:
            names = {c.name for c in source.source.schema.columns}
            self.clashing |= seen & names
            seen |= names
        self.generator = AliasGenerator(c.name for s in self.sources for c in s.source.schema.columns)

    def _qualify(self, node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.ColumnRef) and node.source is None:
            owners = [s.alias for s in self.sources if s.has_column(node.name)]
            if len(owners) > 1:
                options = sorted(f"{alias}.{node.name}" for alias in owners)
                raise EngineError(f"Exception while preparing statement: {location_prefix(node)}Column '{node.name}' "
                                  f"is ambiguous. Could be {_joined(options, 'or')}.")
            if owners:
                return ast.ColumnRef(node.name, owners[0], pos=node.pos)
        return None

    def expression(self, expression: ast.Expression) -> ast.Expression:
        return rewrite(expression, self._qualify)

    def optional(self, expression: ast.Expression | None) -> ast.Expression | None:
        return None if expression is None else self.expression(expression)

    def items(self, items: Sequence[ast.SelectItem]) -> list[ast.SelectItem]:
        out: list[ast.SelectItem] = []
        for item in items:
            if isinstance(item, ast.SingleColumn):
                expression = self.expression(item.expression)
                name = item.alias
                if name is None:
                    if isinstance(expression, ast.ColumnRef):
                        clashing = self.is_join and (expression.name in PSEUDO_COLUMNS
                                                     or expression.name in self.clashing)
                        name = f"{expression.source}_{expression.name}" \
                            if expression.source is not None and clashing else expression.name
                    else:
                        name = self.generator.alias_for(expression)
                out.append(ast.SingleColumn(expression, name, pos=item.pos))
            elif isinstance(item, ast.StructAll):
                out.append(ast.StructAll(self.expression(item.base), pos=item.pos))
            else:
                out.append(item)
        return out


def _joined(items: Sequence[str], conjunction: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


# ---------------------------------------------------------------------------------------------- joins


def _join_kind(joined: ast.JoinedSource) -> str:
    return "OUTER" if joined.kind == "FULL" else joined.kind


def _referenced_sources(expression: ast.Expression, sources: Sequence[SourceAlias], clause: str) -> set[str]:
    """ColumnReferenceValidator.analyzeExpression over `sources` (schemas without post-aggregate bounds)."""
    used: set[str] = set()
    for node in ast.iter_nodes(expression):
        if not isinstance(node, ast.ColumnRef):
            continue
        if node.source is not None:
            owner = next((s for s in sources if s.alias == node.source), None)
            owners = [owner] if owner is not None and _in_schema(owner, node.name, False) else []
        else:
            owners = [s for s in sources if _in_schema(s, node.name, False)]
        if not owners:
            raise UnknownColumnError(f"{location_prefix(node)}{clause} column '{expression_text(node)}' cannot be "
                                     "resolved.")
        used.add(node.source if node.source is not None else owners[0].alias)
    return used


def _in_schema(source: SourceAlias, name: str, windowed_group_by: bool) -> bool:
    schema = source.schema(windowed_group_by)
    return schema.find(name) is not None


def _analyze_join(joined: ast.JoinedSource, condition: ast.Expression, known: list[SourceAlias],
                  from_alias: str) -> JoinInfo:
    """Analyzer.visitJoinedSource: one equality between two sources, one of them the newly joined one."""
    source = known[-1]
    if not (isinstance(condition, ast.Comparison) and condition.op == "="):
        if isinstance(condition, ast.LogicalBinary) and all(
                isinstance(side, ast.Comparison) and side.op == "=" for side in (condition.left, condition.right)):
            raise EngineError("Invalid join condition: joins on multiple conditions are not yet supported. Got "
                              f"{expression_text(condition)}.")
        if not isinstance(condition, ast.Comparison):
            raise EngineError(f"Unsupported join expression: {expression_text(condition)}")
        raise EngineError("Only equality join criteria is supported.")
    left_used = _referenced_sources(condition.left, known, "JOIN ON")
    right_used = _referenced_sources(condition.right, known, "JOIN ON")

    def only(expression: ast.Expression, used: set[str]) -> str:
        if len(used) != 1:
            raise EngineError(f"Invalid comparison expression '{expression_text(expression)}' in join "
                              f"'{expression_text(condition)}'. Each side of the join comparision must contain "
                              "references from exactly one source.")
        return next(iter(used))

    left_name = only(condition.left, left_used)
    right_name = only(condition.right, right_used)
    left = next(s for s in known if s.alias == left_name)
    right = next(s for s in known if s.alias == right_name)
    if left_name == right_name:
        raise EngineError("Each side of the join must reference exactly one source and not the same source. Left side "
                          f"references {left_name} and right references {right_name}")
    _check_windowing(left, right)
    if source.alias not in (left.alias, right.alias):
        raise EngineError(f"A join criteria is expected to reference the source (`{source.alias}`) in the FROM "
                          f"clause, instead the right source references `{right.alias}` and the left source "
                          f"references `{left.alias}`")
    flipped = right_name == from_alias
    info = JoinInfo(left, condition.left, right, condition.right, _join_kind(joined), False, joined.within)
    return info.flip() if flipped else info


def _check_windowing(left: SourceAlias, right: SourceAlias) -> None:
    left_window = left.source.key_format.window
    right_window = right.source.key_format.window
    if (left_window is None) != (right_window is None):
        left_text = left_window.type if left_window else "not"
        right_text = right_window.type if right_window else "not"
        raise EngineError(f"Can not join windowed source to non-windowed source.\n`{left.alias}` is {left_text} "
                          f"windowed\n`{right.alias}` is {right_text} windowed")
    if left_window is None or right_window is None:
        return
    compatible = right_window.type == "SESSION" if left_window.type == "SESSION" \
        else right_window.type in ("HOPPING", "TUMBLING")
    if not compatible:
        raise EngineError(
            "Incompatible windowed sources.\nLeft source: " + left_window.type + "\nRight source: " + right_window.type
            + "\nSession windowed sources can only be joined to other session windowed sources, and may still not "
            "result in expected behaviour as session bounds must be an exact match for the join to work\nHopping and "
            "tumbling windowed sources can only be joined to other hopping and tumbling windowed sources")


# -------------------------------------------------------------------------------------------- analyze


def analyze(query: ast.Query, catalog: Catalog, *, persistent: bool) -> Analysis:
    """Resolve `query`; raise EngineError with ksqlDB's message when it cannot run."""
    sources = _sources(query, catalog)
    sanitizer = _Sanitizer(sources)
    from_source = sources[0]
    is_pull = query.emit is None and not persistent

    joins: list[JoinInfo] = []
    if isinstance(query.source, ast.Join):
        for index, joined in enumerate(query.source.joins):
            condition = sanitizer.expression(joined.on)
            joins.append(_analyze_join(joined, condition, sources[:index + 2], from_source.alias))

    where = sanitizer.optional(query.where)
    group_by = tuple(sanitizer.expression(e) for e in query.group_by) if query.group_by is not None else None
    partition_by = tuple(sanitizer.expression(e) for e in query.partition_by) \
        if query.partition_by is not None else None
    for clause, expressions in (("GROUP BY", group_by), ("PARTITION BY", partition_by)):
        seen: set[ast.Expression] = set()
        for expression in expressions or ():
            if expression in seen:
                raise EngineError(f"Duplicate {clause} expression: {expression_text(expression)}")
            seen.add(expression)
    if partition_by is not None and not partition_by:
        raise EngineError("PARTITION BY requires at least one expression")
    having = sanitizer.optional(query.having)
    items = sanitizer.items(query.items)

    analysis = Analysis(query, from_source.source, from_source.alias, items, where, partition_by, query.limit,
                        persistent, tuple(dict.fromkeys((from_source.alias, from_source.source.name))),
                        sources, joins, group_by, query.window, having)

    _check_lambdas(query, {c.name for s in sources for c in s.source.schema.columns})
    for item in items:
        if isinstance(item, ast.SingleColumn):
            _check_reserved(item, persistent)
            if group_by is None and any(is_aggregate_call(n) for n in ast.iter_nodes(item.expression)):
                analysis.implicit_group_by = True
            _collect_table_functions(item.expression, analysis)
    _check_columns(analysis, possible_synthetic=not is_pull and group_by is None)
    _check_kafka_format(analysis)
    if analysis.table_functions and from_source.is_table:
        raise EngineError("Table source is not supported with table functions")
    if not is_pull and persistent and any(s.is_table and s.source.is_windowed for s in sources):
        raise EngineError("KSQL does not support persistent queries on windowed tables.")
    return analysis


def _collect_table_functions(expression: ast.Expression, analysis: Analysis) -> None:
    """Analyzer.TableFunctionVisitor: not nested, not with aggregations, not inside CASE."""
    def visit(node: ast.Node, outer: str | None, case: ast.Node | None) -> None:
        if isinstance(node, ast.SearchedCase):
            case = node
        name = outer
        if is_table_function_call(node):
            assert isinstance(node, ast.FunctionCall)
            if outer is not None:
                raise EngineError(f"Table functions cannot be nested: {outer}({node.name.upper()}())")
            name = node.name.upper()
            if analysis.group_by is not None:
                raise EngineError("Table functions cannot be used with aggregations.")
            if case is not None:
                raise EngineError(f"Table functions cannot be used in CASE: {expression_text(case)}")
            analysis.table_functions.append(node)
        for child in _children(node):
            visit(child, name, case)
    visit(expression, None, None)


def _check_kafka_format(analysis: Analysis) -> None:
    """Analyzer.validate: the KAFKA value format supports neither JOIN nor GROUP BY."""
    kafka = [s.alias for s in analysis.sources if s.source.value_format.name == "KAFKA"]
    if not kafka:
        return
    what = "JOIN" if analysis.is_join else "GROUP BY" if analysis.group_by is not None else None
    if what is not None:
        raise EngineError(f"Source(s) {', '.join(kafka)} are using the 'KAFKA' value format. This format does not yet "
                          f"support {what}.\n{KAFKA_LIMITATION}")


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


def _check_columns(analysis: Analysis, *, possible_synthetic: bool) -> None:
    """ksqlDB's ColumnReferenceValidator: WHERE, GROUP BY, PARTITION BY, HAVING, then SELECT."""
    windowed_group_by = analysis.window is not None
    by_alias = {s.alias: s for s in analysis.sources}
    is_join = analysis.is_join

    def unknown(expression: ast.Expression, clause: str) -> ast.ColumnRef | None:
        for node in ast.iter_nodes(expression):
            if not isinstance(node, ast.ColumnRef):
                continue
            if node.source is not None:
                owner = by_alias.get(node.source)
                owners = [owner] if owner is not None and _in_schema(owner, node.name, windowed_group_by) else []
            else:
                owners = [s for s in analysis.sources if _in_schema(s, node.name, windowed_group_by)]
            if not owners:
                synthetic = (possible_synthetic and is_join and node.source is None and clause == "SELECT"
                             and node.name.startswith(SYNTHETIC_KEY_PREFIX))
                if not synthetic:
                    return node
            elif node.source is None and node.name in WINDOW_BOUNDS and len(owners) > 1:
                return node
        return None

    def check(expression: ast.Expression | None, clause: str) -> None:
        if expression is None:
            return
        bad = unknown(expression, clause)
        if bad is None:
            return
        text = expression_text(bad)
        if clause == "PARTITION BY":
            raise UnknownColumnError(f"{location_prefix(bad)}PARTITION BY column '{text}' cannot be resolved. "
                                     f"'{text}' must be a column in the source schema since PARTITION BY is applied "
                                     "on the input.")
        raise UnknownColumnError(f"{location_prefix(bad)}{clause} column '{text}' cannot be resolved.")

    check(analysis.where, "WHERE")
    for expression in analysis.group_by or ():
        check(expression, "GROUP BY")
    for expression in analysis.partition_by or ():
        check(expression, "PARTITION BY")
    check(analysis.having, "HAVING")
    for item in analysis.items:
        if isinstance(item, ast.SingleColumn):
            check(item.expression, "SELECT")
        elif isinstance(item, ast.StructAll):
            check(item.base, "SELECT")
        elif isinstance(item, ast.AllColumns) and item.source is not None and item.source not in by_alias:
            raise EngineError(f"'{item.source}' is not a valid stream/table name or alias.")


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


def with_items(analysis: Analysis, items: list[ast.SelectItem]) -> Analysis:
    """A copy of `analysis` with other select items."""
    return replace(analysis, items=items)
