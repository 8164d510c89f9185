"""Key and value formats: exact bytes, ksqlDB's coercions and the errors the processing log records."""
from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import pytest

from labkit.engine.serde import (
    SchemaRegistryNotConfiguredError, SerdeError, json_dumps, json_loads, make_serde, parse_delimiter, to_rest_json,
    to_topic_json,
)
from labkit.engine.types import (
    BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, SqlArray, SqlDecimal, SqlMap, SqlStruct,
    parse_type, timestamp_from_millis,
)

UTC = dt.timezone.utc
ID_NAME = [("ID", INTEGER), ("NAME", STRING)]


# --- JSON ------------------------------------------------------------------------------------------

def test_json_value_is_wrapped_object_with_every_column() -> None:
    serde = make_serde("JSON", ID_NAME)
    assert serde.serialize([1, "a"]) == b'{"ID":1,"NAME":"a"}'
    assert serde.serialize([None, None]) == b'{"ID":null,"NAME":null}'
    assert serde.serialize(None) is None


@pytest.mark.parametrize("data,row", [
    (b'{"ID": 1, "NAME": "a"}', [1, "a"]),
    (b'{"id": "2", "name": "b"}', [2, "b"]),
    (b'{"ID": 1.9}', [1, None]),
    (b'{"Id": 2147483648, "NAME": 10}', [-2147483648, "10"]),
    (b'{"NAME": {"x": 1.50}}', [None, '{"x":1.50}']),
    (b'{"NAME": [1, null, "z"]}', [None, "[1, null, z]"]),
    (b'{"NAME": true, "extra": 1}', [None, "true"]),
    (b"{}", [None, None]),
    (b"null", None),
])
def test_json_deserialization_is_case_insensitive_and_coerces(data: bytes, row) -> None:
    assert make_serde("JSON", ID_NAME).deserialize(data) == row


def test_json_quoted_column_names_match_exactly_before_upper_case() -> None:
    serde = make_serde("JSON", [("mixed", INTEGER), ("UPPER", INTEGER)])
    assert serde.deserialize(b'{"mixed": 1, "upper": 2}') == [1, 2]
    assert serde.deserialize(b'{"MIXED": 1}') == [None, None]


@pytest.mark.parametrize("data,message", [
    (b'{"ID": true}', "Can't convert type. sourceType: BooleanNode, requiredType: INTEGER, path: $.ID"),
    (b'{"ID": "x"}', "Can't coerce string to type. targetType: INTEGER, path: $.ID"),
    (b"5", "Can't convert type. sourceType: IntNode, requiredType: STRUCT<ID INT, NAME VARCHAR>, path: $"),
    (b"", "Can't convert type. sourceType: MissingNode, requiredType: STRUCT<ID INT, NAME VARCHAR>, path: $"),
    (b"abc", "Unrecognized token 'abc': was expecting (JSON String, Number, Array, Object or token 'null', 'true' "
             "or 'false')"),
])
def test_json_errors_carry_ksqldb_processing_log_messages(data: bytes, message: str) -> None:
    with pytest.raises(SerdeError) as caught:
        make_serde("JSON", ID_NAME).deserialize(data, "orders")
    assert caught.value.message == f"Failed to deserialize value from topic: orders. {message}"
    assert caught.value.topic == "orders" and not caught.value.is_key


def test_json_nested_paths_in_errors() -> None:
    serde = make_serde("JSON", [("A", parse_type("ARRAY<STRUCT<B INT>>"))])
    with pytest.raises(SerdeError, match=r"sourceType: TextNode, requiredType: STRUCT<B INT>, path: \$\.A\[1\]"):
        serde.deserialize(b'{"A": [{"b": 1}, "x"]}')


def test_json_types_in_topic_encoding() -> None:
    columns = [("T", TIMESTAMP), ("D", DATE), ("TI", TIME), ("B", BYTES), ("DEC", SqlDecimal(6, 4)), ("DB", DOUBLE),
               ("M", SqlMap(STRING, BOOLEAN)), ("S", SqlStruct.of([("X", BIGINT)]))]
    serde = make_serde("JSON", columns)
    row = [timestamp_from_millis(1526075913000), dt.date(1972, 9, 27), dt.time(0, 1, 5), b"hi",
           Decimal("12.3650"), 1e10, {"k": True}, {"X": 1}]
    data = serde.serialize(row)
    assert data == (b'{"T":1526075913000,"D":1000,"TI":65000,"B":"aGk=","DEC":12.3650,"DB":1.0E10,'
                    b'"M":{"k":true},"S":{"X":1}}')
    assert serde.deserialize(data) == row


def test_json_decimal_must_fit_without_rounding() -> None:
    serde = make_serde("JSON", [("V", SqlDecimal(4, 2))])
    assert serde.deserialize(b'{"V": 10.1}') == [Decimal("10.10")]
    assert serde.deserialize(b'{"V": "10.1"}') == [Decimal("10.10")]
    with pytest.raises(SerdeError, match=r"Cannot fit decimal '10.123' into DECIMAL\(4, 2\) without rounding"):
        serde.deserialize(b'{"V": 10.123}')


@pytest.mark.parametrize("column_type,data,value", [
    (BOOLEAN, b"true", True),
    (BIGINT, b"10827272222", 10827272222),
    (DOUBLE, b"1234.589", 1234.589),
    (STRING, b'"hello"', "hello"),
    (SqlDecimal(4, 2), b"10.1", Decimal("10.10")),
    (SqlArray(STRING), b"[1, 2, 3]", ["1", "2", "3"]),
    (SqlMap(STRING, INTEGER), b'{"a": 1, "c": null}', {"a": 1, "c": None}),
    (parse_type("STRUCT<F1 STRING>"), b'{"F1": "bar"}', {"F1": "bar"}),
    (INTEGER, b"null", None),
])
def test_unwrapped_json_values(column_type, data: bytes, value) -> None:
    serde = make_serde("JSON", [("V", column_type)], {"WRAP_SINGLE_VALUE": False})
    assert serde.deserialize(data) == [value]


def test_unwrapped_json_null_serializes_to_tombstone() -> None:
    serde = make_serde("JSON", [("V", SqlMap(STRING, DOUBLE))], {"wrap_single_value": "false"})
    assert serde.serialize([{"a": 1.1}]) == b'{"a":1.1}'
    assert serde.serialize([None]) is None


def test_single_value_wrapping_follows_the_server_default() -> None:
    serde = make_serde("JSON", [("FOO", STRING)], {"ksql.persistence.wrap.single.values": "false"})
    assert serde.deserialize(b'"bar"') == ["bar"] and serde.serialize(["bar"]) == b'"bar"'
    wrapped = make_serde("JSON", [("FOO", STRING)], {"ksql.persistence.wrap.single.values": False,
                                                     "WRAP_SINGLE_VALUE": True})
    assert wrapped.serialize(["bar"]) == b'{"FOO":"bar"}'


def test_json_keys_are_unwrapped_for_one_column_and_objects_for_several() -> None:
    single = make_serde("JSON", [("K", STRING)], is_key=True)
    assert single.serialize(["Hey"]) == b'"Hey"' and single.deserialize(b'"Hey"') == ["Hey"]
    assert single.serialize([None]) is None and single.deserialize(None) is None
    struct_key = make_serde("JSON", [("K", parse_type("STRUCT<F DOUBLE>"))], is_key=True)
    assert struct_key.serialize(struct_key.deserialize(b'{"f": 45.67}')) == b'{"F":45.67}'
    multi = make_serde("JSON", [("K1", STRING), ("K2", INTEGER)], is_key=True)
    assert multi.serialize(["a", 1]) == b'{"K1":"a","K2":1}'


# --- DELIMITED -------------------------------------------------------------------------------------

@pytest.mark.parametrize("values,data", [
    ([0, "zero", Decimal("1.50")], b"0,zero,1.50"),
    ([-1, "x", Decimal("2.00")], b'"-1",x,2.00'),
    ([1, "a,b", None], b'1,"a,b",'),
    ([1, 'say "hi"', None], b'1,"say ""hi""",'),
    ([1, " padded", None], b'1," padded",'),
    ([1, "trailing ", None], b'1,"trailing ",'),
    ([1, "#hash", None], b'1,"#hash",'),
    ([1, "", None], b"1,,"),
    ([None, "é", None], b",\xc3\xa9,"),
])
def test_delimited_quoting_matches_commons_csv(values, data: bytes) -> None:
    serde = make_serde("DELIMITED", [("ID", INTEGER), ("NAME", STRING), ("V", SqlDecimal(3, 2))])
    assert serde.serialize(values) == data


def test_delimited_first_field_is_quoted_unless_it_starts_alphanumeric() -> None:
    serde = make_serde("DELIMITED", [("V", STRING)])
    assert serde.serialize(["é"]) == '"é"'.encode() and serde.serialize([""]) == b'""'
    assert serde.serialize([None]) == b"" and serde.serialize(["abc"]) == b"abc"


@pytest.mark.parametrize("data,row", [
    (b"1,zero,2.5", [1, "zero", Decimal("2.50")]),
    (b'"1","a,b",""', [1, "a,b", None]),
    (b"1,,", [1, None, None]),
    (b'1,"say ""hi""" ,1', [1, 'say "hi"', Decimal("1.00")]),
    (b"\n1,x,1\n2,y,2", [1, "x", Decimal("1.00")]),
])
def test_delimited_parsing(data: bytes, row) -> None:
    serde = make_serde("DELIMITED", [("ID", INTEGER), ("NAME", STRING), ("V", SqlDecimal(3, 2))])
    assert serde.deserialize(data) == row


def test_delimited_types_and_custom_delimiters() -> None:
    columns = [("B", BOOLEAN), ("D", DOUBLE), ("BY", BYTES), ("T", TIMESTAMP), ("DA", DATE), ("TI", TIME)]
    serde = make_serde("DELIMITED", columns, {"VALUE_DELIMITER": "|"})
    row = [True, 1e-5, b"\x00\xff", timestamp_from_millis(1000), dt.date(1970, 1, 11), dt.time(0, 0, 1)]
    assert serde.serialize(row) == b"true|1.0E-5|AP8=|1000|10|1000"
    assert serde.deserialize(b"TRUE|1.0E-5|AP8=|1000|10|1000") == row
    assert serde.deserialize(b"yes|1|AP8=|1|1|1")[0] is False
    tab = make_serde("DELIMITED", [("A", STRING), ("B", INTEGER)], {"value_delimiter": "TAB"})
    assert tab.serialize(["a b", 5]) == b"a b\t5" and tab.deserialize(b"x\t1") == ["x", 1]
    keys = make_serde("DELIMITED", [("K1", STRING), ("K2", STRING)], {"KEY_DELIMITER": ";"}, is_key=True)
    assert keys.deserialize(b"foo,bar;baz") == ["foo,bar", "baz"]


@pytest.mark.parametrize("data,cause", [
    (b"1,2", "Column count mismatch on deserialization. topic: t, expected: 3, got: 2"),
    (b"", "No fields in record"),
    (b"x,a,1", 'For input string: "x"'),
    (b'1,"open,1', "EOF reached before encapsulated token finished"),
    (b"1,a,1.234", "Cannot fit decimal '1.234' into DECIMAL(3, 2) without rounding. (Requires 4,3)"),
])
def test_delimited_errors(data: bytes, cause: str) -> None:
    with pytest.raises(SerdeError) as caught:
        make_serde("DELIMITED", [("ID", INTEGER), ("NAME", STRING), ("V", SqlDecimal(3, 2))]).deserialize(data, "t")
    assert caught.value.message == "Error deserializing delimited" and caught.value.causes == (cause,)


@pytest.mark.parametrize("text,delimiter", [(",", ","), ("|", "|"), ("TAB", "\t"), ("SPACE", " ")])
def test_parse_delimiter(text: str, delimiter: str) -> None:
    assert parse_delimiter(text) == delimiter


@pytest.mark.parametrize("text,message", [
    ("", "Delimiter cannot be empty"), (" ", "Delimiter cannot be empty"), ("\t", "Delimiter cannot be empty"),
    ("ab", "Invalid delimiter value: 'ab'. Delimiter must be a single character or TAB,SPACE"),
])
def test_parse_delimiter_rejects_bad_values(text: str, message: str) -> None:
    with pytest.raises(SerdeError, match=message):
        parse_delimiter(text)


# --- KAFKA and NONE ---------------------------------------------------------------------------------

@pytest.mark.parametrize("column_type,value,data", [
    (INTEGER, 1, b"\x00\x00\x00\x01"),
    (INTEGER, -2, b"\xff\xff\xff\xfe"),
    (BIGINT, 1, b"\x00\x00\x00\x00\x00\x00\x00\x01"),
    (DOUBLE, 1.1, struct.pack(">d", 1.1)),
    (STRING, "héllo", "héllo".encode()),
    (BYTES, b"\x01\x02", b"\x01\x02"),
])
def test_kafka_format_big_endian_primitives(column_type, value, data: bytes) -> None:
    serde = make_serde("KAFKA", [("V", column_type)])
    assert serde.serialize([value]) == data and serde.deserialize(data) == [value]
    assert serde.serialize([None]) is None and serde.deserialize(None) is None


def test_kafka_size_errors() -> None:
    with pytest.raises(SerdeError) as caught:
        make_serde("KAFKA", [("K", BIGINT)], is_key=True).deserialize(b"\x00\x01", "input")
    assert caught.value.message == "Error deserializing KAFKA message from topic: input"
    assert caught.value.causes == ("Size of data received by LongDeserializer is not 8",) and caught.value.is_key


def test_none_format_ignores_data() -> None:
    serde = make_serde("NONE", [], is_key=True)
    assert serde.serialize([]) is None and serde.deserialize(b"data that should be ignored") == []


# --- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("format_name,columns,props,is_key,message", [
    ("FOO", [], None, False, "Unknown format: FOO"),
    ("NONE", [("K", STRING)], None, True, "The 'NONE' format can only be used when no columns are defined. Got: "
                                          "[`K` STRING KEY]"),
    ("NONE", [("FOO", INTEGER)], None, False, "The 'NONE' format can only be used when no columns are defined. Got: "
                                              "[`FOO` INTEGER]"),
    ("KAFKA", [("A", SqlArray(INTEGER))], None, False, "The 'KAFKA' format does not support type 'ARRAY'"),
    ("KAFKA", [("A", BOOLEAN)], None, False, "The 'KAFKA' format does not support type 'BOOLEAN'"),
    ("KAFKA", [("A", INTEGER), ("B", INTEGER)], None, False, "The 'KAFKA' format only supports a single field."),
    ("DELIMITED", [("K", SqlArray(DOUBLE))], None, True, "The 'DELIMITED' format does not support type 'ARRAY', "
                                                         "column: `K`"),
    ("DELIMITED", [("S", parse_type("STRUCT<K DOUBLE>"))], None, False, "The 'DELIMITED' format does not support "
                                                                         "type 'STRUCT'"),
    ("JSON", [("M", SqlMap(INTEGER, DOUBLE))], None, False, "JSON only supports MAP types with STRING keys"),
    ("DELIMITED", [("V", INTEGER)], {"WRAP_SINGLE_VALUE": True}, False,
     "Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'true'."),
    ("JSON", ID_NAME, {"WRAP_SINGLE_VALUE": False}, False,
     "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"),
    ("JSON", [("V", INTEGER)], {"VALUE_DELIMITER": "|"}, False, "JSON does not support the following configs: "
                                                                "[delimiter]"),
])
def test_make_serde_validates_like_ksqldb(format_name, columns, props, is_key, message: str) -> None:
    with pytest.raises(SerdeError) as caught:
        make_serde(format_name, columns, props, is_key=is_key)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("format_name", ["AVRO", "JSON_SR", "PROTOBUF", "protobuf_nosr"])
def test_schema_registry_formats_name_the_missing_setting(format_name: str) -> None:
    with pytest.raises(SchemaRegistryNotConfiguredError, match="please set ksql.schema.registry.url") as caught:
        make_serde(format_name, ID_NAME)
    assert caught.value.error_code == 42801
    with pytest.raises(SchemaRegistryNotConfiguredError, match="embedded engine does not support"):
        make_serde(format_name, ID_NAME, {"ksql.schema.registry.url": "http://localhost:8081"})


# --- JSON text and renderings ----------------------------------------------------------------------

def test_json_text_is_written_like_jackson() -> None:
    assert json_dumps({"a": [1, 2.0, None, True], "b": Decimal("1.50"), "c": "q\"\n\x01é"}) == \
        '{"a":[1,2.0,null,true],"b":1.50,"c":"q\\"\\n\\u0001é"}'
    assert json_dumps([float("nan"), float("inf"), 1e21]) == '["NaN","Infinity",1.0E21]'
    assert json_dumps(Decimal("1E-7")) == "0.0000001" and json_dumps(Decimal("1E-7"), plain_decimals=False) == "1E-7"


def test_json_text_is_read_like_jackson() -> None:
    assert json_loads('{"a": 1.50, "b": [1, 2]} trailing') == {"a": Decimal("1.50"), "b": [1, 2]}
    assert json_loads("1 2") == 1
    for bad in ("1x", "NaN", "[1,", "'a'", "truex"):
        with pytest.raises(ValueError):
            json_loads(bad)


def test_rest_rendering_of_column_values() -> None:
    assert to_rest_json(timestamp_from_millis(60220000000), TIMESTAMP) == "1971-11-28T23:46:40.000"
    assert to_rest_json(dt.date(1972, 9, 27), DATE) == "1972-09-27"
    assert to_rest_json(dt.time(10, 30), TIME) == "10:30" and to_rest_json(dt.time(10, 30, 15), TIME) == "10:30:15"
    assert to_rest_json(b"!", BYTES) == "IQ==" and to_rest_json(Decimal("1.50"), SqlDecimal(3, 2)) == Decimal("1.50")
    assert to_rest_json({1: [timestamp_from_millis(0)]}, SqlMap(INTEGER, SqlArray(TIMESTAMP))) == \
        {"1": ["1970-01-01T00:00:00.000"]}
    struct_type = SqlStruct.of([("T", TIMESTAMP), ("N", STRING)])
    assert to_rest_json({"T": timestamp_from_millis(5), "N": None}, struct_type) == {"T": 5, "N": None}
    assert to_topic_json([dt.date(1970, 1, 2)], SqlArray(DATE)) == [1]
