"""Expressions compiled once into closures over a row, with static SQL types and ksqlDB's checks.

`ExpressionCompiler(scope).compile(expr)` type-checks `expr` against the columns in `scope` and returns a
`Compiled`: the result type and `evaluate(row)`, a closure built from the closures of the sub-expressions
(no `eval`, no generated source). A row is the flat list of a step's processing schema; column
references read it by index. Type errors raise `TypeCheckError` (ksqlDB's ExpressionTypeManager stage);
problems ksqlDB finds while generating code (unsupported casts, uncoercible IN lists) raise `CodegenError`.

At run time a sub-expression may fail: nested function calls, struct dereferences and CASTs that fail are
logged to the processing log and yield NULL, as ksqlDB's generated code does; other failures (a NULL
operand of arithmetic, a bad argument) propagate to the step, which logs them and nulls the whole column.

    >>> from labkit.engine.types import INTEGER
    >>> from labkit.sql import parse_expression
    >>> compiled = ExpressionCompiler(Scope.of([("A", INTEGER)])).compile(parse_expression("A * 2 + 1"))
    >>> str(compiled.type), compiled.evaluate([20])
    ('INTEGER', 41)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from labkit.engine import operators
from labkit.engine.coercion import common_type, literal_value_type
from labkit.engine.errors import CodegenError, ProcessingError, TypeCheckError, UnknownColumnError
from labkit.engine.exprtext import COMPARISON_NAMES, expression_text
from labkit.engine.functions import (
    FunctionResolutionError, IntervalUnitArg, LambdaArg, is_function, lambda_input_types, resolve,
)
from labkit.engine.functions.casts import cast_value, check_cast, coerce_value
from labkit.engine.schema import sql_type
from labkit.engine.types import (
    BOOLEAN, CastError, SqlArray, SqlMap, SqlStruct, SqlType, SqlTypeError,
)
from labkit.errors import LabkitError
from labkit.sql import ast

__all__ = ["Scope", "Compiled", "ExpressionCompiler", "ProcessingLogger", "NullLogger", "AGGREGATE_FUNCTIONS",
           "TABLE_FUNCTIONS", "RUNTIME_ERRORS"]

Row = Sequence[Any]
Evaluator = Callable[[Any], Any]

AGGREGATE_FUNCTIONS = frozenset({
    "AVG", "COLLECT_LIST", "COLLECT_SET", "CORRELATION", "COUNT", "COUNT_DISTINCT", "EARLIEST_BY_OFFSET",
    "HISTOGRAM", "LATEST_BY_OFFSET", "MAX", "MIN", "STDDEV_SAMP", "STDDEV_SAMPLE", "STDDEV_POP", "SUM", "TOPK",
    "TOPKDISTINCT", "VARIANCE",
})
"""Aggregate functions (UDAFs): valid only with GROUP BY, which the next engine stage implements."""
TABLE_FUNCTIONS = frozenset({"EXPLODE", "CUBE_EXPLODE"})
"""Table functions (UDTFs), also for a later stage."""

RUNTIME_ERRORS = (LabkitError, ArithmeticError, ValueError, TypeError, IndexError, KeyError, OverflowError,
                  AttributeError, RecursionError)
"""What evaluating a compiled expression may raise for bad data; steps log these and carry on."""


class ProcessingLogger(Protocol):
    """Where run-time expression errors go (the query's processing log)."""

    def error(self, message: str, cause: BaseException | None = None) -> None:
        ...


class NullLogger:
    """A ProcessingLogger that drops everything (type checking only)."""

    def error(self, message: str, cause: BaseException | None = None) -> None:
        return None


@dataclass(frozen=True)
class Scope:
    """The columns an expression may use: (qualifier or None, name) → (row index, type)."""

    columns: Mapping[tuple[str | None, str], tuple[int, SqlType]]
    width: int
    lambdas: Mapping[str, tuple[int, SqlType]] = field(default_factory=dict)

    @classmethod
    def of(cls, columns: Iterable[tuple[str, SqlType]], qualifiers: Iterable[str] = ()) -> "Scope":
        """One source's columns, in row order, reachable unqualified or qualified by any of `qualifiers`."""
        mapping: dict[tuple[str | None, str], tuple[int, SqlType]] = {}
        names = list(qualifiers)
        width = 0
        for index, (name, type_) in enumerate(columns):
            mapping.setdefault((None, name), (index, type_))
            for qualifier in names:
                mapping.setdefault((qualifier, name), (index, type_))
            width = index + 1
        return cls(mapping, width)

    def lookup(self, name: str, qualifier: str | None = None) -> tuple[int, SqlType] | None:
        return self.columns.get((qualifier, name))

    def with_lambda(self, params: Sequence[str], types: Sequence[SqlType]) -> "Scope":
        lambdas = dict(self.lambdas)
        for i, (name, type_) in enumerate(zip(params, types)):
            lambdas[name] = (self.width + i, type_)
        return Scope(self.columns, self.width + len(params), lambdas)


@dataclass(frozen=True)
class Compiled:
    """A compiled expression: its SQL type (None for a bare NULL) and `evaluate(row)`."""

    type: SqlType | None
    evaluate: Evaluator
    expression: ast.Expression
    constant: bool = False


def _constant(value: Any, type_: SqlType | None, node: ast.Expression) -> Compiled:
    return Compiled(type_, lambda row: value, node, constant=True)


_LIKE_CACHE: dict[tuple[str, str | None], re.Pattern[str]] = {}
# Java's `.` (no DOTALL) matches anything but line terminators; Python's only excludes \n.
_ANY_CHAR = "[^\n\r\u0085\u2028\u2029]"
_ANY_RUN = _ANY_CHAR + "*"


def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    """ksqlDB's LikeEvaluator: % any run, _ one character, escape makes the next character literal."""
    cached = _LIKE_CACHE.get((pattern, escape))
    if cached is not None:
        return cached
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif escape is not None and char == escape:
            escaped = True
        elif char == "%":
            parts.append(_ANY_RUN)
        elif char == "_":
            parts.append(_ANY_CHAR)
        else:
            parts.append(re.escape(char))
    if escaped:
        raise ProcessingError("LIKE pattern must not end with escape character")
    compiled = re.compile("".join(parts))
    if len(_LIKE_CACHE) < 1024:
        _LIKE_CACHE[(pattern, escape)] = compiled
    return compiled


def _in_list_match(value: Any, candidate: Any) -> bool:
    """InListEvaluator: structured values match element-wise, NULLs inside structures match each other."""
    if value is None or candidate is None:
        return False
    return _structured_equal(value, candidate)


def _structured_equal(a: Any, b: Any) -> bool:
    if a is None and b is None:
        return True
    if a is None or b is None:
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_structured_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and _structured_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


class ExpressionCompiler:
    """Compiles expressions against one scope; reusable for every expression of a step."""

    def __init__(self, scope: Scope, *, logger: ProcessingLogger | None = None,
                 custom_types: Mapping[str, SqlType] | None = None) -> None:
        self.scope = scope
        self.logger: ProcessingLogger = logger or NullLogger()
        self.custom_types = custom_types or {}

    # --- entry points ------------------------------------------------------------------------------

    def compile(self, node: ast.Expression) -> Compiled:
        """Type-check and compile `node`."""
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise CodegenError(f"Unsupported expression: {expression_text(node)}")
        return method(node)

    def type_of(self, node: ast.Expression) -> SqlType | None:
        """The SQL type of `node` (compiles it and keeps the type)."""
        return self.compile(node).type

    def _sub(self, scope: Scope) -> "ExpressionCompiler":
        return ExpressionCompiler(scope, logger=self.logger, custom_types=self.custom_types)

    # --- literals and references -------------------------------------------------------------------

    def _NullLiteral(self, node: ast.NullLiteral) -> Compiled:
        return _constant(None, None, node)

    def _BooleanLiteral(self, node: ast.BooleanLiteral) -> Compiled:
        return _constant(node.value, BOOLEAN, node)

    def _IntegerLiteral(self, node: ast.IntegerLiteral) -> Compiled:
        return _constant(node.value, literal_value_type(node), node)

    def _DecimalLiteral(self, node: ast.DecimalLiteral) -> Compiled:
        return _constant(node.value, literal_value_type(node), node)

    def _DoubleLiteral(self, node: ast.DoubleLiteral) -> Compiled:
        return _constant(node.value, literal_value_type(node), node)

    def _StringLiteral(self, node: ast.StringLiteral) -> Compiled:
        return _constant(node.value, literal_value_type(node), node)

    def _VariableRef(self, node: ast.VariableRef) -> Compiled:
        raise TypeCheckError(f"Undefined variable: {node.name}")

    def _ColumnRef(self, node: ast.ColumnRef) -> Compiled:
        found = self.scope.lookup(node.name, node.source)
        if found is None:
            raise UnknownColumnError(f"Unknown column {expression_text(node)}.")
        index, type_ = found
        return Compiled(type_, lambda row: row[index], node)

    def _LambdaVariable(self, node: ast.LambdaVariable) -> Compiled:
        found = self.scope.lambdas.get(node.name)
        if found is None:
            raise UnknownColumnError(f"Unknown lambda variable {node.name}.")
        index, type_ = found
        return Compiled(type_, lambda row: row[index], node)

    def _IntervalUnit(self, node: ast.IntervalUnit) -> Compiled:
        return _constant(node.unit, None, node)

    # --- functions ---------------------------------------------------------------------------------

    def _nested(self, compiled: Compiled, what: str) -> Evaluator:
        """Nested error handling: a failing nested call or dereference logs and yields NULL."""
        return self._guard(compiled.evaluate, what)

    def _guard(self, evaluate: Evaluator, what: str) -> Evaluator:
        """`evaluate`, logging any run-time failure and yielding NULL instead (ksqlDB's evaluateOrReturnNull)."""
        logger = self.logger

        def guarded(row: Any) -> Any:
            try:
                return evaluate(row)
            except RUNTIME_ERRORS as error:
                logger.error(f"Error processing {what}", error)
                return None
        return guarded

    def _FunctionCall(self, node: ast.FunctionCall) -> Compiled:
        name = node.name.upper()
        if name in AGGREGATE_FUNCTIONS:
            raise TypeCheckError(f"Aggregate functions are not supported yet: {name}")
        if name in TABLE_FUNCTIONS:
            raise TypeCheckError(f"Table functions are not supported yet: {name}")
        if not is_function(name):
            raise TypeCheckError(f"Can't find any functions with the name '{node.name}'")
        arg_types: list[Any] = []
        compiled: list[Compiled | None] = []
        for arg in node.args:
            if isinstance(arg, ast.Lambda):
                arg_types.append(LambdaArg(len(arg.params)))
                compiled.append(None)
            elif isinstance(arg, ast.IntervalUnit):
                arg_types.append(IntervalUnitArg(arg.unit))
                compiled.append(_constant(arg.unit, None, arg))
            else:
                c = self.compile(arg)
                arg_types.append(c.type)
                compiled.append(c)
        lambda_evaluators: dict[int, Evaluator] = {}
        try:
            for i, arg in enumerate(node.args):
                if isinstance(arg, ast.Lambda):
                    inputs = lambda_input_types(name, arg_types, i)
                    body_scope = self.scope.with_lambda(arg.params, inputs)
                    body = self._sub(body_scope).compile(arg.body)
                    arg_types[i] = LambdaArg(len(arg.params), tuple(inputs), body.type)
                    lambda_evaluators[i] = self._lambda(body.evaluate, len(arg.params))
            resolved = resolve(name, arg_types)
        except FunctionResolutionError as error:
            raise TypeCheckError(str(error)) from None
        evaluators: list[Evaluator] = []
        for i, (arg, c) in enumerate(zip(node.args, compiled)):
            if c is None:
                evaluators.append(lambda_evaluators[i])
            elif isinstance(arg, ast.FunctionCall):
                evaluators.append(self._nested(c, arg.name.upper()))
            elif isinstance(arg, ast.Dereference):
                evaluators.append(self._nested(c, arg.field))
            else:
                evaluators.append(c.evaluate)
        call = resolved.call
        return_type = resolved.return_type
        count = len(evaluators)
        if count == 0:
            return Compiled(return_type, lambda row: call(), node)
        if count == 1:
            only = evaluators[0]
            return Compiled(return_type, lambda row: call(only(row)), node)
        if count == 2:
            first, second = evaluators
            return Compiled(return_type, lambda row: call(first(row), second(row)), node)
        return Compiled(return_type, lambda row: call(*[e(row) for e in evaluators]), node)

    @staticmethod
    def _lambda(body: Evaluator, arity: int) -> Evaluator:
        """The lambda argument's value for a row: a Python function of the lambda's parameters."""
        def make(row: Any) -> Callable[..., Any]:
            base = list(row)
            return lambda *args: body(base + list(args))
        return make

    def _Lambda(self, node: ast.Lambda) -> Compiled:
        raise TypeCheckError("Lambda expressions are only allowed as function arguments: "
                             f"{expression_text(node)}")

    # --- operators ---------------------------------------------------------------------------------

    def _ArithmeticUnary(self, node: ast.ArithmeticUnary) -> Compiled:
        operand = self.compile(node.operand)
        if operand.type is None or operand.type.base not in ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE"):
            raise TypeCheckError(f"Unsupported arithmetic on {operand.type}: {expression_text(node)}")
        return Compiled(operand.type, operators.negate(operand.evaluate, operand.type, node.op), node)

    def _ArithmeticBinary(self, node: ast.ArithmeticBinary) -> Compiled:
        left, right = self.compile(node.left), self.compile(node.right)
        try:
            result = operators.arithmetic_type(node.op, left.type, right.type)
        except TypeCheckError as error:
            raise TypeCheckError(f"Error processing expression: {expression_text(node)}. {error.message}") from None
        assert left.type is not None and right.type is not None
        return Compiled(result, operators.arithmetic(node.op, left.evaluate, right.evaluate, left.type, right.type,
                                                     result), node)

    def _check_comparison(self, op: str, left_node: ast.Expression, left: Compiled, right_node: ast.Expression,
                          right: Compiled) -> None:
        name = COMPARISON_NAMES[op]
        if left.type is None or right.type is None:
            lt = "NULL" if left.type is None else left.type.base
            rt = "NULL" if right.type is None else right.type.base
            raise TypeCheckError(f"Comparison with NULL not supported: {lt} {op} {rt}\n"
                                 "Use 'IS NULL' or 'IS NOT NULL' instead.")
        if not operators.comparison_allowed(left.type, op, right.type):
            raise TypeCheckError(f"Cannot compare {expression_text(left_node)} ({left.type}) to "
                                 f"{expression_text(right_node)} ({right.type}) with {name}.")

    def _Comparison(self, node: ast.Comparison) -> Compiled:
        left, right = self.compile(node.left), self.compile(node.right)
        self._check_comparison(node.op, node.left, left, node.right, right)
        assert left.type is not None and right.type is not None
        return Compiled(BOOLEAN, operators.comparator(node.op, left.evaluate, right.evaluate, left.type, right.type),
                        node)

    def _LogicalBinary(self, node: ast.LogicalBinary) -> Compiled:
        left, right = self.compile(node.left), self.compile(node.right)
        for side, c in ((node.left, left), (node.right, right)):
            if c.type is not None and c.type.base != "BOOLEAN":
                raise TypeCheckError(f"Logical binary expects two boolean values.  Actual {left.type} and "
                                     f"{right.type}")
        le, re_ = left.evaluate, right.evaluate
        if node.op == "AND":
            def conjunction(row: Any) -> Any:
                a = le(row)
                if a is None:
                    raise operators.NullOperandError()
                if not a:
                    return False
                b = re_(row)
                if b is None:
                    raise operators.NullOperandError()
                return b
            return Compiled(BOOLEAN, conjunction, node)

        def disjunction(row: Any) -> Any:
            a = le(row)
            if a is None:
                raise operators.NullOperandError()
            if a:
                return True
            b = re_(row)
            if b is None:
                raise operators.NullOperandError()
            return b
        return Compiled(BOOLEAN, disjunction, node)

    def _Not(self, node: ast.Not) -> Compiled:
        operand = self.compile(node.operand)
        if operand.type is not None and operand.type.base != "BOOLEAN":
            raise TypeCheckError(f"Not expression expects a boolean value.  Actual {operand.type}")
        evaluate = operand.evaluate

        def negation(row: Any) -> Any:
            value = evaluate(row)
            if value is None:
                raise operators.NullOperandError()
            return not value
        return Compiled(BOOLEAN, negation, node)

    def _Between(self, node: ast.Between) -> Compiled:
        value, lower, upper = self.compile(node.value), self.compile(node.lower), self.compile(node.upper)
        self._check_comparison(">=", node.value, value, node.lower, lower)
        self._check_comparison("<=", node.value, value, node.upper, upper)
        assert value.type and lower.type and upper.type
        above = operators.comparator(">=", value.evaluate, lower.evaluate, value.type, lower.type)
        below = operators.comparator("<=", value.evaluate, upper.evaluate, value.type, upper.type)
        if node.negated:
            return Compiled(BOOLEAN, lambda row: not (above(row) and below(row)), node)
        return Compiled(BOOLEAN, lambda row: above(row) and below(row), node)

    def _IsNull(self, node: ast.IsNull) -> Compiled:
        evaluate = self.compile(node.value).evaluate
        if node.negated:
            return Compiled(BOOLEAN, lambda row: evaluate(row) is not None, node)
        return Compiled(BOOLEAN, lambda row: evaluate(row) is None, node)

    def _Like(self, node: ast.Like) -> Compiled:
        value, pattern = self.compile(node.value), self.compile(node.pattern)
        for c, n in ((value, node.value), (pattern, node.pattern)):
            if c.type is not None and c.type.base != "STRING":
                raise TypeCheckError(f"LIKE can only be applied to STRING, got {c.type}: {expression_text(n)}")
        escape, negated = node.escape, node.negated
        ve, pe = value.evaluate, pattern.evaluate

        def like(row: Any) -> Any:
            text, pattern_text = ve(row), pe(row)
            if text is None or pattern_text is None:
                raise operators.NullOperandError()
            matched = _like_regex(pattern_text, escape).fullmatch(text) is not None
            return not matched if negated else matched
        return Compiled(BOOLEAN, like, node)

    def _InList(self, node: ast.InList) -> Compiled:
        items = [i for i in node.items if not isinstance(i, ast.NullLiteral)]
        elements = [node.value, *items]
        try:
            target = common_type(elements, self.type_of, expression_text)
        except TypeCheckError as error:
            raise CodegenError(error.message) from None
        converted = [self._to_type(e, target) for e in elements]
        value, candidates = converted[0], converted[1:]
        negated = node.negated

        def contained(row: Any) -> Any:
            v = value(row)
            found = v is not None and any(_in_list_match(v, c(row)) for c in candidates)
            return not found if negated else found
        return Compiled(BOOLEAN, contained, node)

    # --- CASE --------------------------------------------------------------------------------------

    def _case(self, node: ast.Expression, whens: Sequence[tuple[ast.Expression, ast.Expression, Compiled]],
              default: ast.Expression | None) -> Compiled:
        result_type: SqlType | None = None
        pairs: list[tuple[Evaluator, Evaluator]] = []
        for when_node, result_node, condition in whens:
            if condition.type is None or condition.type.base != "BOOLEAN":
                raise TypeCheckError(f"WHEN operand type should be boolean.\nType for "
                                     f"'{expression_text(when_node)}' is {condition.type}")
            result = self.compile(result_node)
            if result.type is not None:
                if result_type is None:
                    result_type = result.type
                elif result.type != result_type:
                    raise TypeCheckError(
                        "Invalid Case expression. Type for all 'THEN' clauses should be the same.\n"
                        f"THEN expression 'WHEN {expression_text(when_node)} THEN {expression_text(result_node)}' "
                        f"has type: {result.type}.\nPrevious THEN expression(s) type: {result_type}.")
            pairs.append((condition.evaluate, result.evaluate))
        default_eval: Evaluator = lambda row: None  # noqa: E731
        if default is not None:
            compiled_default = self.compile(default)
            if compiled_default.type is not None:
                if result_type is not None and compiled_default.type != result_type:
                    raise TypeCheckError(
                        "Invalid Case expression. Type for the default clause should be the same as for 'THEN' "
                        f"clauses.\nTHEN type: {result_type}.\nDEFAULT type: {compiled_default.type}.")
                result_type = result_type or compiled_default.type
            default_eval = compiled_default.evaluate
        if result_type is None:
            raise TypeCheckError("Invalid Case expression. All case branches have NULL type")

        def case(row: Any) -> Any:
            for condition_eval, result_eval in pairs:
                matched = condition_eval(row)
                if matched is None:
                    raise operators.NullOperandError()
                if matched:
                    return result_eval(row)
            return default_eval(row)
        return Compiled(result_type, case, node)

    def _SearchedCase(self, node: ast.SearchedCase) -> Compiled:
        whens = [(w.condition, w.result, self.compile(w.condition)) for w in node.whens]
        return self._case(node, whens, node.default)

    def _SimpleCase(self, node: ast.SimpleCase) -> Compiled:
        whens = []
        for w in node.whens:
            condition = ast.Comparison("=", node.operand, w.condition)
            whens.append((condition, w.result, self.compile(condition)))
        return self._case(node, whens, node.default)

    # --- CAST and structured values ----------------------------------------------------------------

    def _resolve_type(self, spec: ast.TypeSpec) -> SqlType:
        try:
            return sql_type(spec, self.custom_types)
        except LabkitError as error:
            raise TypeCheckError(str(error)) from None

    def _cast(self, compiled: Compiled, to: SqlType) -> Evaluator:
        source = compiled.type
        try:
            check_cast(source, to)
        except SqlTypeError as error:
            raise CodegenError(str(error)) from None
        if source is None or source == to:
            return compiled.evaluate
        evaluate, logger, target_text = compiled.evaluate, self.logger, str(to)

        def cast(row: Any) -> Any:
            try:
                return cast_value(evaluate(row), source, to)
            except RUNTIME_ERRORS as error:
                logger.error(f"Error processing {target_text}", error)
                return None
        return cast

    def _Cast(self, node: ast.Cast) -> Compiled:
        to = self._resolve_type(node.type)
        compiled = self.compile(node.expression)
        return Compiled(to, self._cast(compiled, to), node)

    def _to_type(self, node: ast.Expression, target: SqlType | None) -> Evaluator:
        """`node` converted to `target`: literals coerced now, other expressions CAST at run time."""
        compiled = self.compile(node)
        if target is None or compiled.type is None or compiled.type == target:
            return compiled.evaluate
        if isinstance(node, ast.Literal) and compiled.constant:
            try:
                value = coerce_value(compiled.evaluate(()), target, lax=True)
            except (CastError, ArithmeticError, ValueError) as error:
                raise CodegenError(str(error)) from None
            return lambda row: value
        return self._cast(compiled, target)

    def _Subscript(self, node: ast.Subscript) -> Compiled:
        base, index = self.compile(node.base), self.compile(node.index)
        if isinstance(base.type, SqlArray):
            be, ie = base.evaluate, index.evaluate

            def element(row: Any) -> Any:
                items = be(row)
                if items is None:
                    return None
                position = ie(row)
                if position is None:
                    raise operators.NullOperandError()
                true_index = position - 1 if position >= 0 else len(items) + position
                return items[true_index] if 0 <= true_index < len(items) else None
            return Compiled(base.type.item, element, node)
        if isinstance(base.type, SqlMap):
            be, ie = base.evaluate, index.evaluate

            def entry(row: Any) -> Any:
                mapping = be(row)
                return None if mapping is None else mapping.get(ie(row))
            return Compiled(base.type.value, entry, node)
        hint = ""
        if isinstance(base.type, SqlStruct):
            hint = f" Use the dereference operator for STRUCTS: {expression_text(node.base)}->" \
                   f"{expression_text(node.index)}"
        raise TypeCheckError(f"Subscript expression ({expression_text(node)}) do not apply to {base.type}.{hint}")

    def _Dereference(self, node: ast.Dereference) -> Compiled:
        base = self.compile(node.base)
        if not isinstance(base.type, SqlStruct):
            raise TypeCheckError(f"Expected STRUCT type, got: {base.type}")
        found = base.type.field(node.field)
        if found is None:
            raise TypeCheckError(f"Could not find field '{node.field}' in '{expression_text(node.base)}'.")
        evaluate, name = base.evaluate, node.field

        def dereference(row: Any) -> Any:
            struct = evaluate(row)
            return None if struct is None else struct.get(name)
        return Compiled(found.type, dereference, node)

    def _ArrayConstructor(self, node: ast.ArrayConstructor) -> Compiled:
        if not node.items:
            raise TypeCheckError("Array constructor cannot be empty. Please supply at least one element "
                                 "(see https://github.com/confluentinc/ksql/issues/4239).")
        item_type = common_type(node.items, self.type_of, expression_text)
        if item_type is None:
            raise TypeCheckError("Cannot construct an array with all NULL elements "
                                 "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may "
                                 "cast a NULL value to the desired type.")
        items = [self._guard(self._to_type(i, item_type), "array item") for i in node.items]
        return Compiled(SqlArray(item_type), lambda row: [i(row) for i in items], node)

    def _MapConstructor(self, node: ast.MapConstructor) -> Compiled:
        if not node.entries:
            raise TypeCheckError("Map constructor cannot be empty. Please supply at least one key value pair "
                                 "(see https://github.com/confluentinc/ksql/issues/4239).")
        keys = [k for k, _ in node.entries]
        values = [v for _, v in node.entries]
        key_type = common_type(keys, self.type_of, expression_text)
        if key_type is None:
            raise TypeCheckError("Cannot construct a map with all NULL keys "
                                 "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may "
                                 "cast a NULL key to the desired type.")
        value_type = common_type(values, self.type_of, expression_text)
        if value_type is None:
            raise TypeCheckError("Cannot construct a map with all NULL values "
                                 "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may "
                                 "cast a NULL value to the desired type.")
        pairs = [(self._guard(self._to_type(k, key_type), "map key"),
                  self._guard(self._to_type(v, value_type), "map value")) for k, v in node.entries]
        return Compiled(SqlMap(key_type, value_type), lambda row: {k(row): v(row) for k, v in pairs}, node)

    def _StructConstructor(self, node: ast.StructConstructor) -> Compiled:
        fields: list[tuple[str, SqlType]] = []
        evaluators: list[tuple[str, Evaluator]] = []
        for name, value in node.fields:
            compiled = self.compile(value)
            if compiled.type is None:
                raise TypeCheckError(f"Can't infer a type of null. Please explicitly cast it to a required type, "
                                     f"e.g. CAST(null AS VARCHAR). Field: {name}")
            fields.append((name, compiled.type))
            evaluators.append((name, self._guard(compiled.evaluate, "struct field")))
        try:
            struct_type = SqlStruct.of(fields)
        except SqlTypeError as error:
            raise TypeCheckError(str(error)) from None
        return Compiled(struct_type, lambda row: {n: e(row) for n, e in evaluators}, node)
