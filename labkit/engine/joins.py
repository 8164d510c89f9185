"""Planning joins: ksqlDB's JoinTree, join-key resolution, repartitioning and the join checks.

The joins of a query form a left-deep tree (the FROM source at the bottom left, each JOIN adding a source
on the right), as ksqlDB's JoinTree builds it. For each join the planner checks the join kind against the
source kinds (stream-stream, stream-table, table-table primary-key or foreign-key), picks the result key
(the first join column the projection uses, or the synthetic `ROWKEY` for FULL OUTER joins and joins on
expressions), repartitions a side whose join expression is not its key (`<prefix><Side>SourceKeyed`),
prefixes every column with its source alias (`PrependAlias<prefix><Side>`, so `T.ID` becomes `T_ID`) and
builds the join step with ksqlDB's output schema. Internal topics and stores are named as ksqlDB and
Kafka Streams name them, so the Kafka runtime can back them with the same changelog topics.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from labkit.engine.analyzer import Analysis, AliasGenerator, JoinInfo, SourceAlias
from labkit.engine.astutil import rewrite
from labkit.engine.ddl import _contains_map
from labkit.engine.errors import EngineError
from labkit.engine.exprtext import expression_text
from labkit.engine.formats import FormatSpec, KeyFormat
from labkit.engine.join_steps import (
    ForeignKeyJoinStep, JoinWindowSpec, PrependAliasStep, RepartitionStep, StreamStreamJoinStep, StreamTableJoinStep,
    TableTableJoinStep,
)
from labkit.engine.planner import InternalTopic, PlanContext, joined, order_star
from labkit.engine.schema import LogicalSchema
from labkit.engine.steps import ExecutionStep, SourceStep
from labkit.sql import ast

__all__ = ["plan_joins"]


# ------------------------------------------------------------------------------------------- join tree


@dataclass(frozen=True)
class _Leaf:
    source: SourceAlias

    def contains(self, source: SourceAlias) -> bool:
        return self.source.alias == source.alias

    def equivalence(self) -> set[ast.Expression]:
        return set()

    def viable_keys(self) -> list[ast.ColumnRef]:
        return []

    def sources(self) -> list[SourceAlias]:
        return [self.source]


@dataclass(frozen=True)
class _Join:
    left: "_Leaf | _Join"
    right: "_Leaf | _Join"
    info: JoinInfo

    def contains(self, source: SourceAlias) -> bool:
        return self.left.contains(source) or self.right.contains(source)

    def sources(self) -> list[SourceAlias]:
        return self.left.sources() + self.right.sources()

    def equivalence(self) -> set[ast.Expression]:
        """JoinTree.joinEquivalenceSet: expressions equal to this join's key (none for FULL OUTER)."""
        if self.info.kind == "OUTER":
            return set()
        keys = {self.info.left_expr, self.info.right_expr}
        lefts, rights = self.left.equivalence(), self.right.equivalence()
        out = set(keys)
        if lefts & keys:
            out |= lefts
        if rights & keys:
            out |= rights
        return out

    def viable_keys(self) -> list[ast.ColumnRef]:
        """JoinTree.viableKeyColumns: source columns equal to the key, left to right."""
        if self.info.kind == "OUTER":
            return []
        equivalent = self.equivalence()
        out: list[ast.ColumnRef] = []
        for expression in [*self.left.viable_keys(), self.info.left_expr, *self.right.viable_keys(),
                           self.info.right_expr]:
            if isinstance(expression, ast.ColumnRef) and expression in equivalent and expression not in out:
                out.append(expression)
        return out


def _build_tree(joins: Sequence[JoinInfo]) -> _Join:
    root: _Leaf | _Join | None = None
    for join in joins:
        if root is None:
            root = _Leaf(join.left)
        if root.contains(join.right) and root.contains(join.left):
            raise EngineError(f"Cannot perform circular join - both {join.right.alias} and "
                              f"{expression_text(join.left_expr)} are already included in the current join tree")
        if root.contains(join.left):
            root = _Join(root, _Leaf(join.right), join)
        elif root.contains(join.right):
            root = _Join(root, _Leaf(join.left), join.flip())
        else:
            raise EngineError("Cannot build JOIN tree; neither source in the join is the FROM source or included in "
                              "a previous JOIN")
    assert isinstance(root, _Join)
    return root


# ---------------------------------------------------------------------------------------------- planning


@dataclass
class _Prepared:
    """A side of a join before it is joined: its step and the sources under it."""

    step: ExecutionStep
    node: "_Leaf | _Join"


class _JoinPlanner:
    def __init__(self, analysis: Analysis, ctx: PlanContext) -> None:
        self.analysis = analysis
        self.ctx = ctx
        self.physical_checks: list[Callable[[], None]] = []
        self.forced_earliest: set[str] = set()
        self.final_key: str = ""
        self.synthetic = False
        self.foreign_key = False
        self.viable: list[ast.ColumnRef] = []

    # --- key checks (ksqlDB's JoinNode.validateKeyPresent) ---------------------------------------

    def key_check(self, sink_name: str) -> None:
        items = self.analysis.items
        if any(isinstance(i, ast.AllColumns) and i.source is None for i in items):
            return
        star_sources = {i.source for i in items if isinstance(i, ast.AllColumns) and i.source is not None}
        singles = [i.expression for i in items if isinstance(i, ast.SingleColumn)]
        singles += [i.base for i in items if isinstance(i, ast.StructAll)]

        def contains(expression: ast.Expression) -> bool:
            if isinstance(expression, ast.ColumnRef) and expression.source in star_sources:
                return True
            return expression in singles

        if self.foreign_key:
            left = self.fk_left
            missing = [c.name for c in left.source.schema.key
                       if not contains(ast.ColumnRef(c.name, left.alias))
                       and not contains(ast.ColumnRef(f"{left.alias}_{c.name}"))]
            if missing:
                word = "column" if len(missing) == 1 else "columns"
                raise EngineError(f"Primary key {word} missing in projection. For foreign-key table-table joins, the "
                                  "projection must include all primary key columns from the left input table "
                                  f"(`{left.alias}`). Missing {word}: "
                                  f"{', '.join('`' + m + '`' for m in missing)}.")
            return
        if self.synthetic:
            required: list[ast.Expression] = [ast.ColumnRef(self.final_key)]
            ok = contains(required[0])
        else:
            required = list(self.viable)
            rewritten = [ast.ColumnRef(f"{v.source}_{v.name}") for v in self.viable]
            ok = any(contains(e) for e in list(self.viable) + rewritten)
        if not ok:
            texts = [expression_text(e) for e in required]
            types = "join expression" + ("" if len(texts) == 1 else "s")
            message = ("Key missing from projection (ie, SELECT). " + (
                "See https://cnfl.io/2LV7ouS." if self.synthetic else "")
                + f"\nThe query used to build `{sink_name}` must include the {types} {joined(texts, 'or')} in its "
                  f"projection (eg, SELECT {texts[0]}...).")
            if self.synthetic:
                message += (f"\n{texts[0]} was added as a synthetic key column because the join criteria did not "
                            "match any source column. This expression must be included in the projection and may "
                            "be aliased. ")
            raise EngineError(message)

    # --- SELECT * ------------------------------------------------------------------------------

    def star_columns(self, source: str | None) -> list[str]:
        """JoinNode.resolveSelectStar: each source's columns with their alias prefix; the synthetic key first."""
        out: list[str] = []
        if source is None and self.synthetic:
            out.append(self.final_key)
        for aliased in self.analysis.sources:
            if source is not None and aliased.alias != source:
                continue
            schema = aliased.source.schema.with_pseudo_and_key_cols_in_value(aliased.source.is_windowed)
            out.extend(f"{aliased.alias}_{name}" for name in order_star(schema))
        return out

    # --- the tree -------------------------------------------------------------------------------

    def plan(self) -> ExecutionStep:
        tree = _build_tree(self.analysis.joins)
        step = self._join(tree, "", final=True)
        return step

    def _leaf_step(self, leaf: _Leaf, prefix: str, side: str) -> SourceStep:
        step = SourceStep(leaf.source.source, leaf.source.alias, f"KafkaTopic_{prefix}{side}")
        return step

    def _join(self, join: _Join, prefix: str, final: bool) -> ExecutionStep:
        left_pre: ExecutionStep = self._join(join.left, prefix + "L_", False) if isinstance(join.left, _Join) \
            else self._leaf_step(join.left, prefix, "Left")
        right_pre: ExecutionStep = self._join(join.right, prefix + "R_", False) if isinstance(join.right, _Join) \
            else self._leaf_step(join.right, prefix, "Right")
        info = join.info
        fk_expression = self._verify(info, join, left_pre, right_pre)
        if fk_expression is not None:
            return self._foreign_key_join(join, info, left_pre, right_pre, fk_expression, prefix, final)

        viable = join.viable_keys()
        if not viable:
            generator = AliasGenerator(c.name for s in join.sources() for c in s.source.schema.columns)
            key_name = generator.synthetic_key()
            synthetic = True
        else:
            projection = self.analysis.items
            available = [v for v in viable if _projection_contains(projection, v)]
            chosen = available[0] if available else viable[0]
            key_name = f"{chosen.source}_{chosen.name}"
            synthetic = False
        if final:
            self.final_key, self.synthetic, self.viable = key_name, synthetic, viable

        left = self._prepare(join.left, left_pre, prefix + "Left", info.left_expr, join)
        right = self._prepare(join.right, right_pre, prefix + "Right", info.right_expr, join)
        self._resolve_key_formats(left, right)
        self._check_partitions(join, left_pre, right_pre)

        left_step = self._alias(join.left, left.step, prefix + "Left")
        right_step = self._alias(join.right, right.step, prefix + "Right")
        key_type = left_step.schema.key[0].type if left_step.schema.key else right_step.schema.key[0].type
        if _contains_map(key_type):
            self.physical_checks.append(_fail(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected "
                f"behavior due to inconsistent serialization. Key column name: `{key_name}`. Column type: {key_type}. "
                "See https://github.com/confluentinc/ksql/issues/6621 for more."))
        name = f"{prefix}Join"
        if not left_step.is_table:
            if right_step.is_table:
                # JoinNode.StreamToTableJoiner, when the physical plan is built
                if info.within is not None:
                    self.physical_checks.append(_fail(
                        "A window definition was provided for a Stream-Table join. These joins are not windowed. "
                        "Please drop the window definition (ie. the WITHIN clause) and try to execute your join "
                        "again."))
                if info.kind not in ("INNER", "LEFT"):
                    self.physical_checks.append(_fail(f"Invalid join type encountered: {info.type_text}"))
                self.forced_earliest.update(_topics(right_step))
                return StreamTableJoinStep(left_step, right_step, info.kind, key_name, key_type, name)
            if info.within is None:
                self.physical_checks.append(_fail(
                    "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how "
                    "to specify a WITHIN clause with a stream-stream join, please visit: "
                    "https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select"))
                window = JoinWindowSpec(0, 0, None)
            else:
                window = JoinWindowSpec(info.within.before.millis, info.within.after.millis,
                                        info.within.grace.millis if info.within.grace is not None else None)
            return StreamStreamJoinStep(left_step, right_step, info.kind, key_name, key_type, name, window)
        if info.within is not None:
            self.physical_checks.append(_fail(
                "A window definition was provided for a Table-Table join. These joins are not windowed. Please drop "
                "the window definition (i.e. the WITHIN clause) and try to execute your Table-Table join again."))
        self.forced_earliest.update(_topics(left_step))
        self.forced_earliest.update(_topics(right_step))
        return TableTableJoinStep(left_step, right_step, info.kind, key_name, key_type, name)

    # --- verification (LogicalPlanner.verifyJoin) ---------------------------------------------

    def _verify(self, info: JoinInfo, join: _Join, left: ExecutionStep,
                right: ExecutionStep) -> ast.Expression | None:
        if not left.is_table:
            if right.is_table:
                if info.kind == "OUTER":
                    raise EngineError("Invalid join type: full-outer join not supported for stream-table join. Got "
                                      f"{info.left.source.name} {info.type_text} {info.right.source.name}.")
                if self._non_key(info.right_expr, join.right, info.right):
                    raise EngineError("Invalid join condition: stream-table joins require to join on the table's "
                                      f"primary key. Got {expression_text(info.written_left)} = "
                                      f"{expression_text(info.written_right)}.")
            return None
        if not right.is_table:
            raise EngineError("Invalid join order: table-stream joins are not supported; only stream-table joins. Got "
                              f"{info.left.source.name} {info.type_text} {info.right.source.name}.")
        if self._non_key(info.right_expr, join.right, info.right):
            raise EngineError("Invalid join condition: table-table joins require to join on the primary key of the "
                              f"right input table. Got {expression_text(info.written_left)} = "
                              f"{expression_text(info.written_right)}.")
        if self._non_key(info.left_expr, join.left, info.left):
            return self._verify_foreign_key(info, join, left, right)
        left_type = left.schema.key[0].type
        right_type = right.schema.key[0].type
        _check_types(left_type, right_type, info)
        return None

    def _verify_foreign_key(self, info: JoinInfo, join: _Join, left: ExecutionStep,
                            right: ExecutionStep) -> ast.Expression:
        if info.kind == "OUTER":
            raise EngineError("Invalid join type: full-outer join not supported for foreign-key table-table join. Got "
                              f"{info.left.source.name} {info.type_text} {info.right.source.name}.")
        if info.kind == "RIGHT":
            raise EngineError("RIGHT OUTER JOIN on a foreign key is not supported")
        if not isinstance(join.left, _Leaf) or not isinstance(join.right, _Leaf):
            raise EngineError("Invalid join condition: foreign-key table-table joins are not supported as part of n-way "
                              f"joins. Got {expression_text(info.written_left)} = "
                              f"{expression_text(info.written_right)}.")
        unqualified = rewrite(info.left_expr, lambda n: ast.ColumnRef(n.name, pos=n.pos)
                              if isinstance(n, ast.ColumnRef) else None)
        fk_type = self.ctx.type_of(unqualified, left.schema, "Left Join Expression")
        self.ctx.raise_deferred()
        right_type = right.schema.key[0].type
        if fk_type is None or fk_type != right_type:
            _check_types(fk_type, right_type, info)
        if right.is_windowed:
            raise EngineError("Foreign-key table-table joins are not supported on windowed tables.")
        return info.left_expr

    def _non_key(self, expression: ast.Expression, node: "_Leaf | _Join", aliased: SourceAlias) -> bool:
        """LogicalPlanner.joinOnNonKeyAttribute."""
        if not isinstance(expression, ast.ColumnRef):
            return True
        if isinstance(node, _Join):
            qualifier = expression.source
            matches = [s for s in node.sources() if s.alias == qualifier or s.source.name == qualifier]
            if len(matches) != 1:
                raise EngineError(f"Join qualifier '{qualifier}' could not be resolved (either not found or not "
                                  "unique).")
            keys = matches[0].source.schema.key
        else:
            keys = node.source.source.schema.key
        if len(keys) > 1:
            return True
        return not keys or expression.name != keys[0].name

    # --- preparing the sides ----------------------------------------------------------------------

    def _prepare(self, node: "_Leaf | _Join", step: ExecutionStep, side_prefix: str, expression: ast.Expression,
                 join: _Join) -> "_Side":
        """LogicalPlanner.prepareSourceForJoin: re-key the side by its join expression when needed."""
        if isinstance(node, _Join):
            if expression in node.equivalence():
                return _Side(step, None, side_prefix, needs_repartition=False, joined=True)
            partition = self.ctx.resolve(expression)
        else:
            partition = rewrite(expression, lambda n: ast.ColumnRef(n.name, pos=n.pos)
                                if isinstance(n, ast.ColumnRef) else None)
        needed = _repartition_needed(step.schema, partition)
        return _Side(step, partition, side_prefix, needs_repartition=needed, joined=isinstance(node, _Join))

    def _resolve_key_formats(self, left: "_Side", right: "_Side") -> None:
        """JoinNode.resolveKeyFormats: the left's format unless it repartitions, then the right's, then any."""
        preferred = left.preferred_format() or right.preferred_format() or self._default_key_format(left, right)
        self.ctx.join_key_format = preferred  # type: ignore[attr-defined]
        for side in (left, right):
            side.force_format(preferred)
            side.step = self._repartition(side, preferred)

    def _default_key_format(self, left: "_Side", right: "_Side") -> KeyFormat:
        for aliased in self.analysis.sources:
            if aliased.source.key_format.name != "NONE":
                return aliased.source.key_format
        return KeyFormat(FormatSpec.of(self.ctx.default_key_format()))

    def _repartition(self, side: "_Side", key_format: KeyFormat) -> ExecutionStep:
        if not side.needs_repartition and not side.format_change:
            return side.step
        step = side.step
        if side.needs_repartition and step.is_table:
            keys = step.schema.key
            if len(keys) > 1:
                raise EngineError("Cannot repartition a TABLE source. If this is a join, joins on tables with multiple "
                                  "columns is not yet supported.")
            raise EngineError("Cannot repartition a TABLE source. If this is a join, make sure that the criteria uses "
                              f"the TABLE's key column {keys[0].name} instead of "
                              f"[{expression_text(side.partition)}]")  # type: ignore[arg-type]
        if step.is_windowed:
            self.physical_checks.append(_fail("Implicit repartitioning of windowed sources is not supported. See "
                                              "https://github.com/confluentinc/ksql/issues/4385."))
        expression = side.partition if side.needs_repartition else None
        schema = step.schema
        appended = False
        if expression is not None:
            from labkit.engine.planner import _partition_schema
            schema, flags = _partition_schema(step.schema, [expression], self.ctx.typer, ())
            appended = bool(flags and flags[0])
        context = f"{side.prefix_without_side()}{side.side}SourceKeyed"
        value_format = _value_format(step)
        if step.is_table:
            topic = InternalTopic(f"{context}-SelectKey-repartition", key_format.name, value_format, "repartition")
            store = f"{context}-Materialize"
            self.ctx.internal_topics.append(topic)
            self.ctx.internal_topics.append(InternalTopic(f"{store}-changelog", key_format.name, value_format))
            return RepartitionStep(step, expression, schema, appended, topic, key_format, store)
        return RepartitionStep(step, expression, schema, appended, None, key_format, None, side.side)

    def _alias(self, node: "_Leaf | _Join", step: ExecutionStep, side_prefix: str) -> ExecutionStep:
        if isinstance(node, _Join):
            return step
        return PrependAliasStep(step, node.source.alias)

    def _check_partitions(self, join: _Join, left: ExecutionStep, right: ExecutionStep) -> None:
        partitions = getattr(self.ctx, "topic_partitions", None)
        if partitions is None:
            return
        left_count = partitions(_rightmost_topic(join.left))
        right_count = partitions(_rightmost_topic(join.right))
        if left_count is None or right_count is None or left_count == right_count:
            return
        left_name = _leftmost_alias(join.left)
        right_name = _leftmost_alias(join.right)
        self.physical_checks.append(_fail(
            f"Can't join `{left_name}` with `{right_name}` since the number of partitions don't match. `{left_name}` "
            f"partitions = {left_count}; `{right_name}` partitions = {right_count}. Please repartition either one so "
            "that the number of partitions match."))

    # --- foreign-key joins ------------------------------------------------------------------------

    def _foreign_key_join(self, join: _Join, info: JoinInfo, left: ExecutionStep, right: ExecutionStep,
                          fk_expression: ast.Expression, prefix: str, final: bool) -> ExecutionStep:
        assert isinstance(join.left, _Leaf) and isinstance(join.right, _Leaf)
        if info.within is not None:
            self.physical_checks.append(_fail(
                "A window definition was provided for a Table-Table join. These joins are not windowed. Please drop "
                "the window definition (i.e. the WITHIN clause) and try to execute your Table-Table join again."))
        self.foreign_key = final
        self.fk_left = join.left.source
        self.forced_earliest.update(_topics(left))
        self.forced_earliest.update(_topics(right))
        left_step = self._alias(join.left, left, prefix + "Left")
        right_step = self._alias(join.right, right, prefix + "Right")
        expression = self.ctx.resolve(fk_expression)
        return ForeignKeyJoinStep(left_step, right_step, info.kind, expression, f"{prefix}Join")


@dataclass
class _Side:
    step: ExecutionStep
    partition: ast.Expression | None
    prefix: str  # e.g. "L_Left"
    needs_repartition: bool
    joined: bool
    format_change: bool = False

    @property
    def side(self) -> str:
        return "Left" if self.prefix.endswith("Left") else "Right"

    def prefix_without_side(self) -> str:
        return self.prefix[:-len(self.side)]

    def source_format(self) -> KeyFormat | None:
        step = self.step
        while True:
            if isinstance(step, SourceStep):
                return step.source.key_format
            fmt = getattr(step, "key_format", None)
            if isinstance(fmt, KeyFormat):
                return fmt
            parent = getattr(step, "parent", None) or getattr(step, "left", None)
            if parent is None:
                return None
            step = parent

    def preferred_format(self) -> KeyFormat | None:
        if self.needs_repartition:
            return None
        return self.source_format()

    def force_format(self, key_format: KeyFormat) -> None:
        if self.needs_repartition:
            return
        current = self.source_format()
        if current is not None and current != key_format:
            self.format_change = True


def _repartition_needed(schema: LogicalSchema, expression: ast.Expression) -> bool:
    """ksqlDB's Repartitioning.repartitionNeeded for one expression."""
    key = schema.key
    if len(key) != 1:
        return True
    return not isinstance(expression, ast.ColumnRef) or expression.name != key[0].name


def _projection_contains(items: Sequence[ast.SelectItem], expression: ast.ColumnRef) -> bool:
    for item in items:
        if isinstance(item, ast.AllColumns) and (item.source is None or item.source == expression.source):
            return True
        if isinstance(item, ast.SingleColumn) and item.expression == expression:
            return True
        if isinstance(item, ast.StructAll) and item.base == expression:
            return True
    return False


def _check_types(left_type: Any, right_type: Any, info: JoinInfo) -> None:
    if left_type == right_type:
        return
    left, right = info.left_expr, info.right_expr
    if info.flipped:
        left, right, left_type, right_type = right, left, right_type, left_type
    raise EngineError(f"Invalid join condition: types don't match. Got {expression_text(left)}{{{left_type}}} = "
                      f"{expression_text(right)}{{{right_type}}}.")


def _fail(message: str) -> Callable[[], None]:
    def check() -> None:
        raise EngineError(message)
    return check


def _topics(step: ExecutionStep) -> list[str]:
    out: list[str] = []
    stack = [step]
    while stack:
        current = stack.pop()
        if isinstance(current, SourceStep):
            out.append(current.source.topic)
        for attribute in ("parent", "left", "right"):
            child = getattr(current, attribute, None)
            if isinstance(child, ExecutionStep):
                stack.append(child)
    return out


def _rightmost_topic(node: "_Leaf | _Join") -> str:
    """JoinNode.getPartitions: a join reads the partitions of its right source."""
    while isinstance(node, _Join):
        node = node.right
    return node.source.source.topic


def _leftmost_alias(node: "_Leaf | _Join") -> str:
    while isinstance(node, _Join):
        node = node.left
    return node.source.alias


def _value_format(step: ExecutionStep) -> str:
    current: Any = step
    while current is not None:
        if isinstance(current, SourceStep):
            return current.source.value_format.name
        current = getattr(current, "parent", None) or getattr(current, "left", None)
    return "JSON"


def plan_joins(analysis: Analysis, ctx: PlanContext) -> ExecutionStep:
    """The join steps of `analysis`; registers the key check and `SELECT *` expansion on `ctx`."""
    planner = _JoinPlanner(analysis, ctx)
    step = planner.plan()
    ctx.join_key_check = planner.key_check  # type: ignore[attr-defined]
    ctx.star_columns = planner.star_columns  # type: ignore[attr-defined]
    ctx.forced_earliest = planner.forced_earliest  # type: ignore[attr-defined]
    ctx.physical_checks = planner.physical_checks  # type: ignore[attr-defined]
    ctx.key_format = getattr(ctx, "join_key_format", None)
    _Numbering(ctx).visit(step)
    return step


class _Numbering:
    """Replay Kafka Streams' processor counter in ksqlDB's build order, naming the join stores and the
    repartition topics of re-keyed stream sides (`<prefix>Join-left-repartition`, `<prefix>Join-repartition`)."""

    def __init__(self, ctx: PlanContext) -> None:
        self.ctx = ctx

    def visit(self, step: ExecutionStep) -> None:
        ctx = self.ctx
        if isinstance(step, SourceStep):
            ctx.next_index(5 if step.is_table else 2)
        elif isinstance(step, PrependAliasStep):
            self.visit(step.parent)
            ctx.next_index()
        elif isinstance(step, RepartitionStep):
            self.visit(step.parent)
            ctx.next_index(6 if step.is_table else 1)
        elif isinstance(step, StreamStreamJoinStep):
            self.visit(step.left)
            self.visit(step.right)
            self._repartitions(step, (("left", step.left), ("right", step.right)))
            ctx.next_index(2)  # this-windowed, other-windowed
            step.node_index = ctx.next_index(2)
            ctx.next_index()  # merge
            key_format = getattr(ctx, "join_key_format", None)
            for store in step.store_names:
                ctx.internal_topics.append(InternalTopic(f"{store}-changelog",
                                                         key_format.name if key_format else "KAFKA",
                                                         _value_format(step.left)))
        elif isinstance(step, StreamTableJoinStep):
            self.visit(step.right)
            self.visit(step.left)
            self._repartitions(step, (("", step.left),))
            ctx.next_index()  # the join
            store = _store_of_side(step.right)
            if store is not None:
                ctx.internal_topics.append(InternalTopic(f"{store}-changelog", _key_format_name(step.right),
                                                         _value_format(step.right)))
        elif isinstance(step, TableTableJoinStep):
            self.visit(step.left)
            self.visit(step.right)
            step.node_index = ctx.next_index(3)  # merge, this, other
            for side in (step.left, step.right):
                store = _store_of_side(side)
                if store is not None:
                    ctx.internal_topics.append(InternalTopic(f"{store}-changelog", _key_format_name(side),
                                                             _value_format(side)))
        elif isinstance(step, ForeignKeyJoinStep):
            self.visit(step.left)
            self.visit(step.right)
            step.node_index = ctx.next_index(12)
            for side in (step.left, step.right):
                store = _store_of_side(side)
                if store is not None:
                    ctx.internal_topics.append(InternalTopic(f"{store}-changelog", _key_format_name(side),
                                                             _value_format(side)))
        else:
            parent = getattr(step, "parent", None)
            if isinstance(parent, ExecutionStep):
                self.visit(parent)
                ctx.next_index()

    def _repartitions(self, join: Any, sides: Sequence[tuple[str, ExecutionStep]]) -> None:
        for side, child in sides:
            repartition = _find_repartition(child)
            if repartition is None or repartition.is_table:
                continue
            suffix = f"{join.name}-{side}-repartition" if side else f"{join.name}-repartition"
            topic = InternalTopic(suffix, repartition.key_format.name, _value_format(repartition), "repartition")
            repartition.topic = topic
            self.ctx.internal_topics.append(topic)
            self.ctx.next_index(3)  # -filter, -sink, -source


def _find_repartition(step: ExecutionStep) -> RepartitionStep | None:
    current: Any = step
    while isinstance(current, (PrependAliasStep, RepartitionStep)):
        if isinstance(current, RepartitionStep):
            return current
        current = current.parent
    return None


def _store_of_side(step: ExecutionStep) -> str | None:
    current: Any = step
    while current is not None:
        name = getattr(current, "store_name", None)
        if name:
            return name
        if not isinstance(current, PrependAliasStep):
            return None
        current = current.parent
    return None


def _key_format_name(step: ExecutionStep) -> str:
    current: Any = step
    while current is not None:
        if isinstance(current, RepartitionStep):
            return current.key_format.name
        if isinstance(current, SourceStep):
            return current.source.key_format.name
        current = getattr(current, "parent", None)
    return "KAFKA"
