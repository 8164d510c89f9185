"""From an analysed SELECT to execution steps: the logical plan of ksqlDB's LogicalPlanner.

Nodes are planned in ksqlDB's order: source (or the join tree, `labkit.engine.joins`), WHERE filter,
PARTITION BY (a new key), table functions (flat map), then either the aggregation
(`labkit.engine.aggregates`) or the projection. Each node's schema is computed here, together with
ksqlDB's checks and messages: WHERE must be BOOLEAN, the projection of a persistent query must contain
the key (or the partitioning expressions) exactly once and at least one value column, `SELECT *` expands
to key columns then value columns. Problems ksqlDB only finds while generating code (unsupported casts,
uncoercible IN lists) are reported after the logical checks, as "Invalid Select: ..." or "Invalid
Predicate: ...".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from labkit.engine.analyzer import AliasGenerator, Analysis, is_table_function_call
from labkit.engine.astutil import column_refs, rewrite
from labkit.engine.compile import ExpressionCompiler, Scope
from labkit.engine.errors import CodegenError, EngineError, TypeCheckError, UnknownColumnError
from labkit.engine.exprtext import expression_text
from labkit.engine.formats import WindowInfo
from labkit.engine.schema import PSEUDO_COLUMNS, WINDOW_BOUNDS, Column, LogicalSchema
from labkit.engine.steps import ExecutionStep, FilterStep, ProjectStep, SelectKeyStep, SourceStep
from labkit.engine.types import SqlDecimal, SqlType, decimal_type_of
from labkit.sql import ast

__all__ = ["QueryPlan", "PlanContext", "InternalTopic", "plan_query", "validate_key_present", "joined",
           "order_star"]

def joined(items: Sequence[str], conjunction: str = "and") -> str:
    """ksqlDB's GrammaticalJoiner: 'A', 'A and B', 'A, B and C'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


@dataclass
class InternalTopic:
    """A topic a query needs besides its sources and sink: `<name>-repartition` or `<store>-changelog`.

    `name` is the suffix after `_confluent-ksql-<service id>query_<query id>-`, as ksqlDB names them;
    `topic` is the full name, set when the query is created (None for transient queries).
    """

    name: str
    key_format: str
    value_format: str
    kind: str = "changelog"  # or "repartition"
    topic: str | None = None


@dataclass
class QueryPlan:
    """The steps of a query up to (not including) its sink, and the logical schema it produces."""

    analysis: Analysis
    root: ExecutionStep
    schema: LogicalSchema  # key and value columns of the result (no pseudo columns)
    is_table: bool
    source_names: tuple[str, ...]
    value_expressions: list[tuple[str, ast.Expression]] = field(default_factory=list)
    select_key: SelectKeyStep | None = None
    key_check: Callable[[str], None] | None = None  # validate_key_present for joins and aggregations
    window: WindowInfo | None = None  # the window of the result's keys (windowed aggregations)
    internal_topics: list[InternalTopic] = field(default_factory=list)
    key_format: Any = None  # the internal key format joins and GROUP BY chose (None: the source's)
    materialization: Any = None  # how a pull query reads the result (labkit.engine.pull)

    @property
    def source(self):  # type: ignore[no-untyped-def]
        return self.analysis.source


class _Typer:
    """Types expressions against a schema, collecting code-generation errors for later."""

    def __init__(self, custom_types: dict[str, SqlType], deferred: list[tuple[str, CodegenError]]) -> None:
        self.custom_types = custom_types
        self.deferred = deferred

    def type_of(self, expression: ast.Expression, schema: LogicalSchema, qualifiers: Sequence[str],
                kind: str) -> SqlType | None:
        compiler = ExpressionCompiler(Scope.of(((c.name, c.type) for c in schema.value), qualifiers),
                                      custom_types=self.custom_types)
        try:
            return compiler.compile(expression).type
        except CodegenError as error:
            self.deferred.append((kind, error))
            return _lenient_type(expression, compiler)


def _lenient_type(expression: ast.Expression, compiler: ExpressionCompiler) -> SqlType | None:
    """A best-effort type of an expression whose code cannot be generated (e.g. a bad CAST)."""
    if isinstance(expression, ast.Cast):
        from labkit.engine.schema import sql_type
        try:
            return sql_type(expression.type, compiler.custom_types)
        except Exception:  # noqa: BLE001 - only used to keep checking; the real error is reported later
            return None
    if isinstance(expression, (ast.InList, ast.Comparison, ast.Like, ast.Between, ast.IsNull)):
        from labkit.engine.types import BOOLEAN
        return BOOLEAN
    return None


def _unqualified(node: ast.Node) -> ast.Node | None:
    """ksqlDB's planner drops source qualifiers of a single-source query (`INPUT.ID` → `ID`)."""
    if isinstance(node, ast.ColumnRef) and node.source is not None:
        return ast.ColumnRef(node.name, pos=node.pos)
    return None


_MAGIC_COLUMNS = ("ROWTIME", "WINDOWSTART", "WINDOWEND")


def _magic_timestamps(expression: ast.Expression) -> ast.Expression:
    """ksqlDB's StatementRewriteForMagicPseudoTimestamp: `ROWTIME > '2020-01-01'` compares epoch millis."""
    def is_time_column(node: ast.Expression) -> bool:
        return isinstance(node, ast.ColumnRef) and node.name in _MAGIC_COLUMNS

    def millis(node: ast.Expression) -> ast.Expression | None:
        if not isinstance(node, ast.StringLiteral):
            return None
        from labkit.engine.types import CastError, parse_timestamp_text, timestamp_to_millis
        try:
            return ast.IntegerLiteral(timestamp_to_millis(parse_timestamp_text(node.value)), pos=node.pos)
        except CastError as error:
            raise EngineError(str(error)) from None

    def visit(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.Comparison):
            if is_time_column(node.left) and (right := millis(node.right)) is not None:
                return ast.Comparison(node.op, node.left, right, pos=node.pos)
            if is_time_column(node.right) and (left := millis(node.left)) is not None:
                return ast.Comparison(node.op, left, node.right, pos=node.pos)
        if isinstance(node, ast.Between) and is_time_column(node.value):
            lower, upper = millis(node.lower), millis(node.upper)
            if lower is not None or upper is not None:
                return ast.Between(node.value, lower or node.lower, upper or node.upper, node.negated, pos=node.pos)
        return None
    return rewrite(expression, visit)


def order_star(schema: LogicalSchema) -> list[str]:
    """ksqlDB's PlanNode.orderColumns: key columns (found among the values), window bounds, other values."""
    names = [c.name for c in schema.value]
    keys = [c.name for c in schema.key if c.name in names]
    bounds = [n for n in names if n in WINDOW_BOUNDS]
    key_names = {c.name for c in schema.key}
    values = [n for n in names if n not in WINDOW_BOUNDS and n not in PSEUDO_COLUMNS and n not in key_names]
    return keys + bounds + values


def _partition_schema(parent: LogicalSchema, expressions: Sequence[ast.Expression], typer: _Typer,
                      qualifiers: Sequence[str]) -> tuple[LogicalSchema, list[bool]]:
    """ksqlDB's PartitionByParamsFactory.buildSchema: new key columns, appended to the value when new."""
    if any(isinstance(e, ast.NullLiteral) for e in expressions):
        if len(expressions) > 1:
            raise EngineError("Cannot PARTITION BY multiple columns including NULL")
        return LogicalSchema((), parent.value), []
    generator = AliasGenerator(c.name for c in parent.columns)
    keys: list[Column] = []
    appended: list[bool] = []
    for expression in expressions:
        key_type = typer.type_of(expression, parent, qualifiers, "SelectKey")
        if key_type is None:
            raise EngineError("Can't infer a type of null. Please explicitly cast it to a required type, "
                              "e.g. CAST(null AS VARCHAR).")
        if isinstance(expression, ast.ColumnRef):
            keys.append(Column(expression.name, key_type, "KEY"))
            appended.append(False)
        else:
            keys.append(Column(generator.alias_for(expression), key_type, "KEY"))
            appended.append(True)
    value = list(parent.value) + [Column(k.name, k.type) for k, add in zip(keys, appended) if add]
    return LogicalSchema(tuple(keys), tuple(value)), appended


def _implicit_decimal(expression: ast.Expression, target: SqlType) -> ast.Expression:
    """ksqlDB's ImplicitlyCastResolver: numeric literals inserted into DECIMAL columns become decimals."""
    if not isinstance(target, SqlDecimal):
        return expression
    from decimal import Decimal
    if isinstance(expression, ast.IntegerLiteral):
        value = Decimal(expression.value)
    elif isinstance(expression, ast.DecimalLiteral):
        value = expression.value
    elif isinstance(expression, ast.DoubleLiteral):
        value = Decimal(repr(expression.value))
    else:
        return expression
    source = decimal_type_of(value)
    if source.precision - source.scale <= target.precision - target.scale and source.scale <= target.scale:
        return ast.DecimalLiteral(value.quantize(Decimal(1).scaleb(-target.scale)), pos=expression.pos)
    return expression


class PlanContext:
    """What planning a query needs everywhere: the analysis, the typer, how column references resolve."""

    def __init__(self, analysis: Analysis, custom_types: dict[str, SqlType] | None,
                 config: Mapping[str, Any] | None) -> None:
        self.analysis = analysis
        self.deferred: list[tuple[str, CodegenError]] = []
        self.typer = _Typer(dict(custom_types or {}), self.deferred)
        self.custom_types = dict(custom_types or {})
        self.config: Mapping[str, Any] = dict(config or {})
        self.internal_topics: list[InternalTopic] = []
        self.node_index = 0  # Kafka Streams' processor counter, for KSTREAM-...-<n> store names
        self.refs: Callable[[ast.Node], ast.Node | None] = _unqualified
        self.key_format: Any = None

    def resolve(self, expression: ast.Expression) -> ast.Expression:
        """Column references as the processing schema names them (`T.ID` -> `ID`, or `T_ID` in joins)."""
        return rewrite(expression, self.refs)

    def next_index(self, count: int = 1) -> int:
        """Burn `count` processor indices; returns the first."""
        first = self.node_index
        self.node_index += count
        return first

    def type_of(self, expression: ast.Expression, schema: LogicalSchema, kind: str) -> SqlType | None:
        return self.typer.type_of(expression, schema, (), kind)

    def default_key_format(self) -> str:
        return str(self.config.get("ksql.persistence.default.format.key") or "KAFKA")

    def raise_deferred(self) -> None:
        if self.deferred:
            kind, error = self.deferred[0]
            raise EngineError(f"Invalid {kind}: {error.message}.")


def _join_refs(node: ast.Node) -> ast.Node | None:
    """Join queries name every source column `<alias>_<name>` (ksqlDB's ColumnReferenceRewriter)."""
    if isinstance(node, ast.ColumnRef) and node.source is not None:
        return ast.ColumnRef(f"{node.source}_{node.name}", pos=node.pos)
    return None


def plan_query(analysis: Analysis, *, custom_types: dict[str, SqlType] | None = None,
               sink_name: str | None = None, target_schema: LogicalSchema | None = None,
               config: Mapping[str, Any] | None = None,
               topic_partitions: Callable[[str], int | None] | None = None) -> QueryPlan:
    """Plan a persistent query (with `sink_name`) or a transient one (key columns stay in the value)."""
    ctx = PlanContext(analysis, custom_types, config)
    ctx.topic_partitions = topic_partitions  # type: ignore[attr-defined]
    node: ExecutionStep
    if analysis.is_join:
        from labkit.engine.joins import plan_joins
        ctx.refs = _join_refs
        node = plan_joins(analysis, ctx)
    else:
        node = SourceStep(analysis.source, analysis.alias)
        ctx.next_index(2)  # KSTREAM-SOURCE, KSTREAM-TRANSFORMVALUES
    is_table = node.is_table

    if analysis.where is not None:
        where = _magic_timestamps(ctx.resolve(analysis.where))
        _check_where(where, node.schema, ctx.typer, ())
        node = FilterStep(node, where, ())
        ctx.next_index()

    partition_by = tuple(ctx.resolve(e) for e in analysis.partition_by) \
        if analysis.partition_by is not None else None
    select_key: SelectKeyStep | None = None
    if partition_by is not None:
        _check_repartition(node, partition_by)
        schema, appended = _partition_schema(node.schema, partition_by, ctx.typer, ())
        is_null = not schema.key and not appended
        parent_keys = {c.name for c in node.schema.key}
        key_only = tuple(all(r.name in parent_keys for r in column_refs(e)) for e in partition_by) \
            if not is_null else ()
        select_key = SelectKeyStep(node, () if is_null else tuple(partition_by), schema, tuple(appended), key_only,
                                   ())
        node = select_key
        ctx.next_index()

    items = analysis.items
    if analysis.table_functions:
        node, items = _plan_flat_map(ctx, node, items)

    if analysis.is_aggregate:
        from labkit.engine.aggregates import plan_aggregate
        plan = plan_aggregate(ctx, node, items, sink_name=sink_name, target_schema=target_schema)
        if analysis.query.emit == "FINAL" and analysis.window is None:
            raise EngineError("EMIT FINAL is only supported for windowed aggregations.")
    else:
        if analysis.window is not None:
            raise EngineError("WINDOW clause requires a GROUP BY clause.")
        if analysis.query.emit == "FINAL":
            raise EngineError("EMIT FINAL is only supported for windowed aggregations.")
        plan = plan_projection(ctx, node, items, select_key, sink_name=sink_name, target_schema=target_schema)
        plan.is_table = is_table
    plan.forced_earliest = set(getattr(ctx, "forced_earliest", set()))  # type: ignore[attr-defined]
    plan.physical_checks = list(getattr(ctx, "physical_checks", []))  # type: ignore[attr-defined]
    if sink_name is None:
        run_physical_checks(plan)
    return plan


def run_physical_checks(plan: QueryPlan) -> None:
    """The checks ksqlDB makes while building the topology (after the logical plan's)."""
    for check in getattr(plan, "physical_checks", []):
        check()
    plan.physical_checks = []  # type: ignore[attr-defined]


def _plan_flat_map(ctx: PlanContext, node: ExecutionStep,
                   items: Sequence[ast.SelectItem]) -> tuple[ExecutionStep, list[ast.SelectItem]]:
    """Table functions become a FlatMapStep; the select items read its KSQL_SYNTH_n columns."""
    from labkit.engine.table_functions import SYNTH_PREFIX, FlatMapStep, resolve_table_function
    calls = [ctx.resolve(c) for c in ctx.analysis.table_functions]
    types: list[SqlType] = []
    for call in calls:
        arg_types = [ctx.type_of(a, node.schema, "Select") for a in call.args]
        try:
            types.append(resolve_table_function(call.name, arg_types).return_type)
        except TypeCheckError as error:
            raise EngineError(error.message) from None
    flat = FlatMapStep(node, tuple(calls), (), tuple(types))  # type: ignore[arg-type]
    ctx.next_index()
    replacements = {call: ast.ColumnRef(f"{SYNTH_PREFIX}{i}") for i, call in enumerate(calls)}

    def replace_calls(n: ast.Node) -> ast.Node | None:
        if is_table_function_call(n):
            return replacements.get(ctx.resolve(n))  # type: ignore[arg-type]
        return None
    out: list[ast.SelectItem] = []
    for item in items:
        if isinstance(item, ast.SingleColumn):
            out.append(ast.SingleColumn(rewrite(item.expression, replace_calls), item.alias, pos=item.pos))
        else:
            out.append(item)
    return flat, out


def plan_projection(ctx: PlanContext, node: ExecutionStep, items: Sequence[ast.SelectItem],
                    select_key: SelectKeyStep | None, *, sink_name: str | None,
                    target_schema: LogicalSchema | None) -> QueryPlan:
    """ksqlDB's FinalProjectNode: the value columns, and which select items are the key columns."""
    analysis = ctx.analysis
    typer = ctx.typer
    parent = node.schema
    persistent = sink_name is not None
    selects = _select_expressions(ctx, items, node, select_key, target_schema)
    key_refs = {c.name for c in parent.key}
    key_columns: list[list[str]] = [[] for _ in parent.key]
    values: list[Column] = []
    value_exprs: list[tuple[str, ast.Expression]] = []
    seen_keys: dict[str, list[str]] = {}
    for alias, expression in selects:
        if persistent and isinstance(expression, ast.ColumnRef) and expression.name in WINDOW_BOUNDS \
                and alias == expression.name:
            continue  # window bounds are dropped from a persistent projection unless aliased
        is_key_ref = isinstance(expression, ast.ColumnRef) and expression.name in key_refs
        expr_type = typer.type_of(expression, parent, (), "Select")
        if is_key_ref and persistent:
            assert isinstance(expression, ast.ColumnRef)
            index = [c.name for c in parent.key].index(expression.name)
            key_columns[index].append(alias)
            seen_keys.setdefault(expression.name, []).append(alias)
            continue
        if expr_type is None:
            raise EngineError("Can't infer a type of null. Please explicitly cast it to a required type, "
                              "e.g. CAST(null AS VARCHAR).")
        values.append(Column(alias, expr_type))
        value_exprs.append((alias, expression))

    for key_name, aliases in seen_keys.items():
        if len(aliases) > 1:
            raise EngineError(
                f"The projection contains a key column (`{key_name}`) more than once, aliased as: "
                f"{joined(sorted(aliases))}.\nEach key column must only be in the projection once. If you intended "
                "to copy the key into the value, then consider using the AS_VALUE function to indicate which key "
                "reference should be copied.")
    seen_values: set[str] = set()
    for column in values:  # SelectionUtil.buildProjectionSchema
        if column.name in seen_values:
            raise EngineError(f"Duplicate value columns found in schema: `{column.name}` {column.type}")
        seen_values.add(column.name)
    if persistent and not values:
        raise EngineError("The projection contains no value columns.")

    if persistent:
        keys = tuple(Column(aliases[0], column.type, "KEY")
                     for column, aliases in zip(parent.key, key_columns) if aliases)
        duplicates = _duplicates([c.name for c in keys] + [c.name for c in values])
        if duplicates:
            raise EngineError(f"Value columns clash with key columns: {', '.join('`' + d + '`' for d in duplicates)}")
    else:
        keys = tuple(Column(c.name, c.type, "KEY") for c in parent.key)
    output = LogicalSchema(keys, tuple(values))
    ctx.raise_deferred()
    project = ProjectStep(node, tuple(e for _, e in value_exprs), output, ())
    ctx.next_index()
    plan = QueryPlan(analysis, project, output, node.is_table, tuple(s.source.name for s in analysis.sources),
                     value_exprs, select_key, internal_topics=ctx.internal_topics, key_format=ctx.key_format)
    if analysis.is_join:
        plan.key_check = getattr(ctx, "join_key_check", None)
    return plan


def validate_key_present(plan: QueryPlan, sink_name: str) -> None:
    """The projection of a persistent query must contain the key columns or partitioning expressions."""
    if plan.key_check is not None and plan.select_key is None:
        plan.key_check(sink_name)
    else:
        _check_key_present(plan.analysis, plan.select_key, sink_name)
    run_physical_checks(plan)


def _check_repartition(node: ExecutionStep, partition_by: Sequence[ast.Expression]) -> None:
    """Tables and windowed streams cannot be re-keyed (partitioning by the current key is a no-op)."""
    key = node.schema.key
    needed = (not key or len(key) != 1 or len(partition_by) != 1
              or not isinstance(partition_by[0], ast.ColumnRef) or partition_by[0].name != key[0].name)
    if not needed:
        return
    if node.is_table:
        if len(key) > 1:
            raise EngineError("Cannot repartition a TABLE source. If this is a join, joins on tables with multiple "
                              "columns is not yet supported.")
        raise EngineError("Cannot repartition a TABLE source. If this is a join, make sure that the criteria uses the "
                          f"TABLE's key column {key[0].name} instead of "
                          f"[{', '.join(expression_text(e) for e in partition_by)}]")
    if _is_windowed(node):
        raise EngineError("Implicit repartitioning of windowed sources is not supported. See "
                          "https://github.com/confluentinc/ksql/issues/4385.")


def _is_windowed(node: ExecutionStep) -> bool:
    return node.is_windowed


def _duplicates(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name in seen and name not in out:
            out.append(name)
        seen.add(name)
    return out


def _check_where(where: ast.Expression, schema: LogicalSchema, typer: _Typer, qualifiers: Sequence[str]) -> None:
    """ksqlDB's FilterTypeValidator."""
    try:
        where_type = typer.type_of(where, schema, qualifiers, "Predicate")
    except (TypeCheckError, UnknownColumnError) as error:
        raise EngineError(f"Error in WHERE expression: {error.message}") from None
    if where_type is None or where_type.base != "BOOLEAN":
        raise EngineError(f"Type error in WHERE expression: Should evaluate to boolean but is "
                          f"{expression_text(where)} ({where_type}) instead.")


def _select_expressions(ctx: PlanContext, items: Sequence[ast.SelectItem], node: ExecutionStep,
                        select_key: SelectKeyStep | None,
                        target: LogicalSchema | None) -> list[tuple[str, ast.Expression]]:
    """Expand `*` and `s->*`, resolve partitioning expressions to key columns, cast for INSERT INTO."""
    out: list[tuple[str, ast.Expression]] = []
    target_columns = target.columns if target is not None else ()
    parent = node.schema
    for index, item in enumerate(items):
        if isinstance(item, ast.AllColumns):
            if hasattr(ctx, "star_columns") and select_key is None:
                names = ctx.star_columns(item.source)
            else:
                names = [n for n in order_star(parent) if not n.startswith("KSQL_SYNTH_")]
            out.extend((name, ast.ColumnRef(name)) for name in names)
        elif isinstance(item, ast.StructAll):
            base = ctx.resolve(item.base)
            struct_type = _struct_type(base, parent, ctx)
            out.extend((f.name, ast.Dereference(base, f.name)) for f in struct_type.fields)
        else:
            assert isinstance(item, ast.SingleColumn) and item.alias is not None
            expression = ctx.resolve(item.expression)
            if select_key is not None:
                for position, partition in enumerate(select_key.expressions):
                    if partition == expression:
                        expression = ast.ColumnRef(select_key.schema.key[position].name)
                        break
            if index < len(target_columns):
                expression = _implicit_decimal(expression, target_columns[index].type)
            out.append((item.alias, expression))
    return out


def _struct_type(base: ast.Expression, schema: LogicalSchema, ctx: PlanContext):  # type: ignore[no-untyped-def]
    from labkit.engine.types import SqlStruct
    compiler = ExpressionCompiler(Scope.of(((c.name, c.type) for c in schema.value), ()),
                                  custom_types=ctx.custom_types)
    struct_type = compiler.compile(base).type
    if not isinstance(struct_type, SqlStruct):
        raise EngineError(f"Column {expression_text(base)} is not a STRUCT type.")
    return struct_type


def _check_key_present(analysis: Analysis, select_key: SelectKeyStep | None, sink_name: str) -> None:
    """ksqlDB's validateKeyPresent: the projection must contain the key columns / partitioning expressions."""
    items = analysis.items
    if any(isinstance(i, ast.AllColumns) for i in items):
        return
    singles = [i.expression for i in items if isinstance(i, ast.SingleColumn)]
    singles += [i.base for i in items if isinstance(i, ast.StructAll)]

    def contains(expression: ast.Expression) -> bool:
        return any(expression == s for s in singles)

    if select_key is not None:
        if not select_key.expressions:
            return
        required = list(analysis.partition_by or ())
        if all(contains(e) for e in required):
            return
        _throw_keys_missing(sink_name, "partitioning expression", [expression_text(e) for e in required])
    source = analysis.source
    if not source.schema.key:
        return
    for column in source.schema.key:
        if not contains(ast.ColumnRef(column.name, analysis.alias)) and not contains(ast.ColumnRef(column.name)):
            _throw_keys_missing(sink_name, "key column", [c.name for c in source.schema.key])


def _throw_keys_missing(sink_name: str, kind: str, required: list[str]) -> None:
    plural = "s" if len(required) > 1 else ""
    kinds = kind + ("" if len(required) == 1 else "s")
    raise EngineError(f"Key{plural} missing from projection (ie, SELECT). \nThe query used to build `{sink_name}` "
                      f"must include the {kinds} {joined(required)} in its projection (eg, SELECT "
                      f"{', '.join(required)}...).")
