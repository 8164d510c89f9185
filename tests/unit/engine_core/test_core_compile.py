"""The expression compiler: static types, ksqlDB's error messages and Java run-time semantics."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from labkit.engine.compile import ExpressionCompiler, Scope
from labkit.engine.errors import CodegenError, TypeCheckError, UnknownColumnError
from labkit.engine.operators import NullOperandError
from labkit.engine.types import (
    BIGINT, BOOLEAN, DOUBLE, INTEGER, STRING, SqlArray, SqlDecimal, SqlMap, SqlStruct, SqlType,
)
from labkit.sql import parse_expression

COLUMNS: list[tuple[str, SqlType]] = [
    ("I", INTEGER), ("L", BIGINT), ("D", DOUBLE), ("S", STRING), ("B", BOOLEAN), ("DEC", SqlDecimal(4, 2)),
    ("A", SqlArray(INTEGER)), ("M", SqlMap(STRING, INTEGER)), ("ST", SqlStruct.of([("F", STRING)])),
    ("N", INTEGER),
]
ROW: list[Any] = [7, 10_000_000_000, 2.5, "abc", True, Decimal("1.50"), [1, 2, 3], {"x": 1}, {"F": "f"}, None]


class RecordingLogger:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def error(self, message: str, cause: BaseException | None = None) -> None:
        self.messages.append(message)


def compiled(text: str, logger: RecordingLogger | None = None):  # type: ignore[no-untyped-def]
    scope = Scope.of(COLUMNS, qualifiers=["T"])
    return ExpressionCompiler(scope, logger=logger).compile(parse_expression(text))


def evaluate(text: str) -> Any:
    return compiled(text).evaluate(ROW)


@pytest.mark.parametrize("text, expected_type", [
    ("I + 1", "INTEGER"), ("I + L", "BIGINT"), ("I * D", "DOUBLE"), ("DEC + I", "DECIMAL(13, 2)"),
    ("DEC * DEC", "DECIMAL(9, 4)"), ("S + 'x'", "STRING"), ("I > 1 AND B", "BOOLEAN"), ("A[1]", "INTEGER"),
    ("M['x']", "INTEGER"), ("ST->F", "STRING"), ("ARRAY[1, 2.5]", "ARRAY<DECIMAL(11, 1)>"),
    ("MAP('a' := 1)", "MAP<STRING, INTEGER>"), ("STRUCT(X := I, Y := S)", "STRUCT<`X` INTEGER, `Y` STRING>"),
    ("CASE WHEN B THEN 'y' ELSE 'n' END", "STRING"), ("CAST(I AS STRING)", "STRING"), ("UCASE(S)", "STRING"),
    ("TRANSFORM(A, x => x * 2)", "ARRAY<INTEGER>"), ("1.5", "DECIMAL(2, 1)"), ("1.5E0", "DOUBLE"),
    ("2147483648", "BIGINT"), ("T.I", "INTEGER"),
])
def test_expression_types_follow_ksqldb(text: str, expected_type: str) -> None:
    assert str(compiled(text).type) == expected_type


@pytest.mark.parametrize("text, expected", [
    ("I * 2 + 1", 15), ("-7 / 2", -3), ("-7 % 2", -1), ("7 % -2", 1), ("2147483647 + I", -2147483642),
    ("L * 1000000000", 10_000_000_000 * 1_000_000_000 - 2**64), ("D / 0", float("inf")),
    ("DEC + 1", Decimal("2.50")), ("DEC * DEC", Decimal("2.2500")), ("S + 'd'", "abcd"),
    ("S LIKE 'a%'", True), ("S LIKE 'A%'", False), ("S NOT LIKE '_b_'", False), ("I BETWEEN 1 AND 7", True),
    ("I IN (1, '7')", True), ("I NOT IN (1, 2)", True), ("A[-1]", 3), ("A[10]", None), ("M['nope']", None),
    ("ST->F", "f"), ("CASE I WHEN 7 THEN 'seven' END", "seven"), ("CASE WHEN I < 0 THEN 1 END", None),
    ("N IS NULL", True), ("N = 1", False), ("N <> 1", False), ("N IS DISTINCT FROM 1", True),
    ("N IS NOT DISTINCT FROM N", True), ("S = 'abc' OR N > 1", True), ("FALSE AND N > 1", False),
    ("ARRAY[1, I]", [1, 7]), ("MAP('k' := I)", {"k": 7}), ("REDUCE(A, 0, (s, x) => s + x)", 6),
    ("'2020-01-02' > CAST('2020-01-01' AS DATE)", True),
])
def test_values_follow_java_semantics(text: str, expected: Any) -> None:
    assert evaluate(text) == expected


def test_division_by_zero_is_a_runtime_error_for_integers_and_decimals() -> None:
    with pytest.raises(ArithmeticError):
        evaluate("I / 0")
    with pytest.raises(ArithmeticError):
        evaluate("DEC / 0")


def test_decimal_division_that_needs_rounding_fails_like_java() -> None:
    with pytest.raises(ArithmeticError):
        evaluate("DEC / 7")


def test_null_operands_of_arithmetic_and_logic_raise_like_java_unboxing() -> None:
    for text in ("N + 1", "NOT (N > 1) AND N IS NULL AND N", "-N"):
        with pytest.raises((NullOperandError, TypeCheckError)):
            evaluate(text)


def test_string_concatenation_with_null_reads_null_like_java() -> None:
    assert compiled("S + CAST(NULL AS STRING)").evaluate(ROW) == "abcnull"


def test_failing_nested_function_yields_null_and_is_logged() -> None:
    logger = RecordingLogger()
    expression = compiled("IFNULL(CAST(PARSE_DATE(S, 'yyyy-MM-dd') AS STRING), 'none')", logger)
    assert expression.evaluate(ROW) == "none"
    assert logger.messages


def test_failing_array_item_yields_null_item() -> None:
    assert compiled("ARRAY[44, STRINGTODATE(S, 'yyyyMMdd')]", RecordingLogger()).evaluate(ROW) == [44, None]


def test_failing_cast_yields_null() -> None:
    assert evaluate("CAST(S AS INT)") is None


@pytest.mark.parametrize("text, message", [
    ("A < A", "Cannot compare A (ARRAY<INTEGER>) to A (ARRAY<INTEGER>) with LESS_THAN."),
    ("I = 'x'", "Cannot compare I (INTEGER) to 'x' (STRING) with EQUAL."),
    ("NULL = NULL", "Comparison with NULL not supported: NULL = NULL"),
    ("I + NULL", "Arithmetic on types INTEGER and null are not supported."),
    ("S->F", "Expected STRUCT type, got: STRING"),
    ("ST->G", "Could not find field 'G' in 'ST'."),
    ("CASE WHEN B THEN 1 ELSE 'x' END", "Type for the default clause should be the same as for 'THEN' clauses."),
    ("CASE WHEN B THEN NULL END", "Invalid Case expression. All case branches have NULL type"),
    ("ARRAY[]", "Array constructor cannot be empty."),
    ("ARRAY[NULL]", "Cannot construct an array with all NULL elements"),
    ("NOSUCHFUNCTION(1)", "Can't find any functions with the name 'NOSUCHFUNCTION'"),
    ("UCASE(I)", "Function 'ucase' does not accept parameters (INTEGER)."),
    ("COUNT(*)", "Aggregate functions are not supported yet"),
])
def test_type_errors_carry_ksqldb_messages(text: str, message: str) -> None:
    with pytest.raises(TypeCheckError) as raised:
        compiled(text)
    assert message in raised.value.message


@pytest.mark.parametrize("text, message", [
    ("CAST(S AS ARRAY<INT>)", "Cast of STRING to ARRAY<INTEGER> is not supported"),
    ("B IN (10)", "operator does not exist: BOOLEAN = INTEGER (10)"),
    ("L IN ('10', 'ten')", 'invalid input syntax for type BIGINT: "ten".'),
])
def test_code_generation_errors_are_reported_apart(text: str, message: str) -> None:
    with pytest.raises(CodegenError) as raised:
        compiled(text)
    assert message in raised.value.message


def test_unknown_column_is_reported() -> None:
    with pytest.raises(UnknownColumnError):
        compiled("NOPE + 1")


def test_qualified_and_unqualified_references_read_the_same_slot() -> None:
    assert compiled("T.I").evaluate(ROW) == compiled("I").evaluate(ROW) == 7


def test_lambda_sees_row_columns_and_its_parameters() -> None:
    assert evaluate("TRANSFORM(A, x => x + I)") == [8, 9, 10]
    assert evaluate("FILTER(A, x => x > 1)") == [2, 3]
