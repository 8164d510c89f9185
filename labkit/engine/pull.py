"""Pull queries over materialized tables: the state of the query that builds the table, read on demand.

A table is queryable when a query materializes it: a CREATE TABLE ... AS SELECT (its aggregate store
`Aggregate-Aggregate-Materialize`, its source table's `KsqlTopic-Reduce`, or for joins the `Project-Last`
store of its output) or a CREATE SOURCE TABLE (its hidden `CST_` query). `Materialization` says which store
of the running query holds the rows and which steps (HAVING, projection, ...) turn a stored entry into a row
of the table, as ksqlDB's KsqlMaterialization applies its transforms at read time.

A pull query is validated as ksqlDB's PullQueryValidator and QueryFilterNode do (its WHERE, rewritten to a
disjunction of conjunctions, must lead to key lookups unless table scans are enabled, the 0.29 default),
then the stored rows are read (by key when every disjunct fixes the key, else all of them in key order),
filtered with the whole WHERE clause and projected. The result is a finished `TransientQuery`.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from labkit.engine.analyzer import Analysis
from labkit.engine.astutil import rewrite
from labkit.engine.errors import EngineError
from labkit.engine.exprtext import COMPARISON_NAMES, expression_text
from labkit.engine.formats import FormatSpec, KeyFormat, RecordSerde, ValueFormat
from labkit.engine.schema import PSEUDO_COLUMNS, WINDOW_BOUNDS, LogicalSchema
from labkit.engine.serde import SerdeError, to_rest_json
from labkit.engine.session import Session
from labkit.engine.state_stores import TableStore, WindowStore, thawed_key
from labkit.engine.steps import BuildContext, ExecutionStep, Processor, Row, SourceStep
from labkit.engine.transient import TransientQuery
from labkit.sql import ast

if TYPE_CHECKING:
    from labkit.engine.engine import KsqlEngine
    from labkit.engine.planner import QueryPlan

__all__ = ["Materialization", "materialization_of", "start_pull_query", "check_pull_query", "SYNTAX_HELP"]

SYNTAX_HELP = (" See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push "
               "query.")
_DISALLOWED = ("ROWPARTITION", "ROWOFFSET")
_WINDOW_OPERATORS = ("=", ">", ">=", "<", "<=")


@dataclass
class Materialization:
    """Where the rows of a materialized table live in the query that builds it."""

    store: str
    windowed: bool  # entries keyed (key, start, end)
    chain: Callable[[ExecutionStep], ExecutionStep]  # the read-time steps on top of the stored rows
    feeder_schema: LogicalSchema
    map_value: Callable[[list[Any]], list[Any]] | None = None  # e.g. UDAF states -> results
    retention: int | None = None  # windowed stores: how long windows stay readable
    inclusive_retention: bool = False


class _Feeder(ExecutionStep):
    """The bottom of a read-time chain: rows are pushed in by the pull query."""

    def __init__(self, schema: LogicalSchema, windowed: bool) -> None:
        self.schema = schema
        self.is_table = True
        self._windowed = windowed
        self.downstream: Processor | None = None

    @property
    def is_windowed(self) -> bool:
        return self._windowed

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        self.downstream = downstream


def _rebase(top: ExecutionStep, bottom: ExecutionStep, feeder: ExecutionStep) -> ExecutionStep:
    """A copy of the chain from `top` down to `bottom`, standing on `feeder` instead of `bottom`."""
    if top is bottom:
        return feeder
    parent = getattr(top, "parent", None)
    if not isinstance(parent, ExecutionStep):
        raise EngineError("The materialization of this table cannot be read.")
    clone = copy.copy(top)
    clone.parent = _rebase(parent, bottom, feeder)  # type: ignore[attr-defined]
    return clone


def materialization_of(plan: "QueryPlan", root: ExecutionStep) -> Materialization | None:
    """How to read the table a CTAS plan builds (None when it is not a table)."""
    if not plan.is_table:
        return None
    info = plan.materialization
    if isinstance(info, tuple) and info and info[0] == "aggregate":
        from labkit.engine.aggregate_steps import AggregateStep
        aggregate = _find(root, AggregateStep)
        assert aggregate is not None
        spec = aggregate.spec
        count = len(spec.non_aggregate)

        def map_value(row: list[Any]) -> list[Any]:
            return list(row[:count]) + [u.map(s) for u, s in zip(spec.udafs, row[count:])]
        window = spec.window
        return Materialization(aggregate.store, window is not None,
                               lambda feeder: _rebase(root, aggregate, feeder), aggregate.schema, map_value,
                               window.retention if window is not None else None, spec.emit_final)
    if plan.analysis.is_join:
        return Materialization("Project-Last", False, lambda feeder: feeder, plan.schema)
    source = _find(root, SourceStep)
    if source is None or not source.is_table or source.store_name is None:
        return None
    return Materialization(source.store_name, False, lambda feeder: _rebase(root, source, feeder), source.schema)


class MaterializeStep(ExecutionStep):
    """Keep the latest output row of each key in a store (ksqlDB's `Project-Last` for table joins)."""

    def __init__(self, parent: ExecutionStep, store: str = "Project-Last") -> None:
        self.parent = parent
        self.store = store
        self.schema = parent.schema
        self.is_table = True

    @property
    def is_windowed(self) -> bool:
        return self.parent.is_windowed

    def describe(self) -> str:
        return f"Materialize({self.store})"

    def build(self, ctx: BuildContext, downstream: Processor) -> None:
        store = ctx.state.get_store(self.store, TableStore)

        def process(row: Row) -> None:
            if row.key is not None:
                store.update(row.key, row.value, row.timestamp, row.window)
            downstream(row)
        self.parent.build(ctx, process)


def source_table_materialization(schema: LogicalSchema, store: str, processing: LogicalSchema) -> Materialization:
    """A CREATE SOURCE TABLE: the source rows of its `KsqlTopic-Reduce` store, without pseudo columns."""
    from labkit.engine.steps import ProjectStep
    expressions = tuple(ast.ColumnRef(c.name) for c in schema.value)

    def chain(feeder: ExecutionStep) -> ExecutionStep:
        return ProjectStep(feeder, expressions, schema, ())
    return Materialization(store, False, chain, processing)


def _find(step: Any, kind: type) -> Any:
    while step is not None:
        if isinstance(step, kind):
            return step
        step = getattr(step, "parent", None)
    return None


# ------------------------------------------------------------------------------------------ validation


def check_pull_query(analysis: Analysis, session: Session) -> None:
    """ksqlDB's PullQueryValidator rules."""
    query = analysis.query
    rules = [
        (analysis.is_join, "Pull queries don't support JOIN clauses."),
        (analysis.window is not None, "Pull queries don't support WINDOW clauses."),
        # an aggregate call without GROUP BY gets ksqlDB's dummy GROUP BY (Analyzer.addDummyGroupbyForUdafs)
        (analysis.group_by is not None or analysis.implicit_group_by, "Pull queries don't support GROUP BY clauses."),
        (analysis.partition_by is not None, "Pull queries don't support PARTITION BY clauses."),
        (analysis.having is not None, "Pull queries don't support HAVING clauses."),
    ]
    for failed, message in rules:
        if failed:
            raise EngineError(message + SYNTAX_HELP)
    if query.limit is not None:
        if not session.flag("ksql.query.pull.limit.clause.enabled") and \
                session.get("ksql.query.pull.limit.clause.enabled") is not None:
            raise EngineError("LIMIT clause in pull queries is currently disabled. You can enable them by setting "
                              "ksql.query.pull.limit.clause.enabled=true." + SYNTAX_HELP)
        if query.limit < 0:
            raise EngineError("Pull queries don't support negative integers in the LIMIT clause." + SYNTAX_HELP)
    if query.emit is not None:
        raise EngineError("Pull queries don't support EMIT clauses." + SYNTAX_HELP)
    columns = [n.name for i in analysis.items if isinstance(i, ast.SingleColumn)
               for n in ast.iter_nodes(i.expression) if isinstance(n, ast.ColumnRef) and n.name in _DISALLOWED]
    if columns:
        raise EngineError("Pull queries don't support the following columns in SELECT clauses: "
                          + ", ".join(f"`{c}`" for c in columns) + "\n" + SYNTAX_HELP)
    if analysis.where is not None:
        columns = [n.name for n in ast.iter_nodes(analysis.where)
                   if isinstance(n, ast.ColumnRef) and n.name in _DISALLOWED]
        if columns:
            raise EngineError("Pull queries don't support the following columns in WHERE clauses: "
                              + ", ".join(f"`{c}`" for c in columns) + "\n" + SYNTAX_HELP)


def _not_queryable(name: str) -> EngineError:
    return EngineError(f"The `{name}` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE "
                       f"QUERYABLE_{name} AS SELECT * FROM {name}'." + SYNTAX_HELP)


# ------------------------------------------------------------------------------------- the WHERE clause


def _invalid_where(message: str, windowed: bool) -> EngineError:
    """QueryFilterNode.invalidWhereClauseException."""
    extra = ("\n - (optionally) limits the time bounds of the windowed table.\n\t Bounds on [`WINDOWSTART`, "
             "`WINDOWEND`] are supported\n\t Supported operators are [EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, "
             "LESS_THAN, LESS_THAN_OR_EQUAL]") if windowed else ""
    return EngineError(
        message + ". " + SYNTAX_HELP + "\nPull queries require a WHERE clause that:\n - includes a key equality "
        "expression, e.g. `SELECT * FROM X WHERE <key-column> = Y;`.\n - in the case of a multi-column key, is a "
        "conjunction of equality expressions that cover all key columns.\n - to support range expressions, e.g.,  "
        "SELECT * FROM X WHERE <key-column> < Y;`, range scans need to be enabled by setting "
        f"ksql.query.pull.range.scan.enabled=true{extra}\nIf more flexible queries are needed, , table scans can be "
        "enabled by setting ksql.query.pull.table.scan.enabled=true.")


def _expand(expression: ast.Expression) -> ast.Expression:
    """PullQueryRewriter: BETWEEN becomes >= AND <=, IN a disjunction of equalities."""
    def visit(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.Between) and not node.negated:
            value = rewrite(node.value, visit)
            return ast.LogicalBinary("AND", ast.Comparison(">=", value, rewrite(node.lower, visit)),
                                     ast.Comparison("<=", value, rewrite(node.upper, visit)))
        if isinstance(node, ast.InList) and not node.negated and node.items:
            value = rewrite(node.value, visit)
            out: ast.Expression = ast.Comparison("=", value, node.items[-1])
            for item in reversed(node.items[:-1]):
                out = ast.LogicalBinary("OR", ast.Comparison("=", value, item), out)
            return out
        return None
    return rewrite(expression, visit)


_NEGATED = {"=": "<>", "<>": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<",
            "IS DISTINCT FROM": "IS NOT DISTINCT FROM", "IS NOT DISTINCT FROM": "IS DISTINCT FROM"}


def _push_not(node: ast.Expression, negate: bool = False) -> ast.Expression:
    if isinstance(node, ast.Not):
        return _push_not(node.operand, not negate)
    if isinstance(node, ast.LogicalBinary):
        op = node.op if not negate else ("OR" if node.op == "AND" else "AND")
        return ast.LogicalBinary(op, _push_not(node.left, negate), _push_not(node.right, negate))
    if negate and isinstance(node, ast.Comparison) and node.op in _NEGATED:
        return ast.Comparison(_NEGATED[node.op], node.left, node.right, pos=node.pos)
    return ast.Not(node) if negate else node


def _disjuncts(node: ast.Expression) -> list[list[ast.Expression]]:
    """LogicRewriter.rewriteDNF then extractDisjuncts: each disjunct as its list of conjuncts."""
    if isinstance(node, ast.LogicalBinary) and node.op == "OR":
        return _disjuncts(node.left) + _disjuncts(node.right)
    if isinstance(node, ast.LogicalBinary) and node.op == "AND":
        return [left + right for left in _disjuncts(node.left) for right in _disjuncts(node.right)]
    return [[node]]


def _and(terms: list[ast.Expression]) -> ast.Expression:
    out = terms[0]
    for term in terms[1:]:
        out = ast.LogicalBinary("AND", out, term)
    return out


@dataclass
class _Lookup:
    """The key values one disjunct fixes (None: it needs a scan)."""

    keys: list[Any] | None


class _WhereAnalysis:
    """QueryFilterNode: validation of each disjunct, key extraction, table-scan decision."""

    def __init__(self, where: ast.Expression, table: LogicalSchema, windowed: bool, session: Session) -> None:
        self.table = table
        self.windowed = windowed
        self.scans = session.flag("ksql.query.pull.table.scan.enabled")
        range_flag = session.get("ksql.query.pull.range.scan.enabled")
        self.ranges = True if range_flag is None else session.flag("ksql.query.pull.range.scan.enabled")
        self.disjuncts = _disjuncts(_push_not(_expand(where)))
        self.requires_scan = False
        self.range = False
        for disjunct in self.disjuncts:
            self._validate(disjunct)
        self.lookups: list[_Lookup] = []

    def extract_lookups(self, custom_types: Any) -> None:
        """QueryFilterNode.extractLookupConstraints, and the physical plan's scan decision."""
        self.custom_types = custom_types
        if self.requires_scan:
            return
        for disjunct in self.disjuncts:
            self.lookups.append(self._extract(disjunct))
        if any(lookup.keys is None for lookup in self.lookups):
            if self.range and self.ranges and not self.windowed and len(self.table.key) == 1:
                self.requires_scan = True  # a range scan: every row is tested against the WHERE clause
            elif not self.scans:
                raise EngineError("Query requires table scan to be enabled. Table scans can be enabled by "
                                  "setting ksql.query.pull.table.scan.enabled=true")
            else:
                self.requires_scan = True

    def _scan_or_fail(self, message: str, windowed: bool) -> None:
        if self.scans:
            self.requires_scan = True
        else:
            raise _invalid_where(message, windowed)

    def _validate(self, disjunct: list[ast.Expression]) -> None:
        seen: set[str] = set()
        keyed = False
        for term in disjunct:
            if isinstance(term, ast.LogicalBinary):
                self._scan_or_fail(f"Only AND expressions are supported: {expression_text(term)}", False)
                continue
            if isinstance(term, ast.Like):
                if not isinstance(term.value, ast.ColumnRef):
                    self._scan_or_fail("Like condition must be between strings", self.windowed)
                    continue
                found = self.table.find(term.value.name)
                if found is None:
                    raise _invalid_where(f"Like condition on non-existent column {term.value.name}", self.windowed)
                if found.type.base != "STRING":
                    raise _invalid_where("The column type for Like condition must be VARCHAR. The column type is "
                                         f"{found.type.base}", self.windowed)
                if not isinstance(term.pattern, (ast.StringLiteral, ast.NullLiteral)):
                    raise _invalid_where("Like condition on non-string pattern "
                                         f"io.confluent.ksql.execution.expression.tree.{type(term.pattern).__name__}",
                                         self.windowed)
                continue
            if not isinstance(term, ast.Comparison):
                raise _invalid_where(f"Unsupported expression in WHERE clause: {expression_text(term)}", False)
            column, other = _column_side(term)
            if column is None:
                self._scan_or_fail("A comparison must directly reference a key column", self.windowed)
                continue
            if any(isinstance(n, ast.ColumnRef) for n in ast.iter_nodes(other)):
                self._scan_or_fail("A comparison must be between a key column and a resolvable expression",
                                   self.windowed)
                continue
            if column.name in WINDOW_BOUNDS:
                if term.op not in _WINDOW_OPERATORS:
                    raise _invalid_where(f"Unsupported {column.name} bounds: {COMPARISON_NAMES.get(term.op)}", True)
                if not self.windowed:
                    raise _invalid_where("Cannot use WINDOWSTART/WINDOWEND on non-windowed source", False)
                continue
            found = self.table.find(column.name)
            if found is None:
                if column.name in PSEUDO_COLUMNS:
                    continue
                raise _invalid_where(f"Bound on non-existent column {column.name}", self.windowed)
            if found.is_key:
                if term.op in ("<>", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"):
                    self._scan_or_fail(f"Bound on key columns '{_key_text(self.table)}' must currently be '='",
                                       self.windowed)
                elif term.op != "=":
                    self.range = True
                if column.name in seen and not self.scans:
                    raise _invalid_where("A comparison condition on the key column cannot be combined with other "
                                         "comparisons such as an IN predicate", self.windowed)
                seen.add(column.name)
                keyed = True
        if not keyed:
            self._scan_or_fail(f"WHERE clause missing key column for disjunct: {expression_text(_and(disjunct))}",
                               self.windowed)
        elif len(seen) != len(self.table.key):
            names = [c.name for c in self.table.key]
            self._scan_or_fail(f"Multi-column sources must specify every key in the WHERE clause. Specified: "
                               f"[{', '.join(n for n in names if n in seen)}] Expected: [{_key_text(self.table)}]",
                               self.windowed)

    def _extract(self, disjunct: list[ast.Expression]) -> _Lookup:
        from labkit.engine.functions.casts import coerce_value
        values: dict[str, Any] = {}
        equal = True
        for term in disjunct:
            if not isinstance(term, ast.Comparison):
                continue
            column, other = _column_side(term)
            if column is None or column.name in WINDOW_BOUNDS:
                continue
            found = self.table.find(column.name)
            if found is None or not found.is_key:
                continue
            if isinstance(other, ast.NullLiteral):
                raise EngineError(f"Primary key columns can not be NULL: {expression_text(term)}")
            if term.op != "=":
                equal = False
                continue
            value = _literal(other)
            if value is _UNRESOLVED:
                value = _resolve(other, self.custom_types)
            if value is _UNRESOLVED:
                equal = False
                continue
            try:
                values[column.name] = coerce_value(value, found.type)
            except Exception:  # noqa: BLE001 - ksqlDB's DefaultSqlValueCoercer.STRICT refusal
                raise EngineError(f"'{value}' can not be converted to the type of the key column: {column.name} "
                                  f"{found.type} KEY") from None
        if not equal or len(values) != len(self.table.key):
            return _Lookup(None)
        return _Lookup([values[c.name] for c in self.table.key])


_UNRESOLVED = object()


def _literal(node: ast.Expression) -> Any:
    if isinstance(node, (ast.StringLiteral, ast.IntegerLiteral, ast.DecimalLiteral, ast.DoubleLiteral,
                         ast.BooleanLiteral)):
        return node.value
    if isinstance(node, ast.ArithmeticUnary) and node.op == "-" and isinstance(node.operand, (
            ast.IntegerLiteral, ast.DecimalLiteral, ast.DoubleLiteral)):
        return -node.operand.value
    return _UNRESOLVED


def _resolve(node: ast.Expression, custom_types: Any) -> Any:
    """GenericExpressionResolver: evaluate an expression that reads no column."""
    from labkit.engine.compile import RUNTIME_ERRORS, ExpressionCompiler, Scope
    try:
        return ExpressionCompiler(Scope.of([]), custom_types=custom_types).compile(node).evaluate([])
    except (EngineError, *RUNTIME_ERRORS):
        return _UNRESOLVED


def _column_side(term: ast.Comparison) -> tuple[ast.ColumnRef | None, ast.Expression]:
    if isinstance(term.right, ast.ColumnRef):
        return term.right, term.left
    if isinstance(term.left, ast.ColumnRef):
        return term.left, term.right
    return None, term.right


def _key_text(schema: LogicalSchema) -> str:
    return ", ".join(f"`{c.name}` {c.type} KEY" for c in schema.key)


# ----------------------------------------------------------------------------------------------- running


def _fails_only_in_between(analysis: Analysis, engine: "KsqlEngine", session: Session) -> bool:
    """True when the WHERE clause type-checks once its BETWEEN predicates are taken as TRUE."""
    from labkit.engine.planner import plan_query

    def unchecked(node: ast.Node) -> ast.Node | None:
        return ast.BooleanLiteral(value=True) if isinstance(node, ast.Between) else None

    stripped = rewrite(analysis.where, unchecked)
    if stripped is analysis.where:
        return False
    try:
        plan_query(_with_where(analysis, stripped),
                   custom_types=engine.catalog.types, config=session.effective())
    except EngineError:
        return False
    return True


def _with_where(analysis: Analysis, where: ast.Expression) -> Analysis:
    clone = copy.copy(analysis)
    clone.where = where
    return clone


def start_pull_query(engine: "KsqlEngine", analysis: Analysis, session: Session) -> TransientQuery:
    """Run a pull query over a materialized table; returns a finished TransientQuery holding the rows."""
    from labkit.engine.planner import plan_query
    source = analysis.source
    check_pull_query(analysis, session)
    table = source.schema
    windowed = source.is_windowed
    where = None
    if analysis.where is not None:
        from labkit.engine.planner import _magic_timestamps, _unqualified
        where = _magic_timestamps(rewrite(analysis.where, _unqualified))
        where_analysis = _WhereAnalysis(where, table, windowed, session)
    else:
        if not session.flag("ksql.query.pull.table.scan.enabled"):
            raise _invalid_where("Missing WHERE clause", windowed)
        where_analysis = None
    try:
        plan = plan_query(analysis, custom_types=engine.catalog.types, config=session.effective())
    except EngineError as error:
        if where is not None and error.message.startswith("Error in WHERE expression: ") \
                and _fails_only_in_between(analysis, engine, session):
            # ksqlDB's FilterTypeValidator types BETWEEN as BOOLEAN unchecked: the mismatch surfaces
            # when the interpreter compiles the WHERE clause.
            inner = error.message[len("Error in WHERE expression: "):]
            raise EngineError(f"Invalid expression: {inner}\nStatement: {expression_text(where)}") from None
        if where is not None and error.message.startswith(("Error in WHERE expression", "Type error in WHERE")):
            raise EngineError(f"{error.message}\nStatement: {expression_text(where)}") from None
        raise
    info = engine.catalog.creating_query(source.name)
    running = engine.runtime.queries.get(info.query_id) if info is not None else None
    materialization = getattr(running, "materialization", None) if running is not None else None
    if materialization is None:
        raise _not_queryable(source.name)
    if where_analysis is not None:
        where_analysis.extract_lookups(engine.catalog.types)
    names = tuple(c.name for c in plan.schema.value)
    types = tuple(c.type for c in plan.schema.value)
    key_names = {c.name for c in table.key} | (set(WINDOW_BOUNDS) if windowed else set())
    keys = tuple(alias for alias, expression in plan.value_expressions
                 if isinstance(expression, ast.ColumnRef) and expression.name in key_names)
    query_id = f"query_{random.randint(1, 2**63 - 1)}"
    transient = PullQuery(query_id, names, types, True, analysis.limit, engine)
    transient.key_columns = keys

    # the pull query's own steps (filter, projection) read the table's rows instead of its topic
    source_step = _find(plan.root, SourceStep)
    table_feeder = _Feeder(source_step.schema, windowed)
    top = _rebase(plan.root, source_step, table_feeder)
    stored_feeder = _Feeder(materialization.feeder_schema, materialization.windowed)
    chain = materialization.chain(stored_feeder)
    ctx = BuildContext(query_id, session.effective(), engine.processing_log, lambda *args: None,
                       dict(engine.catalog.types))
    rows: list[list[Any]] = []
    top.build(ctx, lambda row: rows.append(row.value) if row.value is not None else None)
    value_count = len(table.value)

    def to_processing(row: Row) -> None:
        if row.value is None or row.key is None:
            return
        values = list(row.value[:value_count])
        values += [None] * (value_count - len(values))  # header columns the stored row may lack
        processing = values + [row.timestamp, 0, 0] + list(row.key)
        if windowed:
            processing += list(row.window or (None, None))
        table_feeder.downstream(row.derive(value=processing))  # type: ignore[misc]
    chain.build(ctx, to_processing)

    lookups = None if where_analysis is None or where_analysis.requires_scan else \
        [lookup.keys for lookup in where_analysis.lookups]
    for key, value, timestamp, window in _read(running.state, materialization, lookups, source):
        if materialization.map_value is not None:
            value = materialization.map_value(value)
        stored_feeder.downstream(Row(key, value, timestamp, 0, 0, window))  # type: ignore[misc]
        if analysis.limit is not None and len(rows) >= analysis.limit:
            break
    if analysis.limit is not None:
        rows = rows[:analysis.limit]
    transient._rows = [[to_rest_json(v, t) for v, t in zip(row, types)] for row in rows]
    transient.closed = True
    return transient


@dataclass
class PullQuery(TransientQuery):
    """A table pull query: its rows are read at once; the legacy header marks the key columns."""

    key_columns: tuple[str, ...] = ()
    is_table_pull: bool = True

    def poll(self) -> list[list[Any]]:
        rows, self._rows = self._rows, []
        return rows


def _read(state: Any, materialization: Materialization, lookups: list[Any] | None,
          source: Any) -> list[tuple[list[Any], list[Any], int, tuple[int, int] | None]]:
    """The stored entries, by key (lookups) or all of them in key order (scan)."""
    kind = WindowStore if materialization.windowed else TableStore
    store = state.get_store(materialization.store, kind)
    entries = []
    for store_key, stored in store.items():
        if materialization.windowed:
            frozen, start, end = store_key
            window: tuple[int, int] | None = (start, end)
        elif isinstance(store_key, tuple) and len(store_key) == 3 and isinstance(store_key[0], tuple) \
                and source.is_windowed:
            frozen, start, end = store_key
            window = (start, end)
        else:
            frozen, window = store_key, None
        entries.append((thawed_key(frozen), stored[0], stored[1], window))
    if materialization.windowed and materialization.retention is not None and entries:
        observed = max(e[3][0] for e in entries)  # type: ignore[index]
        bound = observed - materialization.retention + (0 if materialization.inclusive_retention else 1)
        entries = [e for e in entries if e[3][0] >= bound]  # type: ignore[index]
    if lookups is not None:
        wanted = [k for k in lookups if k is not None]
        entries = [e for k in _unique(wanted) for e in entries if e[0] == k]
        return sorted(entries, key=lambda e: (wanted.index(e[0]), e[3] or (0, 0)))
    sort_key = _key_order(source)
    return sorted(entries, key=lambda e: (sort_key(e[0]), e[3] or (0, 0)))


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _key_order(source: Any) -> Callable[[list[Any]], Any]:
    """Stores iterate in the order of the serialized keys (RocksDB's unsigned byte order)."""
    try:
        serde = RecordSerde(LogicalSchema(source.schema.key, ()), KeyFormat(source.key_format.format),
                            ValueFormat(FormatSpec("NONE")), {})
    except SerdeError:
        serde = None

    def order(key: list[Any]) -> Any:
        if serde is not None:
            try:
                return serde.serialize_key(key) or b""
            except (SerdeError, TypeError, ValueError):
                pass
        return repr(key).encode()
    return order
