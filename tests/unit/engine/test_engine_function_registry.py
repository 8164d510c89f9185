"""Overload resolution, implicit casts, generics, lambdas and ksqlDB's resolution error messages."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from labkit.engine.functions import (
    FunctionError, FunctionResolutionError, IntervalUnitArg, LambdaArg, function_names, get_function, is_function,
    lambda_input_types, resolve,
)
from labkit.engine.types import (
    BIGINT, BOOLEAN, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, SqlArray, SqlDecimal, SqlMap, SqlStruct,
)


def test_resolve_unpacks_to_callable_and_return_type() -> None:
    fn, return_type = resolve("ucase", [STRING])
    assert fn("ksql") == "KSQL" and return_type == STRING


def test_unknown_function_names_the_function() -> None:
    with pytest.raises(FunctionResolutionError, match="Can't find any functions with the name 'NOPE'"):
        resolve("NOPE", [])
    assert not is_function("ltrim") and is_function("Trim")


@pytest.mark.parametrize("name,args,first_line", [
    ("timeadd", [TIME, INTEGER, TIME], "Function 'timeadd' does not accept parameters (TIME, INTEGER, TIME)."),
    ("greatest", [STRING, INTEGER], "Function 'greatest' does not accept parameters (STRING, INTEGER)."),
    ("least", [], "Function 'least' does not accept parameters ()."),
    ("COALESCE", [], "Function 'COALESCE' does not accept parameters ()."),
    ("LPad", [STRING, BIGINT, STRING], "Function 'LPad' does not accept parameters (STRING, BIGINT, STRING)."),
    ("len", [SqlStruct.of([("a", INTEGER)])], "Function 'len' does not accept parameters (STRUCT<a INTEGER>)."),
    ("greatest", [INTEGER, BIGINT], "Function 'greatest' cannot be resolved due to ambiguous method parameters "
                                    "(INTEGER, BIGINT)."),
    ("least", [None, None, None, None], "Function 'least' cannot be resolved due to ambiguous method parameters "
                                        "(null, null, null, null)."),
    ("greatest", [INTEGER, BIGINT, SqlDecimal(50, 30)], "Function 'greatest' cannot be resolved due to ambiguous "
                                                        "method parameters (INTEGER, BIGINT, DECIMAL(50, 30))."),
])
def test_resolution_errors_match_ksqldb(name: str, args, first_line: str) -> None:
    with pytest.raises(FunctionResolutionError) as caught:
        resolve(name, args)
    lines = str(caught.value).splitlines()
    assert lines[0] == first_line
    assert lines[-1] == "For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;"


def test_error_lists_the_valid_alternatives() -> None:
    with pytest.raises(FunctionResolutionError) as caught:
        resolve("ABS", [STRING])
    alternatives = "Valid alternatives are:\nABS(INT val)\nABS(BIGINT val)\nABS(DOUBLE val)\nABS(DECIMAL val)"
    assert alternatives in str(caught.value)


@pytest.mark.parametrize("args,return_type,values,result", [
    ([INTEGER, INTEGER, None], INTEGER, (2, 7, None), 7),
    ([INTEGER, BIGINT, SqlDecimal(30, 18), DOUBLE, None], DOUBLE, (500000, 1, Decimal("99999.99999"), 2.5, None),
     500000.0),
    ([SqlDecimal(9, 2), SqlDecimal(6, 6)], SqlDecimal(13, 6), (Decimal("1234567.89"), Decimal("0.123456")),
     Decimal("1234567.890000")),
    ([DATE, DATE, None, STRING], DATE, (dt.date(2022, 1, 1), None, None, "2022-06-14"), dt.date(2022, 6, 14)),
    ([TIME, STRING], TIME, (dt.time(9, 0), "09:16:00"), dt.time(9, 16)),
])
def test_greatest_resolution_casts_arguments_and_widens_decimals(args, return_type, values, result) -> None:
    resolved = resolve("GREATEST", args)
    assert resolved.return_type == return_type
    value = resolved.call(*values)
    assert value == result and type(value) is type(result)
    if isinstance(result, Decimal):
        assert value.as_tuple().exponent == result.as_tuple().exponent


def test_exact_matches_beat_implicit_casts() -> None:
    assert resolve("ABS", [INTEGER]).return_type == INTEGER
    assert resolve("ABS", [SqlDecimal(5, 2)]).return_type == SqlDecimal(5, 2)
    assert resolve("SQRT", [SqlDecimal(5, 2)]).return_type == DOUBLE
    assert resolve("SQRT", [SqlDecimal(5, 2)]).call(Decimal("6.25")) == 2.5
    assert resolve("ROUND", [INTEGER]).return_type == BIGINT
    assert resolve("ROUND", [SqlDecimal(33, 16)]).return_type == SqlDecimal(17, 0)


def test_generics_bind_exactly_and_never_cast() -> None:
    assert resolve("IFNULL", [INTEGER, INTEGER]).return_type == INTEGER
    assert resolve("IFNULL", [SqlArray(INTEGER), SqlArray(INTEGER)]).return_type == SqlArray(INTEGER)
    assert resolve("IFNULL", [None, STRING]).return_type == STRING
    with pytest.raises(FunctionResolutionError, match="does not accept parameters \\(INTEGER, BIGINT\\)"):
        resolve("IFNULL", [INTEGER, BIGINT])
    assert resolve("ARRAY_MAX", [SqlArray(SqlDecimal(2, 1))]).return_type == SqlDecimal(2, 1)
    assert resolve("MAP_VALUES", [SqlMap(STRING, BOOLEAN)]).return_type == SqlArray(BOOLEAN)
    assert resolve("AS_MAP", [SqlArray(STRING), SqlArray(DOUBLE)]).return_type == SqlMap(STRING, DOUBLE)


def test_variadic_arguments_in_the_middle_and_at_the_end() -> None:
    assert resolve("CONCAT", [STRING, STRING, STRING]).call("a", None, "c") == "ac"
    assert resolve("CONCAT", [STRING]).call("a") == "a"
    assert resolve("ELT", [INTEGER, STRING, STRING]).call(2, "a", "b") == "b"
    assert resolve("ELT", [INTEGER]).call(1) is None
    assert resolve("FIELD", [STRING, STRING, STRING, STRING]).call("c", "a", "b", "c") == 3


def test_lambdas_resolve_in_two_steps() -> None:
    args = [SqlArray(INTEGER), LambdaArg(1)]
    assert lambda_input_types("TRANSFORM", args, 1) == (INTEGER,)
    typed = resolve("TRANSFORM", [SqlArray(INTEGER), LambdaArg(1, (INTEGER,), STRING)])
    assert typed.return_type == SqlArray(STRING) and typed.call([1, 2], str) == ["1", "2"]
    assert lambda_input_types("REDUCE", [SqlArray(INTEGER), BIGINT, LambdaArg(2)], 2) == (BIGINT, INTEGER)
    assert lambda_input_types("TRANSFORM", [SqlMap(STRING, DOUBLE), LambdaArg(2), LambdaArg(2)], 2) == (STRING, DOUBLE)
    with pytest.raises(FunctionResolutionError):
        resolve("TRANSFORM", [SqlArray(INTEGER), LambdaArg(2)])
    with pytest.raises(FunctionResolutionError):
        resolve("FILTER", [SqlArray(INTEGER), LambdaArg(1, (INTEGER,), STRING)])


def test_interval_unit_arguments() -> None:
    resolved = resolve("TIMESTAMPADD", [IntervalUnitArg("MILLISECONDS"), INTEGER, TIMESTAMP])
    assert resolved.return_type == TIMESTAMP
    with pytest.raises(FunctionResolutionError):
        resolve("TIMESTAMPADD", [STRING, INTEGER, TIMESTAMP])


def test_null_for_a_java_primitive_parameter_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="NULL passed to the BIGINT parameter 'epochMilli'"):
        resolve("TIMESTAMPTOSTRING", [BIGINT, STRING]).call(None, "yyyy")
    with pytest.raises(FunctionError):
        resolve("INSTR", [STRING, STRING, INTEGER]).call("abc", "b", None)


def test_failed_implicit_cast_is_a_function_error() -> None:
    with pytest.raises(FunctionError, match="Failed to parse date 'soon'"):
        resolve("GREATEST", [DATE, STRING]).call(dt.date(2022, 1, 1), "soon")


def test_catalogue_lists_and_describes_functions() -> None:
    names = function_names()
    assert names == sorted(names) and len(names) > 120
    assert {"SUBSTRING", "EXTRACTJSONFIELD", "TIMESTAMPTOSTRING", "ARRAY_LENGTH", "TRANSFORM"} <= set(names)
    described = get_function("substring").describe()
    assert described["name"] == "SUBSTRING" and described["category"] == "STRING"
    assert [f["argumentTypes"] for f in described["functions"]][:2] == [["VARCHAR", "INT"], ["VARCHAR", "INT", "INT"]]
    assert get_function("concat").describe()["functions"][0]["arguments"][0]["isVariadic"] is True
