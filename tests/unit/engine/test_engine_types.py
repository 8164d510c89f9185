"""The SQL type model: rendering, parsing, relations, numbers and time text the ksqlDB way."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from labkit.engine.types import (
    BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, CastError, ColumnSpec, SqlArray,
    SqlDecimal, SqlMap, SqlStruct, SqlTypeError, can_implicitly_cast, date_from_days, date_to_days, decimal_cast,
    decimal_arithmetic_type, decimal_type_of, decode_base64, ensure_decimal_fit, format_date_text, format_time_text,
    format_timestamp_text, infer_type, java_double_str, java_trim, parse_columns, parse_date_text, parse_java_decimal,
    parse_java_double, parse_java_int, parse_java_long, parse_sql_boolean, parse_time_text, parse_timestamp_text,
    parse_type, schema_entity, time_from_millis, time_to_millis, timestamp_from_millis, timestamp_to_millis,
    widen_decimal, wrap_int32, wrap_int64,
)

UTC = dt.timezone.utc


@pytest.mark.parametrize("text,rendered", [
    ("INT", "INTEGER"),
    ("varchar", "STRING"),
    ("VARCHAR(20)", "STRING"),
    ("bigint", "BIGINT"),
    ("DECIMAL(4,2)", "DECIMAL(4, 2)"),
    ("ARRAY<STRUCT<A INT>>", "ARRAY<STRUCT<`A` INTEGER>>"),
    ("STRUCT<f0 INT, `f1` VARCHAR>", "STRUCT<`F0` INTEGER, `f1` STRING>"),
    ('STRUCT<"quoted" BOOLEAN>', "STRUCT<`quoted` BOOLEAN>"),
    ("MAP<STRING, ARRAY<DOUBLE>>", "MAP<STRING, ARRAY<DOUBLE>>"),
    ("STRUCT< >", "STRUCT< >"),
    ("STRUCT<>", "STRUCT< >"),
    ("INT ARRAY", "ARRAY<INTEGER>"),
    ("timestamp", "TIMESTAMP"),
    ("BYTES", "BYTES"),
])
def test_parse_type_renders_as_ksqldb_schemas_do(text: str, rendered: str) -> None:
    assert str(parse_type(text)) == rendered


def test_render_without_quoting_for_error_messages() -> None:
    t = parse_type("STRUCT<A INT, B MAP<STRING, STRUCT<C DOUBLE>>>")
    assert t.render(lambda _name: False) == "STRUCT<A INTEGER, B MAP<STRING, STRUCT<C DOUBLE>>>"


@pytest.mark.parametrize("text,message", [
    ("FOO", "Cannot resolve unknown type: FOO"),
    ("DECIMAL(2,3)", "DECIMAL precision must be >= scale: DECIMAL(2,3)"),
    ("DECIMAL(0,0)", "DECIMAL precision must be >= 1: DECIMAL(0,0)"),
    ("STRUCT<A INT, A STRING>", "Duplicate field names found in STRUCT: '`A` INTEGER' and '`A` STRING'"),
    ("ARRAY<INT", "Failed to parse schema"),
    ("NULL", "Cannot resolve unknown type: NULL"),
])
def test_parse_type_rejects_bad_types_with_ksqldb_messages(text: str, message: str) -> None:
    with pytest.raises(SqlTypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_type(text)


def test_parse_type_resolves_custom_types_case_insensitively() -> None:
    address = parse_type("STRUCT<STREET STRING, NUMBER INT>")
    assert parse_type("ARRAY<address>", {"ADDRESS": address}) == SqlArray(address)


def test_parse_columns_reads_key_markers_and_quoted_names() -> None:
    assert parse_columns("`ID` BIGINT KEY, name STRING, `K2` INT PRIMARY KEY, `mixed` ARRAY<INT>") == [
        ColumnSpec("ID", BIGINT, "KEY"), ColumnSpec("NAME", STRING, None), ColumnSpec("K2", INTEGER, "PRIMARY KEY"),
        ColumnSpec("mixed", SqlArray(INTEGER), None)]


def test_struct_field_lookup_is_case_sensitive() -> None:
    s = SqlStruct.of([("A", INTEGER), ("b", STRING)])
    assert s.field("b").type == STRING and s.field("B") is None


def test_schema_entity_matches_describe_shape() -> None:
    assert schema_entity(INTEGER) == {"type": "INTEGER", "fields": None, "memberSchema": None}
    assert schema_entity(SqlDecimal(4, 2)) == {"type": "DECIMAL", "fields": None, "memberSchema": None,
                                               "parameters": {"precision": 4, "scale": 2}}
    assert schema_entity(SqlMap(STRING, BIGINT))["memberSchema"] == {"type": "BIGINT", "fields": None,
                                                                     "memberSchema": None}
    assert schema_entity(SqlStruct.of([("A", STRING)]))["fields"] == [
        {"name": "A", "schema": {"type": "STRING", "fields": None, "memberSchema": None}}]


@pytest.mark.parametrize("source,target,allowed", [
    (INTEGER, BIGINT, True), (INTEGER, SqlDecimal(2, 1), True), (BIGINT, DOUBLE, True),
    (SqlDecimal(9, 2), DOUBLE, True), (DOUBLE, SqlDecimal(9, 2), False), (BIGINT, INTEGER, False),
    (STRING, DATE, True), (STRING, TIMESTAMP, True), (STRING, BYTES, True), (STRING, INTEGER, False),
    (DATE, STRING, False), (BOOLEAN, STRING, False), (SqlArray(INTEGER), SqlArray(INTEGER), True),
])
def test_implicit_casts_widen_numbers_and_parse_strings_into_time_types(source, target, allowed) -> None:
    assert can_implicitly_cast(source, target) is allowed


def test_decimal_type_relations() -> None:
    assert widen_decimal(INTEGER, BIGINT) == SqlDecimal(19, 0)
    assert widen_decimal(SqlDecimal(9, 2), SqlDecimal(6, 6)) == SqlDecimal(13, 6)
    assert decimal_type_of(Decimal("0.005")) == SqlDecimal(4, 3)
    assert decimal_type_of(Decimal("123.45")) == SqlDecimal(5, 2)
    assert decimal_arithmetic_type("+", SqlDecimal(4, 2), SqlDecimal(3, 1)) == SqlDecimal(5, 2)
    assert decimal_arithmetic_type("*", SqlDecimal(4, 2), INTEGER) == SqlDecimal(15, 2)
    assert decimal_arithmetic_type("/", SqlDecimal(4, 2), SqlDecimal(3, 1)) == SqlDecimal(9, 6)
    assert decimal_arithmetic_type("%", SqlDecimal(4, 2), SqlDecimal(3, 1)) == SqlDecimal(4, 2)


@pytest.mark.parametrize("value,expected", [
    (True, BOOLEAN), (5, INTEGER), (2**31, BIGINT), (1.5, DOUBLE), (Decimal("1.50"), SqlDecimal(3, 2)),
    ("x", STRING), (b"x", BYTES), (dt.date(2020, 1, 1), DATE), (dt.time(1, 2), TIME),
    (dt.datetime(2020, 1, 1, tzinfo=UTC), TIMESTAMP), ([1], None), (None, None),
])
def test_infer_type_from_python_values(value, expected) -> None:
    assert infer_type(value) == expected


@pytest.mark.parametrize("value,text", [
    (1.0, "1.0"), (0.001, "0.001"), (1e7, "1.0E7"), (9999999.0, "9999999.0"), (123456.789, "123456.789"),
    (1.234e-5, "1.234E-5"), (-0.0, "-0.0"), (0.0, "0.0"), (1946195068359375.0, "1.946195068359375E15"),
    (0.06666666666666667, "0.06666666666666667"), (100.0, "100.0"), (-2.5, "-2.5"),
    (float("nan"), "NaN"), (float("-inf"), "-Infinity"), (1e-3 * 0.999, "9.99E-4"),
])
def test_java_double_to_string(value: float, text: str) -> None:
    assert java_double_str(value) == text


def test_java_number_parsing_is_strict_like_the_jvm() -> None:
    assert parse_java_int("-42") == -42 and parse_java_int("+7") == 7
    assert parse_java_long("9223372036854775807") == 2**63 - 1
    for bad in (" 1", "1_000", "2147483648", "", "1.0", "٣"):
        with pytest.raises(CastError):
            parse_java_int(bad)
    assert parse_java_double(" 1.5 ") == 1.5 and parse_java_double("2d") == 2.0 and parse_java_double("1e3") == 1000
    assert parse_java_double("0x1.8p1") == 3.0
    with pytest.raises(CastError):
        parse_java_double("1,5")
    assert parse_java_decimal(".12") == Decimal("0.12") and parse_java_decimal("-1E+2") == Decimal("-1E+2")
    for bad in ("NaN", "1 ", "abc", ""):
        with pytest.raises(CastError):
            parse_java_decimal(bad)


@pytest.mark.parametrize("text,exact,expected", [
    ("true", False, True), ("T", False, True), ("y", False, True), ("YES", False, True), ("tr", False, True),
    ("false", False, False), ("maybe", False, False), ("", False, False),
    ("f", True, False), ("No", True, False), ("maybe", True, None), ("", True, None),
])
def test_sql_boolean_parsing_accepts_prefixes(text: str, exact: bool, expected) -> None:
    assert parse_sql_boolean(text, exact) is expected


def test_java_trim_and_integer_narrowing() -> None:
    assert java_trim("\t\x01 a b \n") == "a b" and java_trim("\u00a0x") == "\u00a0x"
    assert wrap_int32(2**31) == -(2**31) and wrap_int32(-(2**31) - 1) == 2**31 - 1
    assert wrap_int64(2**63) == -(2**63)


def test_base64_decoding_accepts_missing_padding_but_not_junk() -> None:
    assert decode_base64("YWJj") == b"abc" and decode_base64("YQ==") == b"a" and decode_base64("YQ") == b"a"
    for bad in ("Y", "YQ=", "a b", "YQ==="):
        with pytest.raises(CastError):
            decode_base64(bad)


def test_epoch_conversions_round_trip() -> None:
    assert timestamp_from_millis(1526075913000) == dt.datetime(2018, 5, 11, 21, 58, 33, tzinfo=UTC)
    assert timestamp_to_millis(timestamp_from_millis(-1)) == -1
    assert timestamp_to_millis(dt.datetime(1970, 1, 1, 0, 0, 1)) == 1000  # naive taken as UTC
    assert date_from_days(17662) == dt.date(2018, 5, 11) and date_to_days(dt.date(1969, 12, 31)) == -1
    assert time_from_millis(39919000) == dt.time(11, 5, 19) and time_to_millis(dt.time(0, 0, 0, 5000)) == 5
    with pytest.raises(CastError, match="Time values must use number of milliseconds"):
        time_from_millis(86_400_000)


@pytest.mark.parametrize("text,millis", [
    ("2022-04-28T21:44:47.943", 1651182287943),
    ("2022-04-28T21:44:47.943Z", 1651182287943),
    ("2022-06-14", 1655164800000),
    ("2022-06", 1654041600000),
    ("2022", 1640995200000),
    ("2020-05-26T23:59:58.000+0200", 1590530398000),
    ("2020-05-26T23:59:58-05:00", 1590555598000),
    ("2020-05-26T23:59", 1590537540000),
    ("2021-02-30T00:00", 1614470400000),  # java.time SMART resolution clamps to Feb 28
])
def test_string_to_timestamp_accepts_partials_and_offsets(text: str, millis: int) -> None:
    assert timestamp_to_millis(parse_timestamp_text(text)) == millis


@pytest.mark.parametrize("text", ["not a timestamp", "2022-13-01", "2022-04-28T25:00", "2022-04-28T10:00+2x"])
def test_string_to_timestamp_failures_explain_the_format(text: str) -> None:
    with pytest.raises(CastError, match=f"(?s)Failed to parse timestamp '{re.escape(text)}'.*Required format is"):
        parse_timestamp_text(text)


def test_time_and_date_text() -> None:
    assert parse_time_text("09:16:00") == dt.time(9, 16)
    assert parse_time_text("01:34") == dt.time(1, 34)
    assert parse_time_text("01:34:20.123456") == dt.time(1, 34, 20, 123000)
    assert parse_date_text("2020-05") == dt.date(2020, 5, 1) and parse_date_text("2020") == dt.date(2020, 1, 1)
    with pytest.raises(CastError, match="Failed to parse time '25:00'"):
        parse_time_text("25:00")
    with pytest.raises(CastError, match="Failed to parse date '2020-02-30'"):
        parse_date_text("2020-02-30")
    assert format_time_text(dt.time(10, 30)) == "10:30" and format_time_text(dt.time(10, 30, 15, 5000)) == "10:30:15"
    assert format_date_text(dt.date(1972, 9, 27)) == "1972-09-27"
    assert format_timestamp_text(timestamp_from_millis(60220000000)) == "1971-11-28T23:46:40.000"


@pytest.mark.parametrize("value,target,expected", [
    (0.99, SqlDecimal(2, 1), Decimal("1.0")),
    (0.05, SqlDecimal(2, 1), Decimal("0.1")),
    (0.01, SqlDecimal(2, 1), Decimal("0.0")),
    (1, SqlDecimal(2, 1), Decimal("1.0")),
    ("0.10", SqlDecimal(2, 1), Decimal("0.1")),
    (" 1.25 ", SqlDecimal(3, 1), Decimal("1.3")),
    (Decimal("10.01"), SqlDecimal(4, 1), Decimal("10.0")),
    (Decimal("-1.25"), SqlDecimal(3, 1), Decimal("-1.3")),
])
def test_decimal_cast_rounds_half_up(value, target, expected) -> None:
    result = decimal_cast(value, target)
    assert result == expected and result.as_tuple().exponent == -target.scale


@pytest.mark.parametrize("value", [10, 9.99, Decimal("10.0"), "12.5", float("nan")])
def test_decimal_cast_overflow_is_an_error(value) -> None:
    with pytest.raises(CastError):
        decimal_cast(value, SqlDecimal(2, 1))


def test_ensure_decimal_fit_pads_but_never_rounds() -> None:
    assert str(ensure_decimal_fit(Decimal("12.365"), SqlDecimal(6, 4))) == "12.3650"
    with pytest.raises(CastError, match=r"Cannot fit decimal '1.234' into DECIMAL\(4, 2\) without rounding"):
        ensure_decimal_fit(Decimal("1.234"), SqlDecimal(4, 2))
    with pytest.raises(CastError, match="Numeric field overflow"):
        ensure_decimal_fit(Decimal("100"), SqlDecimal(4, 2))
