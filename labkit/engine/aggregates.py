"""Planning GROUP BY: ksqlDB's AggregateAnalyzer rules, the aggregate schema and the aggregation steps.

The rows of the input are grouped by the GROUP BY expressions (re-keyed through
`Aggregate-GroupBy-repartition` unless they already are the key), aggregated into the state store
`Aggregate-Aggregate-Materialize` (one row per key, or per key and window), filtered by HAVING and
projected. Inside the aggregation a row is `[non-aggregate columns..., KSQL_AGG_VARIABLE_0, ...]` (then
WINDOWSTART and WINDOWEND for windowed aggregations), as ksqlDB's AggregateParamsFactory lays it out; the
aggregate calls of SELECT and HAVING are rewritten to read those variables.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from labkit.engine.aggregate_steps import AggregateSpec, AggregateStep, GroupByStep, WindowBoundsStep
from labkit.engine.analyzer import SYNTHETIC_KEY_PREFIX, is_aggregate_call
from labkit.engine.astutil import rewrite
from labkit.engine.errors import EngineError
from labkit.engine.exprtext import expression_text
from labkit.engine.formats import FormatSpec, KeyFormat, ValueFormat
from labkit.engine.functions import is_function
from labkit.engine.planner import (
    InternalTopic, PlanContext, QueryPlan, _check_where, _duplicates, _select_expressions, joined,
)
from labkit.engine.schema import WINDOW_BOUNDS, Column, LogicalSchema
from labkit.engine.steps import ExecutionStep, FilterStep, ProjectStep
from labkit.engine.types import SqlType
from labkit.engine.udafs import UdafArg, UdafError, UdafResolutionError, is_aggregate, resolve_udaf
from labkit.engine.windows import window_definition
from labkit.sql import ast

__all__ = ["plan_aggregate", "AGGREGATE_PREFIX"]

AGGREGATE_PREFIX = "KSQL_AGG_VARIABLE_"
_DUMMY_KEY = ast.StringLiteral("\x01")  # ksqlDB's dummy GROUP BY (a BytesLiteral) for aggregates without one


def _upper_calls(expression: ast.Expression) -> ast.Expression:
    def visit(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.FunctionCall) and node.name != node.name.upper():
            return ast.FunctionCall(node.name.upper(), tuple(rewrite(a, visit) for a in node.args), node.star,
                                    pos=node.pos)
        return None
    return rewrite(expression, visit)


# ------------------------------------------------------------------------------------- AggregateAnalyzer


@dataclass
class _Analysis:
    """MutableAggregateAnalysis: the aggregate calls, their arguments and the columns the rows need."""

    functions: list[ast.FunctionCall] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    non_agg_selects: list[ast.Expression] = field(default_factory=list)
    non_agg_having: list[ast.Expression] = field(default_factory=list)


class _Visitor:
    """ksqlDB's AggregateVisitor over one expression."""

    def __init__(self, result: _Analysis, group_by: set[ast.Expression], default_arg: ast.Expression,
                 collect: Callable[[str | None, ast.Expression], None]) -> None:
        self.result = result
        self.group_by = group_by
        self.default_arg = default_arg
        self.collect = collect
        self.in_group_by: ast.Node | None = None
        self.agg_name: str | None = None
        self.in_aggregate = False

    def process(self, node: ast.Node) -> None:
        if node in self.group_by and self.in_group_by is None:
            self.in_group_by = node
        if isinstance(node, ast.FunctionCall):
            self._function(node)
        elif isinstance(node, ast.ColumnRef):
            self._column(node)
        elif isinstance(node, ast.Lambda):
            self.process(node.body)
        else:
            for child in _children(node):
                self.process(child)
        if self.in_group_by is node:
            self.in_group_by = None

    def _function(self, node: ast.FunctionCall) -> None:
        name = node.name.upper()
        aggregate = is_aggregate(name)
        if not aggregate and not is_function(name) and not _is_table_function(name):
            raise EngineError(f"Can't find any functions with the name '{name}'")
        call = ast.FunctionCall(name, (self.default_arg,), pos=node.pos) if aggregate and not node.args else node
        if aggregate:
            if self.agg_name is not None:
                raise EngineError(f"Aggregate functions can not be nested: {self.agg_name}({name}())")
            self.in_aggregate = True
            self.agg_name = name
            if call not in self.result.functions:
                self.result.functions.append(call)
        for arg in call.args:
            self.process(arg)
        if aggregate:
            self.agg_name = None

    def _column(self, node: ast.ColumnRef) -> None:
        bound = node.name in WINDOW_BOUNDS
        if self.in_group_by is None or self.in_aggregate or bound:
            self.collect(self.agg_name, node)
        if not bound and node.name not in self.result.required:
            self.result.required.append(node.name)


def _is_table_function(name: str) -> bool:
    from labkit.engine.table_functions import is_table_function
    return is_table_function(name)


def _children(node: ast.Node) -> list[ast.Node]:
    from labkit.engine.analyzer import _children as children
    return children(node)


def _window_bound_error(node: ast.Expression) -> EngineError:
    return EngineError(f"Window bounds column {expression_text(node)} can only be used in the SELECT clause of "
                       "windowed aggregations and can not be passed to aggregate functions.\nSee "
                       "https://github.com/confluentinc/ksql/issues/4397")


def _analyze(selects: Sequence[ast.Expression], where: ast.Expression | None, group_by: Sequence[ast.Expression],
             having: ast.Expression | None, windowed: bool, default_arg: ast.Expression) -> _Analysis:
    result = _Analysis()
    group_set = set(group_by)
    if windowed:
        group_set |= {ast.ColumnRef(n) for n in WINDOW_BOUNDS}

    def bound_check(node: ast.Expression) -> None:
        if windowed and isinstance(node, ast.ColumnRef) and node.name in WINDOW_BOUNDS:
            raise _window_bound_error(node)

    for expression in selects:
        params: list[ast.Expression] = []

        def on_select(agg: str | None, node: ast.Expression) -> None:
            if agg is not None:
                bound_check(node)
            elif node not in group_set:
                params.append(node)
        _Visitor(result, group_set, default_arg, on_select).process(expression)
        if expression not in group_set and any(p not in group_set for p in params):
            result.non_agg_selects.append(expression)
    if where is not None:
        _Visitor(result, group_set, default_arg, lambda agg, node: bound_check(node)).process(where)
    for expression in group_by:
        def on_group(agg: str | None, node: ast.Expression) -> None:
            if agg is not None:
                raise EngineError(f"GROUP BY does not support aggregate functions: {agg} is an aggregate function.")
            bound_check(node)
        _Visitor(result, group_set, default_arg, on_group).process(expression)
    if having is not None:
        def on_having(agg: str | None, node: ast.Expression) -> None:
            bound_check(node)
            if agg is None and node not in group_set:
                result.non_agg_having.append(node)
        _Visitor(result, group_set, default_arg, on_having).process(having)

    if not result.functions:
        raise EngineError("GROUP BY requires aggregate functions in either the SELECT or HAVING clause.")
    if result.non_agg_selects:
        raise EngineError("Non-aggregate SELECT expression(s) not part of GROUP BY: "
                          + ", ".join(expression_text(e) for e in result.non_agg_selects)
                          + "\nEither add the column(s) to the GROUP BY or remove them from the SELECT.")
    if result.non_agg_having:
        raise EngineError("Non-aggregate HAVING expression not part of GROUP BY: "
                          + ", ".join(expression_text(e) for e in result.non_agg_having)
                          + "\nConsider switching the HAVING clause to a WHERE clause before the GROUP BY.")
    return result


# ------------------------------------------------------------------------------------------- planning


def _literal(expression: ast.Expression) -> tuple[bool, Any]:
    if isinstance(expression, ast.ArithmeticUnary) and expression.op == "-" and isinstance(
            expression.operand, (ast.IntegerLiteral, ast.DoubleLiteral, ast.DecimalLiteral)):
        return True, -expression.operand.value
    if isinstance(expression, (ast.IntegerLiteral, ast.DoubleLiteral, ast.DecimalLiteral, ast.StringLiteral,
                               ast.BooleanLiteral)):
        return True, expression.value
    if isinstance(expression, ast.NullLiteral):
        return True, None
    return False, None


def plan_aggregate(ctx: PlanContext, node: ExecutionStep, items: Sequence[ast.SelectItem], *,
                   sink_name: str | None, target_schema: LogicalSchema | None) -> QueryPlan:
    """ksqlDB's LogicalPlanner.buildAggregateNode and AggregateNode.buildStream."""
    analysis = ctx.analysis
    persistent = sink_name is not None
    source = node.schema
    windowed = analysis.window is not None
    default_arg = ctx.resolve(ast.ColumnRef("ROWTIME", analysis.alias))

    selects = [(alias, _upper_calls(e)) for alias, e in _select_expressions(ctx, items, node, None, target_schema)]
    group_by = [_upper_calls(ctx.resolve(e)) for e in analysis.group_by] if analysis.group_by is not None \
        else [_DUMMY_KEY]
    having = _upper_calls(ctx.resolve(analysis.having)) if analysis.having is not None else None
    where = ctx.resolve(analysis.where) if analysis.where is not None else None
    result = _analyze([e for _, e in selects], where, group_by, having, windowed, default_arg)

    # --- the aggregate functions and the aggregation schema (AggregateParamsFactory) ---
    udafs = []
    for call in result.functions:
        args = []
        for arg in call.args:
            is_literal, value = _literal(arg)
            arg_type = ctx.type_of(arg, source, "Select")
            args.append(UdafArg(arg_type, is_literal, value, expression_text(arg)))
        try:
            udafs.append(resolve_udaf(call.name, args, ctx.config))
        except (UdafResolutionError, UdafError) as error:
            raise EngineError(str(error)) from None
    non_agg = [Column(name, source.find(name).type) for name in result.required  # type: ignore[union-attr]
               if source.find(name) is not None]
    agg_columns = [Column(f"{AGGREGATE_PREFIX}{i}", u.return_type) for i, u in enumerate(udafs)]
    replacements = {call: ast.ColumnRef(f"{AGGREGATE_PREFIX}{i}") for i, call in enumerate(result.functions)}

    def to_variables(expression: ast.Expression) -> ast.Expression:
        def visit(n: ast.Node) -> ast.Node | None:
            if isinstance(n, ast.FunctionCall) and is_aggregate(n.name):
                call = ast.FunctionCall(n.name.upper(), (default_arg,), pos=n.pos) if not n.args else n
                return replacements.get(call)
            return None
        return rewrite(expression, visit)

    # --- the grouping key (GroupByParamsFactory / buildAggregateSchema) ---
    from labkit.engine.analyzer import AliasGenerator
    generator = AliasGenerator(c.name for c in source.columns)
    group_types: list[SqlType] = []
    for expression in group_by:
        if expression is _DUMMY_KEY:
            from labkit.engine.types import BYTES
            group_types.append(BYTES)
            continue
        group_type = ctx.type_of(expression, source, "GroupBy")
        if group_type is None:
            raise EngineError("Can't infer a type of null. Please explicitly cast it to a required type, e.g. "
                              "CAST(null AS VARCHAR).")
        group_types.append(group_type)
    internal_keys = [Column(e.name if isinstance(e, ast.ColumnRef) else generator.alias_for(e), t, "KEY")
                     for e, t in zip(group_by, group_types)]

    window_columns = [Column(n, t) for n, t in (("WINDOWSTART", _bigint()), ("WINDOWEND", _bigint()))] \
        if windowed else []
    agg_schema = LogicalSchema(tuple(internal_keys), tuple(non_agg) + tuple(agg_columns) + tuple(window_columns))
    # ksqlDB keeps window bounds as values after the aggregation, and key copies for the projection
    post_schema = LogicalSchema(agg_schema.key, agg_schema.value + tuple(
        Column(c.name, c.type) for c in agg_schema.key if agg_schema.value_index(c.name) is None))

    # --- the result schema (LogicalPlanner.buildAggregateSchema) ---
    projected = [(alias, to_variables(e)) for alias, e in selects]
    seen: set[str] = set()
    for alias, expression in projected:  # SelectionUtil.buildProjectionSchema
        if alias in seen:
            raise EngineError(f"Duplicate value columns found in schema: `{alias}` "
                              f"{ctx.type_of(expression, post_schema, 'Select')}")
        seen.add(alias)
    found_keys: dict[int, str] = {}
    for index, expression in enumerate(group_by):
        matches = [alias for alias, e in selects if e == expression]
        if len(matches) > 1:
            raise EngineError(f"The projection contains a key column more than once: "
                              f"{joined(['`' + m + '`' for m in matches])}.\nEach key column must only be in the "
                              "projection once. If you intended to copy the key into the value, then consider using "
                              "the AS_VALUE function to indicate which key reference should be copied.")
        if matches:
            found_keys[index] = matches[0]
    key_names = {found_keys[i] for i in found_keys}
    values: list[Column] = []
    value_expressions: list[tuple[str, ast.Expression]] = []
    group_set = set(group_by)
    for (alias, expression), (_, original) in zip(projected, selects):
        if persistent and original in group_set:
            continue
        if persistent and isinstance(expression, ast.ColumnRef) and expression.name in WINDOW_BOUNDS \
                and alias == expression.name:
            continue  # window bounds are dropped from a persistent projection unless aliased
        expr_type = ctx.type_of(expression, post_schema, "Select")
        if expr_type is None:
            raise EngineError("Can't infer a type of null. Please explicitly cast it to a required type, "
                              "e.g. CAST(null AS VARCHAR).")
        values.append(Column(alias, expr_type))
        value_expressions.append((alias, expression))
    if persistent and not values:
        raise EngineError("The projection contains no value columns.")
    result_keys = []
    for index, (column, expression) in enumerate(zip(internal_keys, group_by)):
        if index in found_keys:
            name = found_keys[index]
        elif isinstance(expression, ast.ColumnRef):
            name = expression.name
        else:
            name = column.name
        result_keys.append(Column(name, column.type, "KEY"))
    if persistent:
        output = LogicalSchema(tuple(result_keys), tuple(values))
    else:
        output = LogicalSchema(tuple(result_keys), tuple(values))
    if key_names and persistent:
        clash = [c.name for c in values if c.name in key_names]
        if clash:
            raise EngineError(f"Duplicate value columns found in schema: `{clash[0]}`")

    if having is not None:
        having_expression = to_variables(having)
        try:
            _check_where(having_expression, post_schema, ctx.typer, ())
        except EngineError as error:
            message = error.message.replace("WHERE expression", "HAVING expression")
            for index in sorted(range(len(result.functions)), reverse=True):
                message = message.replace(f"{AGGREGATE_PREFIX}{index}", expression_text(result.functions[index]))
            raise EngineError(message) from None
    else:
        having_expression = None
    ctx.raise_deferred()

    # --- steps ---
    is_table_source = node.is_table
    if is_table_source:
        if windowed:
            raise EngineError("Windowing not supported for table aggregations.")
        unsupported = list(dict.fromkeys(u.name for u in udafs if not u.supports_undo))
        if unsupported:
            plural = "" if len(unsupported) == 1 else "s"
            raise EngineError(f"The aggregation function{plural} {joined(unsupported)} cannot be applied to a table "
                              "source, only to a stream source.")
    key_format = _internal_key_format(ctx, node, group_by, group_types)
    value_format = _source_value_format(ctx)
    _check_intermediate_types(agg_schema, udafs, non_agg, value_format, ctx)
    rekey = is_table_source or _repartition_needed(node.schema, group_by)
    repartition = InternalTopic("Aggregate-GroupBy-repartition", key_format.name, value_format.name,
                                "repartition") if rekey else None
    if repartition is not None:
        ctx.internal_topics.append(repartition)
    grouped = GroupByStep(node, tuple(group_by), tuple(internal_keys), rekey, repartition, key_format)
    window = window_definition(analysis.window) if windowed else None
    store = "Aggregate-Aggregate-Materialize"
    spec = AggregateSpec(
        functions=tuple(result.functions), udafs=tuple(udafs), non_aggregate=tuple(c.name for c in non_agg),
        arguments=tuple(tuple(a for a in call.args[:u.column_args]) for call, u in zip(result.functions, udafs)),
        window=window, emit_final=analysis.query.emit == "FINAL")
    aggregated: ExecutionStep = AggregateStep(grouped, spec, LogicalSchema(agg_schema.key, tuple(non_agg)
                                                                           + tuple(agg_columns)), store)
    ctx.internal_topics.append(InternalTopic(f"{store}-changelog", key_format.name, value_format.name))
    if window is not None and window.suppression_store is not None and spec.emit_final:
        ctx.internal_topics.append(InternalTopic(f"{window.suppression_store}-changelog", key_format.name,
                                                 value_format.name))
    if windowed:
        aggregated = WindowBoundsStep(aggregated, agg_schema)
    post: ExecutionStep = _WithKeyCopies(aggregated, post_schema)
    if having_expression is not None:
        post = FilterStep(post, having_expression, ())
    project = ProjectStep(post, tuple(e for _, e in value_expressions), output, ())
    plan = QueryPlan(analysis, project, output, True, tuple(s.source.name for s in analysis.sources),
                     value_expressions, None, internal_topics=ctx.internal_topics, key_format=key_format)
    plan.window = window.info if window is not None else None
    plan.key_check = _key_check(ctx, selects, group_by, result.functions, default_arg)
    plan.materialization = ("aggregate", store, agg_schema, spec, post_schema, having_expression, value_expressions,
                            output)
    return plan


def _bigint() -> SqlType:
    from labkit.engine.types import BIGINT
    return BIGINT


class _WithKeyCopies(ExecutionStep):
    """Appends the key columns to the value so the projection can read them (ksqlDB's processing schema)."""

    def __init__(self, parent: ExecutionStep, schema: LogicalSchema) -> None:
        self.parent = parent
        self.schema = schema
        self.is_table = True
        self.extra = len(schema.value) - len(parent.schema.value)

    @property
    def is_windowed(self) -> bool:
        return self.parent.is_windowed

    def describe(self) -> str:
        return "Aggregate-Project"

    def build(self, ctx, downstream):  # type: ignore[no-untyped-def]
        extra = self.extra
        if extra == 0:
            self.parent.build(ctx, downstream)
            return
        positions = [i for i, c in enumerate(self.schema.key)
                     if self.parent.schema.value_index(c.name) is None][:extra]

        def process(row):  # type: ignore[no-untyped-def]
            key = row.key or [None] * len(self.schema.key)
            value = None if row.value is None else row.value + [key[i] for i in positions]
            old = None if row.old is None else row.old + [key[i] for i in positions]
            downstream(row.derive(value=value, old=old))
        self.parent.build(ctx, process)


def _key_check(ctx: PlanContext, selects: Sequence[tuple[str, ast.Expression]], group_by: Sequence[ast.Expression],
               functions: Sequence[ast.FunctionCall], default_arg: ast.Expression) -> Callable[[str], None]:
    """AggregateNode.validateKeyPresent: every grouping expression must be projected."""
    def check(sink_name: str) -> None:
        missing = [e for e in group_by if e not in [s for _, s in selects]]
        if not missing:
            return
        if any(e is _DUMMY_KEY for e in missing):
            texts = ", ".join(expression_text(f) for f in functions)
            raise EngineError(f"CREATE TABLE AS SELECT statement does not support aggregate function [{texts}] "
                              "without a GROUP BY clause.")
        texts = [expression_text(e) for e in missing]
        plural = "s" if len(texts) > 1 else ""
        raise EngineError(f"Key{plural} missing from projection (ie, SELECT). \nThe query used to build `{sink_name}` "
                          f"must include the grouping expression{plural} {joined(texts)} in its projection (eg, "
                          f"SELECT {', '.join(texts)}...).")
    return check


def _repartition_needed(schema: LogicalSchema, group_by: Sequence[ast.Expression]) -> bool:
    key = schema.key
    if not key or len(key) != 1 or len(group_by) != 1:
        return True
    expression = group_by[0]
    return not isinstance(expression, ast.ColumnRef) or expression.name != key[0].name


def _internal_key_format(ctx: PlanContext, node: ExecutionStep, group_by: Sequence[ast.Expression],
                         types: Sequence[SqlType]) -> KeyFormat:
    """SchemaKStream.groupBy: the source's key format (the default for NONE), JSON for what it cannot carry."""
    source_format = ctx.key_format or ctx.analysis.source.key_format
    if not _repartition_needed(node.schema, group_by) and not node.is_table:
        return KeyFormat(source_format.format)
    name = source_format.name
    if name == "NONE":
        name = ctx.default_key_format()
    spec = source_format.format if name == source_format.name else FormatSpec.of(name)
    if len(group_by) > 1 and name in ("KAFKA", "NONE"):
        return KeyFormat(FormatSpec.of("JSON"))
    from labkit.engine.serde import make_serde
    try:
        make_serde(name, [(f"K{i}", t) for i, t in enumerate(types)], {}, is_key=True)
    except Exception:  # noqa: BLE001 - the format cannot carry the key: ksqlDB switches to JSON
        return KeyFormat(FormatSpec.of("JSON"))
    return KeyFormat(spec)


def _source_value_format(ctx: PlanContext) -> ValueFormat:
    return ctx.analysis.source.value_format


def _check_intermediate_types(schema: LogicalSchema, udafs: Sequence[Any], non_agg: Sequence[Column],
                              value_format: ValueFormat, ctx: PlanContext) -> None:
    """MaterializationUtil: the value format must carry the aggregation's intermediate types."""
    from labkit.engine.serde import SerdeError, make_serde
    columns = [(c.name, c.type) for c in non_agg] + [(f"{AGGREGATE_PREFIX}{i}", u.aggregate_type)
                                                     for i, u in enumerate(udafs)]
    try:
        make_serde(value_format.name, columns, {})
    except SerdeError:
        raise EngineError("One of the functions used in the statement has an intermediate type that the value format "
                          "can not handle. Please remove the function or change the format.\nConsider up-voting "
                          "https://github.com/confluentinc/ksql/issues/3950, which will resolve this limitation")
    except Exception:  # noqa: BLE001 - other serde problems surface when the sink is checked
        return


_ = SYNTHETIC_KEY_PREFIX
_unused_is_aggregate_call = is_aggregate_call
