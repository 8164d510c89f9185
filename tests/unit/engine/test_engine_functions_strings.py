"""String, bytes and regular-expression functions, value for value as ksqlDB 0.29 computes them."""
from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from labkit.engine.functions import FunctionError, resolve
from labkit.engine.types import BYTES, INTEGER, STRING, infer_type

S, I, B = STRING, INTEGER, BYTES


class Null:
    """A NULL of a known SQL type (a column holding NULL rather than a NULL literal)."""

    def __init__(self, sql_type: Any) -> None:
        self.type = sql_type


def call(name: str, *args: Any) -> Any:
    """Resolve `name` from the Python argument types (None = NULL literal) and call it."""
    types = [a.type if isinstance(a, Null) else infer_type(a) for a in args]
    return resolve(name, types).call(*[None if isinstance(a, Null) else a for a in args])


@pytest.mark.parametrize("name,args,expected", [
    ("SUBSTRING", ("some_string", 6), "string"),
    ("SUBSTRING", ("some_string", 6, 3), "str"),
    ("SUBSTRING", ("another", 6, 3), "er"),
    ("SUBSTRING", ("short", 6, 3), ""),
    ("SUBSTRING", ("some string", 0, 2), "so"),
    ("SUBSTRING", ("abcdef", -2), "ef"),
    ("SUBSTRING", ("abcdef", -10, 3), "abc"),
    ("SUBSTRING", ("abcdef", 2, -1), ""),
    ("SUBSTRING", ("a\U0001F600b", 2, 2), "\U0001F600"),
    ("SUBSTRING", (b"some_string", 6), b"string"),
    ("SUBSTRING", (b"some_string", 6, 3), b"str"),
    ("SUBSTRING", ("x", None), None),
    ("SUBSTRING", ("x", 1, None), None),
    ("CONCAT", ("a", None, "b"), "ab"),
    ("CONCAT", (Null(S), Null(S)), ""),
    ("CONCAT", ("'", "foo", "'"), "'foo'"),
    ("CONCAT", (b"a", None, b"b"), b"ab"),
    ("CONCAT_WS", ("SEP", "foo", None, "baz", "literal"), "fooSEPbazSEPliteral"),
    ("CONCAT_WS", (None, "foo"), None),
    ("CONCAT_WS", (b"a", b"b", b"yes", None, b"no"), b"bayesano"),
    ("LEN", ("ABC",), 3),
    ("LEN", ("",), 0),
    ("LEN", ("\U0001F600",), 2),
    ("LEN", (b"abc",), 3),
    ("LEN", (Null(S),), None),
    ("TRIM", (" \t with white space \t",), "with white space"),
    ("TRIM", ("\u00a0x\u00a0",), "\u00a0x\u00a0"),
    ("UCASE", ("MiXeD",), "MIXED"),
    ("LCASE", ("MiXeD",), "mixed"),
    ("UCASE", (None,), None),
    ("REPLACE", ("anaconda", "a", "o"), "onocondo"),
    ("REPLACE", ("abc", "", "-"), "-a-b-c-"),
    ("REPLACE", ("anaconda", None, "o"), None),
    ("INITCAP", ("the   Quick br0wn fOx",), "The   Quick Br0wn Fox"),
    ("INITCAP", ("some_string",), "Some_string"),
    ("INITCAP", ("  leading",), "Leading"),
    ("INITCAP", ("",), ""),
    ("LPAD", ("foo", 7, "Bar"), "BarBfoo"),
    ("LPAD", ("foo", 2, "Bar"), "fo"),
    ("LPAD", ("", 7, "Bar"), "BarBarB"),
    ("LPAD", ("foo", 7, ""), None),
    ("LPAD", ("foo", -1, "Bar"), None),
    ("RPAD", ("foo", 7, "Bar"), "fooBarB"),
    ("RPAD", ("foo", 5, "Bar"), "fooBa"),
    ("LPAD", (b"foo", 7, b"Bar"), b"BarBfoo"),
    ("RPAD", (b"foo", 2, b"Bar"), b"fo"),
    ("INSTR", ("CORPORATE FLOOR", "OR"), 2),
    ("INSTR", ("corporate floor", "or", 4), 5),
    ("INSTR", ("corporate floor", "or", 4, 2), 14),
    ("INSTR", ("corporate floor", "or", -4, 2), 2),
    ("INSTR", ("corporate floor", "or", -3), 5),
    ("INSTR", ("short", "or", 4, 2), 0),
    ("INSTR", ("abc", ""), 1),
    ("INSTR", (None, "a"), 0),
    ("INSTR", ("abc", "a", 10), 0),
    ("ELT", (2, "ignored", "something"), "something"),
    ("ELT", (3, "a", "b"), None),
    ("ELT", (0, "a"), None),
    ("FIELD", ("hello", "world", "hello"), 2),
    ("FIELD", ("hello", None, None), 0),
    ("FIELD", (None, None), 0),
    ("CHR", (75,), "K"),
    ("CHR", ("\\u004b",), "K"),
    ("CHR", ("\\u597d",), "\u597d"),
    ("CHR", ("\\ud820\\udeb8",), "\U000182b8"),
    ("CHR", ("75",), None),
    ("CHR", ("bogus",), None),
    ("CHR", (-1,), None),
    ("CHR", (0x110000,), None),
])
def test_string_functions(name: str, args: tuple, expected: Any) -> None:
    assert call(name, *args) == expected


@pytest.mark.parametrize("args,expected", [
    (("AbCd#$123xy Z",), "XxXx--nnnxx-X"),
    (("AbCd#$123xy Z", "*", "-", "9", "@"), "*-*-@@999--@*"),
    (("Ab1", None, None, None, None), "Ab1"),
    ((None,), None),
])
def test_mask(args: tuple, expected: Any) -> None:
    types = [S] * len(args)
    assert resolve("MASK", types).call(*args) == expected


@pytest.mark.parametrize("name,expected", [
    ("MASK_KEEP_LEFT", "AbCd#-nnnxx-X"),
    ("MASK_KEEP_RIGHT", "XxXx--nn3xy Z"),
    ("MASK_LEFT", "XxXx-$123xy Z"),
    ("MASK_RIGHT", "AbCd#$12nxx-X"),
])
def test_partial_masks(name: str, expected: str) -> None:
    assert resolve(name, [S, I]).call("AbCd#$123xy Z", 5) == expected
    assert resolve(name, [S, I, S, S, S, S]).call("Ab", 0, None, "#", None, None) in ("A#", "Ab")
    with pytest.raises(FunctionError, match=f"function {name.lower()} requires a non-negative number"):
        resolve(name, [S, I]).call("x", -1)


def test_mask_characters_must_be_single() -> None:
    with pytest.raises(FunctionError, match="Invalid mask character. Must be only single character, but was '\\*\\*'"):
        resolve("MASK", [S, S, S, S, S]).call("x", "**", None, None, None)


@pytest.mark.parametrize("pattern,text,replacement,expected", [
    ("(ab)+", "baababaa", "cat", "bacataa"),
    ("(ab)+", "baabbabaa", "cat", "bacatbcataa"),
    ("(\\w+) (\\w+)", "John Smith", "$2, $1", "Smith, John"),
    ("(?<y>\\d{4})-(?<m>\\d\\d)-(?<d>\\d\\d)", "2022-06-14", "${d}/${m}/${y}", "14/06/2022"),
    ("cost", "cost", "\\$5", "$5"),
    ("\\Q.\\E", "a.b.c", "-", "a-b-c"),
    ("\\p{Alpha}", "ab12", "", "12"),
    ("\\s", "a\u00a0b c", "_", "a\u00a0b_c"),
    ("x*", "abxd", "-", "-a-b--d-"),
    ("(a)|(b)", "ab", "[$2]", "[][b]"),
])
def test_regexp_replace_uses_java_regex_and_replacement_syntax(pattern, text, replacement, expected) -> None:
    assert resolve("REGEXP_REPLACE", [S, S, S]).call(text, pattern, replacement) == expected


def test_regexp_errors() -> None:
    with pytest.raises(FunctionError, match=re.escape("Invalid regular expression pattern: (")):
        resolve("REGEXP_REPLACE", [S, S, S]).call("x", "(", "y")
    with pytest.raises(FunctionError, match="No group 2"):
        resolve("REGEXP_REPLACE", [S, S, S]).call("x", "(x)", "$2")
    assert resolve("REGEXP_REPLACE", [S, S, S]).call(None, "x", "y") is None


@pytest.mark.parametrize("name,args,expected", [
    ("REGEXP_EXTRACT", ("test.", "some_test_string"), "test_"),
    ("REGEXP_EXTRACT", ("test.", "anothertest"), None),
    ("REGEXP_EXTRACT", ("(.*) (.*)", "steven zhang", 2), "zhang"),
    ("REGEXP_EXTRACT", ("(.*) (.*)", "agavra", 2), None),
    ("REGEXP_EXTRACT", ("(.*)", "x", 2), None),
    ("REGEXP_EXTRACT_ALL", ("(\\w+) (\\w*)", "apurva mehta agavra ", 2), ["mehta", ""]),
    ("REGEXP_EXTRACT_ALL", ("\\d", "a1b22"), ["1", "2", "2"]),
    ("REGEXP_EXTRACT_ALL", ("(\\w+) (\\w*)", "agavra", 2), []),
    ("REGEXP_SPLIT_TO_ARRAY", ("aabcda", "(ab|cd)"), ["a", "", "a"]),
    ("REGEXP_SPLIT_TO_ARRAY", ("zxy", "(ab|cd)"), ["zxy"]),
    ("REGEXP_SPLIT_TO_ARRAY", ("abc", ""), ["a", "b", "c"]),
    ("REGEXP_SPLIT_TO_ARRAY", ("axbxx", "x*"), ["a", "", "b"]),
    ("SPLIT", ("a.b.c", "."), ["a", "b", "c"]),
    ("SPLIT", ("..a..", "."), ["", "", "a", "", ""]),
    ("SPLIT", ("a$$b.c", "$$"), ["a", "b.c"]),
    ("SPLIT", ("", "."), [""]),
    ("SPLIT", ("abc", ""), ["a", "b", "c"]),
    ("SPLIT", ("", ""), [""]),
    ("SPLIT", (b".abc.", b"."), [b"", b"abc", b""]),
    ("SPLIT", (b"ab", b""), [b"a", b"b"]),
    ("SPLIT", (b"", b"."), [b""]),
    ("SPLIT", ("x", None), None),
])
def test_regex_and_split_functions(name: str, args: tuple, expected: Any) -> None:
    assert call(name, *args) == expected


@pytest.mark.parametrize("args,expected", [
    (("apple:green/banana:yellow", "/", ":"), {"apple": "green", "banana": "yellow"}),
    (("a:1//b/c:3:4/a:5", "/", ":"), {"a": "5", "c": "3"}),
    (("a:1", "", ":"), None),
    (("a:1", ":", ":"), None),
    ((None, "/", ":"), None),
])
def test_split_to_map(args: tuple, expected: Any) -> None:
    assert resolve("SPLIT_TO_MAP", [S, S, S]).call(*args) == expected


@pytest.mark.parametrize("args,expected", [
    (("Example!", "ascii", "hex"), "4578616d706c6521"),
    (("Example!", "ascii", "base64"), "RXhhbXBsZSE="),
    (("\u0395\u03bb", "ascii", "hex"), "3f3f"),
    (("RXhhbXBsZSE=", "base64", "utf8"), "Example!"),
    (("zpXOuw==", "base64", "hex"), "ce95cebb"),
    (("zpXOuw==", "base64", "ascii"), "\ufffd\ufffd\ufffd\ufffd"),
    (("0x4578", "hex", "utf8"), "Ex"),
    (("X'4578'", "hex", "ascii"), "Ex"),
    (("Ex", "UTF8", "BASE64"), "RXg="),
    ((None, "hex", "utf8"), None),
])
def test_encode(args: tuple, expected: Any) -> None:
    assert resolve("ENCODE", [S, S, S]).call(*args) == expected


@pytest.mark.parametrize("args,message", [
    (("4578", "hex", "hex"), "Supported input and output encodings are: hex, utf8, ascii and base64"),
    (("457", "hex", "utf8"), "Odd number of characters."),
    (("zz", "hex", "utf8"), "Illegal hexadecimal character z at index 0"),
])
def test_encode_errors(args: tuple, message: str) -> None:
    with pytest.raises(FunctionError, match=re.escape(message)):
        resolve("ENCODE", [S, S, S]).call(*args)


def test_bytes_conversions() -> None:
    assert call("TO_BYTES", "hello", "ascii") == b"hello"
    assert call("TO_BYTES", "48656c6C6F", "hex") == b"Hello"
    assert call("TO_BYTES", "IQ==", "base64") == b"!"
    assert call("FROM_BYTES", b"Hello", "hex") == "48656C6C6F"
    assert call("FROM_BYTES", b"!", "BASE64") == "IQ=="
    assert call("FROM_BYTES", b"\xff", "utf8") == "\ufffd"
    assert call("TO_BYTES", None, "hex") is None
    with pytest.raises(FunctionError, match="Unknown encoding type 'ebcdic'"):
        call("TO_BYTES", "x", "ebcdic")
    with pytest.raises(FunctionError, match="hexBinary needs to be even-length: abc"):
        call("TO_BYTES", "abc", "hex")
    assert call("INT_FROM_BYTES", base64.b64decode("AAAH5Q==")) == 2021
    assert call("BIGINT_FROM_BYTES", base64.b64decode("APIFKgEAAAA="), "LITTLE_ENDIAN") == 5000000000
    assert call("DOUBLE_FROM_BYTES", base64.b64decode("QICm/ZvJ9YI=")) == 532.8738323
    with pytest.raises(FunctionError, match="Number of bytes must be equal to 4, but found 3"):
        call("INT_FROM_BYTES", b"abc")
    with pytest.raises(FunctionError, match="Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order 'X'"):
        call("INT_FROM_BYTES", b"abcd", "X")


def test_uuid() -> None:
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", call("UUID"))
    assert call("UUID", bytes(range(16))) == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert call("UUID", b"short") is None and call("UUID", b"") is None
