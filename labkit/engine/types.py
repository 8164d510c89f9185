"""The SQL type system of the engine, and how values of each type behave (ksqlDB 0.29 semantics).

Types are frozen dataclasses; `str(t)` renders them as ksqlDB does in schemas and query headers
(struct field names back-quoted: ``STRUCT<`A` INTEGER>``).

Python representation of values, per SQL type:

| SQL type  | Python value                                                        |
|-----------|---------------------------------------------------------------------|
| BOOLEAN   | `bool`                                                              |
| INTEGER   | `int` in [-2**31, 2**31)                                            |
| BIGINT    | `int` in [-2**63, 2**63)                                            |
| DOUBLE    | `float`                                                             |
| DECIMAL   | `decimal.Decimal` whose exponent is ``-scale``                      |
| STRING    | `str`                                                               |
| BYTES     | `bytes`                                                             |
| DATE      | `datetime.date`                                                     |
| TIME      | `datetime.time` (millisecond precision, no tzinfo)                  |
| TIMESTAMP | `datetime.datetime`, timezone-aware UTC, millisecond precision      |
| ARRAY     | `list`                                                              |
| MAP       | `dict` (insertion order)                                            |
| STRUCT    | `dict` field name -> value, every field present, in schema order    |

SQL NULL is `None` everywhere. Use `timestamp_from_millis`/`timestamp_to_millis` (and the date/time
siblings) to convert to and from the epoch numbers ksqlDB writes to topics. Coercion and CAST live in
`labkit.engine.functions.casts`; JSON renderings of values in `labkit.engine.serde`.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Callable, Iterable, Mapping

from labkit.errors import LabkitError

__all__ = [
    "SqlType", "SqlPrimitive", "SqlDecimal", "SqlArray", "SqlMap", "SqlStruct", "StructField",
    "BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "STRING", "BYTES", "DATE", "TIME", "TIMESTAMP",
    "SqlTypeError", "CastError", "ColumnSpec",
    "parse_type", "parse_columns", "schema_entity", "infer_type",
    "is_numeric", "is_temporal", "can_implicitly_cast", "to_decimal_type", "widen_decimal",
    "decimal_type_of", "decimal_arithmetic_type", "ensure_decimal_fit", "decimal_cast",
    "timestamp_from_millis", "timestamp_to_millis", "date_from_days", "date_to_days",
    "time_from_millis", "time_to_millis",
    "parse_timestamp_text", "parse_time_text", "parse_date_text",
    "format_timestamp_text", "format_time_text", "format_date_text",
    "java_double_str", "java_decimal_str", "plain_decimal_str", "java_trim", "wrap_int32", "wrap_int64",
    "parse_java_int", "parse_java_long", "parse_java_double", "parse_java_decimal",
    "parse_sql_boolean", "decode_base64", "parse_offset",
]


class SqlTypeError(LabkitError):
    """A type is malformed, unknown, or an operation is not supported between two types."""


class CastError(LabkitError):
    """A value could not be converted to the requested type at run time (ksqlDB yields NULL)."""


def _always_quote(_name: str) -> bool:
    return True


@dataclass(frozen=True)
class SqlType:
    """Base of every SQL type; `base` is the ksqlDB base type name (INTEGER, ARRAY, ...)."""

    @property
    def base(self) -> str:
        raise NotImplementedError

    def render(self, quote: Callable[[str], bool] = _always_quote) -> str:
        """Render as SQL; `quote(name)` decides whether a struct field name is back-quoted."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class SqlPrimitive(SqlType):
    """BOOLEAN, INTEGER, BIGINT, DOUBLE, STRING, BYTES, DATE, TIME or TIMESTAMP."""

    name: str

    @property
    def base(self) -> str:
        return self.name

    def render(self, quote: Callable[[str], bool] = _always_quote) -> str:
        return self.name


@dataclass(frozen=True)
class SqlDecimal(SqlType):
    """DECIMAL(precision, scale); values are `Decimal` with exactly `scale` fraction digits."""

    precision: int
    scale: int

    def __post_init__(self) -> None:
        p, s = self.precision, self.scale
        if p < 1:
            raise SqlTypeError(f"DECIMAL precision must be >= 1: DECIMAL({p},{s})")
        if s < 0:
            raise SqlTypeError(f"DECIMAL scale must be >= 0: DECIMAL({p},{s})")
        if p < s:
            raise SqlTypeError(f"DECIMAL precision must be >= scale: DECIMAL({p},{s})")

    @property
    def base(self) -> str:
        return "DECIMAL"

    def render(self, quote: Callable[[str], bool] = _always_quote) -> str:
        return f"DECIMAL({self.precision}, {self.scale})"


@dataclass(frozen=True)
class SqlArray(SqlType):
    """ARRAY<item>."""

    item: SqlType

    @property
    def base(self) -> str:
        return "ARRAY"

    def render(self, quote: Callable[[str], bool] = _always_quote) -> str:
        return f"ARRAY<{self.item.render(quote)}>"


@dataclass(frozen=True)
class SqlMap(SqlType):
    """MAP<key, value>."""

    key: SqlType
    value: SqlType

    @property
    def base(self) -> str:
        return "MAP"

    def render(self, quote: Callable[[str], bool] = _always_quote) -> str:
        return f"MAP<{self.key.render(quote)}, {self.value.render(quote)}>"


@dataclass(frozen=True)
class StructField:
    """One named field of a STRUCT; the name is case-sensitive as stored."""

    name: str
    type: SqlType

    def render(self, quote: Callable[[str], bool] = _always_quote) -> str:
        name = f"`{self.name}`" if quote(self.name) else self.name
        return f"{name} {self.type.render(quote)}"

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True)
class SqlStruct(SqlType):
    """STRUCT<name type, ...> with fields in declaration order."""

    fields: tuple[StructField, ...]

    def __post_init__(self) -> None:
        seen: dict[str, StructField] = {}
        for f in self.fields:
            if f.name in seen:
                raise SqlTypeError(f"Duplicate field names found in STRUCT: '{seen[f.name]}' and '{f}'")
            seen[f.name] = f

    @classmethod
    def of(cls, fields: Iterable[tuple[str, SqlType]]) -> "SqlStruct":
        """Build from (name, type) pairs: `SqlStruct.of([("A", INTEGER)])`."""
        return cls(tuple(StructField(n, t) for n, t in fields))

    def field(self, name: str) -> StructField | None:
        """The field called exactly `name`, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def base(self) -> str:
        return "STRUCT"

    def render(self, quote: Callable[[str], bool] = _always_quote) -> str:
        if not self.fields:
            return "STRUCT< >"
        return "STRUCT<" + ", ".join(f.render(quote) for f in self.fields) + ">"


BOOLEAN = SqlPrimitive("BOOLEAN")
INTEGER = SqlPrimitive("INTEGER")
BIGINT = SqlPrimitive("BIGINT")
DOUBLE = SqlPrimitive("DOUBLE")
STRING = SqlPrimitive("STRING")
BYTES = SqlPrimitive("BYTES")
DATE = SqlPrimitive("DATE")
TIME = SqlPrimitive("TIME")
TIMESTAMP = SqlPrimitive("TIMESTAMP")

_PRIMITIVES: dict[str, SqlPrimitive] = {
    t.name: t for t in (BOOLEAN, INTEGER, BIGINT, DOUBLE, STRING, BYTES, DATE, TIME, TIMESTAMP)
}
_PRIMITIVES.update({"INT": INTEGER, "VARCHAR": STRING})

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NUMERIC_ORDER = {"INTEGER": 0, "BIGINT": 1, "DECIMAL": 2, "DOUBLE": 3}
_DEC = Context(prec=5000, rounding=ROUND_HALF_UP, Emax=10**9, Emin=-(10**9))

# ---------------------------------------------------------------------------------------------
# Parsing type strings: 'ARRAY<STRUCT<A INT>>', column lists '`ID` BIGINT KEY, NAME STRING'
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(`(?:[^`]|``)*`)|("(?:[^"]|"")*")|([A-Za-z_][A-Za-z0-9_@$]*)|(\d+)|(\S))')


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a schema string: name, type and 'KEY' / 'PRIMARY KEY' / 'HEADERS' or None."""

    name: str
    type: SqlType
    constraint: str | None = None


class _TypeReader:
    """A tiny recursive-descent reader over the tokens of a type or column-list string."""

    def __init__(self, text: str, custom_types: Mapping[str, SqlType] | None) -> None:
        self.text = text
        self.custom = {k.upper(): v for k, v in (custom_types or {}).items()}
        self.tokens: list[tuple[str, str]] = []  # (kind, text): id / qid / num / sym
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                break
            pos = m.end()
            if m.group(1):
                self.tokens.append(("qid", m.group(1)[1:-1].replace("``", "`")))
            elif m.group(2):
                self.tokens.append(("qid", m.group(2)[1:-1].replace('""', '"')))
            elif m.group(3):
                self.tokens.append(("id", m.group(3)))
            elif m.group(4):
                self.tokens.append(("num", m.group(4)))
            elif m.group(5):
                self.tokens.append(("sym", m.group(5)))
        self.i = 0

    def fail(self, why: str) -> SqlTypeError:
        return SqlTypeError(f"Failed to parse schema: {self.text!r}: {why}")

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end of input")
        self.i += 1
        return tok

    def expect(self, sym: str) -> None:
        kind, text = self.next()
        if kind != "sym" or text != sym:
            raise self.fail(f"expected '{sym}' but found '{text}'")

    def at_word(self, word: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok is not None and tok[0] == "id" and tok[1].upper() == word

    def identifier(self) -> str:
        kind, text = self.next()
        if kind == "qid":
            return text
        if kind == "id":
            return text.upper()
        raise self.fail(f"expected an identifier but found '{text}'")

    def type(self) -> SqlType:
        result = self._base_type()
        while self.at_word("ARRAY") and not (self.peek(1) and self.peek(1) == ("sym", "<")):
            self.i += 1
            result = SqlArray(result)
        return result

    def _base_type(self) -> SqlType:
        kind, text = self.next()
        word = text.upper() if kind == "id" else None
        if word == "ARRAY":
            self.expect("<")
            item = self.type()
            self.expect(">")
            return SqlArray(item)
        if word == "MAP":
            self.expect("<")
            key = self.type()
            self.expect(",")
            value = self.type()
            self.expect(">")
            return SqlMap(key, value)
        if word == "STRUCT":
            self.expect("<")
            fields: list[tuple[str, SqlType]] = []
            if self.peek() != ("sym", ">"):
                while True:
                    name = self.identifier()
                    fields.append((name, self.type()))
                    if self.peek() == ("sym", ","):
                        self.i += 1
                        continue
                    break
            self.expect(">")
            return SqlStruct.of(fields)
        if word == "DECIMAL":
            self.expect("(")
            precision = self._number()
            self.expect(",")
            scale = self._number()
            self.expect(")")
            return SqlDecimal(precision, scale)
        if kind not in ("id", "qid"):
            raise self.fail(f"unexpected '{text}'")
        name = text.upper() if kind == "id" else text
        if self.peek() == ("sym", "("):  # VARCHAR(20): type parameters are accepted and ignored
            while self.next() != ("sym", ")"):
                pass
        if name.upper() in _PRIMITIVES:
            return _PRIMITIVES[name.upper()]
        if name.upper() in self.custom:
            return self.custom[name.upper()]
        raise SqlTypeError(f"Cannot resolve unknown type: {name}")

    def _number(self) -> int:
        kind, text = self.next()
        if kind != "num":
            raise self.fail(f"expected a number but found '{text}'")
        return int(text)


def parse_type(text: str, custom_types: Mapping[str, SqlType] | None = None) -> SqlType:
    """Parse a SQL type such as 'ARRAY<STRUCT<A INT, `b` VARCHAR>>' (INT/VARCHAR are aliases)."""
    reader = _TypeReader(text, custom_types)
    result = reader.type()
    if reader.peek() is not None:
        raise reader.fail(f"unexpected '{reader.peek()[1]}'")
    return result


def parse_columns(text: str, custom_types: Mapping[str, SqlType] | None = None) -> list[ColumnSpec]:
    """Parse a column list like '`ID` BIGINT KEY, NAME STRING' (QTT post-conditions, headers)."""
    reader = _TypeReader(text, custom_types)
    columns: list[ColumnSpec] = []
    while reader.peek() is not None:
        name = reader.identifier()
        col_type = reader.type()
        constraint = None
        if reader.at_word("PRIMARY") and reader.at_word("KEY", 1):
            reader.i += 2
            constraint = "PRIMARY KEY"
        elif reader.at_word("KEY"):
            reader.i += 1
            constraint = "KEY"
        elif reader.at_word("HEADERS") or reader.at_word("HEADER"):
            reader.i += 1
            constraint = "HEADERS"
            if reader.peek() == ("sym", "("):
                while reader.next() != ("sym", ")"):
                    pass
        columns.append(ColumnSpec(name, col_type, constraint))
        if reader.peek() == ("sym", ","):
            reader.i += 1
        elif reader.peek() is not None:
            raise reader.fail(f"unexpected '{reader.peek()[1]}'")
    return columns


def schema_entity(t: SqlType) -> dict[str, Any]:
    """The `schema` object of DESCRIBE responses: {"type", "fields", "memberSchema"[, "parameters"]}."""
    out: dict[str, Any] = {"type": t.base, "fields": None, "memberSchema": None}
    if isinstance(t, SqlStruct):
        out["fields"] = [{"name": f.name, "schema": schema_entity(f.type)} for f in t.fields]
    elif isinstance(t, SqlArray):
        out["memberSchema"] = schema_entity(t.item)
    elif isinstance(t, SqlMap):
        out["memberSchema"] = schema_entity(t.value)
    elif isinstance(t, SqlDecimal):
        out["parameters"] = {"precision": t.precision, "scale": t.scale}
    return out


# ---------------------------------------------------------------------------------------------
# Type relations
# ---------------------------------------------------------------------------------------------


def is_numeric(t: SqlType | None) -> bool:
    """True for INTEGER, BIGINT, DECIMAL and DOUBLE."""
    return t is not None and t.base in _NUMERIC_ORDER


def is_temporal(t: SqlType | None) -> bool:
    """True for DATE, TIME and TIMESTAMP."""
    return t is not None and t.base in ("DATE", "TIME", "TIMESTAMP")


def can_implicitly_cast(from_type: SqlType, to_type: SqlType) -> bool:
    """ksqlDB's base-type rule: numbers widen INT->BIGINT->DECIMAL->DOUBLE; STRING->time types/BYTES."""
    f, t = from_type.base, to_type.base
    if f == t:
        return True
    if f in _NUMERIC_ORDER and t in _NUMERIC_ORDER:
        return _NUMERIC_ORDER[f] <= _NUMERIC_ORDER[t]
    return f == "STRING" and t in ("DATE", "TIME", "TIMESTAMP", "BYTES")


def to_decimal_type(t: SqlType) -> SqlDecimal:
    """The DECIMAL that holds every value of `t` exactly: INTEGER->(10,0), BIGINT->(19,0)."""
    if isinstance(t, SqlDecimal):
        return t
    if t == INTEGER:
        return SqlDecimal(10, 0)
    if t == BIGINT:
        return SqlDecimal(19, 0)
    raise SqlTypeError(f"Cannot convert {t.base} to DECIMAL.")


def widen_decimal(a: SqlType, b: SqlType) -> SqlDecimal:
    """A DECIMAL wide enough for either type (both must be INTEGER, BIGINT or DECIMAL)."""
    da, db = to_decimal_type(a), to_decimal_type(b)
    whole = max(da.precision - da.scale, db.precision - db.scale)
    scale = max(da.scale, db.scale)
    return SqlDecimal(whole + scale, scale)


def decimal_type_of(value: Decimal) -> SqlDecimal:
    """The DECIMAL type of a literal value, as ksqlDB infers it (0.005 -> DECIMAL(4, 3))."""
    sign, digits, exponent = value.as_tuple()
    scale = max(-int(exponent), 0)
    if abs(value) < 1:
        return SqlDecimal(scale + 1, scale)
    precision = len(digits) + (int(exponent) if int(exponent) > 0 else 0)
    return SqlDecimal(precision, scale)


def decimal_arithmetic_type(op: str, left: SqlType, right: SqlType) -> SqlDecimal:
    """Result type of `left op right` for op in + - * / % when either side is DECIMAL."""
    a, b = to_decimal_type(left), to_decimal_type(right)
    if op in "+-":
        scale = max(a.scale, b.scale)
        return SqlDecimal(scale + max(a.precision - a.scale, b.precision - b.scale) + 1, scale)
    if op == "*":
        return SqlDecimal(a.precision + b.precision + 1, a.scale + b.scale)
    if op == "/":
        scale = max(6, a.scale + b.precision + 1)
        return SqlDecimal(a.precision - a.scale + b.scale + scale, scale)
    if op == "%":
        scale = max(a.scale, b.scale)
        return SqlDecimal(min(a.precision - a.scale, b.precision - b.scale) + scale, scale)
    raise SqlTypeError(f"Unknown arithmetic operator: {op}")


def infer_type(value: Any) -> SqlType | None:
    """The SQL type of a Python value (ints that fit 32 bits are INTEGER); None for containers/None."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER if INT32_MIN <= value <= INT32_MAX else BIGINT
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, Decimal):
        return decimal_type_of(value)
    if isinstance(value, str):
        return STRING
    if isinstance(value, (bytes, bytearray)):
        return BYTES
    if isinstance(value, dt.datetime):
        return TIMESTAMP
    if isinstance(value, dt.date):
        return DATE
    if isinstance(value, dt.time):
        return TIME
    return None


# ---------------------------------------------------------------------------------------------
# Numbers the Java way
# ---------------------------------------------------------------------------------------------


def wrap_int32(v: int) -> int:
    """Java `(int)` narrowing of an integer: keep the low 32 bits."""
    return (v + 2**31) % 2**32 - 2**31


def wrap_int64(v: int) -> int:
    """Java `(long)` narrowing of an integer: keep the low 64 bits."""
    return (v + 2**63) % 2**64 - 2**63


def java_trim(s: str) -> str:
    """Java String.trim(): strip characters <= U+0020 from both ends."""
    start, end = 0, len(s)
    while start < end and s[start] <= " ":
        start += 1
    while end > start and s[end - 1] <= " ":
        end -= 1
    return s[start:end]


_INT_RE = re.compile(r"[+-]?[0-9]+")
_DEC_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DOUBLE_RE = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)")
_HEX_DOUBLE_RE = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]*\.?[0-9a-fA-F]*)[pP]([+-]?[0-9]+)[fFdD]?")


def _parse_java_integral(s: str, lo: int, hi: int) -> int:
    if not _INT_RE.fullmatch(s):
        raise CastError(f'For input string: "{s}"')
    value = int(s)
    if not lo <= value <= hi:
        raise CastError(f'For input string: "{s}"')
    return value


def parse_java_int(s: str) -> int:
    """Java Integer.parseInt: optional sign and ASCII digits only, 32-bit range."""
    return _parse_java_integral(s, INT32_MIN, INT32_MAX)


def parse_java_long(s: str) -> int:
    """Java Long.parseLong: optional sign and ASCII digits only, 64-bit range."""
    return _parse_java_integral(s, INT64_MIN, INT64_MAX)


def parse_java_double(s: str) -> float:
    """Java Double.parseDouble (surrounding spaces, NaN, Infinity, f/d suffix and hex allowed)."""
    text = java_trim(s)
    if _DOUBLE_RE.fullmatch(text):
        body = text[:-1] if text[-1] in "fFdD" else text
        return float(body.replace("Infinity", "inf").replace("NaN", "nan"))
    m = _HEX_DOUBLE_RE.fullmatch(text)
    if m and m.group(2) not in ("", "."):
        return float.fromhex(f"{m.group(1)}0x{m.group(2)}p{m.group(3)}")
    raise CastError(f'For input string: "{s}"' if text else "empty String")


def parse_java_decimal(s: str) -> Decimal:
    """Java `new BigDecimal(String)`: sign, digits, optional fraction and exponent, nothing else."""
    if not _DEC_RE.fullmatch(s):
        raise CastError(f'Invalid decimal value: "{s}"')
    return _DEC.create_decimal(s)


def parse_sql_boolean(s: str, exact: bool = False) -> bool | None:
    """ksqlDB boolean parsing: a non-empty prefix of 'true'/'yes' is true (any case).

    With `exact`, a prefix of 'false'/'no' is false and anything else is None (invalid).
    """
    def matches(words: tuple[str, str]) -> bool:
        return bool(s) and any(s.lower() == w[: len(s)] for w in words)

    if matches(("true", "yes")):
        return True
    if not exact:
        return False
    return False if matches(("false", "no")) else None


def decode_base64(s: str) -> bytes:
    """Java Base64.getDecoder().decode: standard alphabet, padding optional but must be right."""
    text = s.rstrip("=")
    if len(s) - len(text) > 2 or not re.fullmatch(r"[A-Za-z0-9+/]*", text) or len(text) % 4 == 1:
        raise CastError(f"Illegal base64 character or length in '{s}'")
    if "=" in s and len(s) % 4 != 0:
        raise CastError("Input byte array has wrong 4-byte ending unit")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as e:
        raise CastError(str(e)) from e


def java_double_str(f: float) -> str:
    """Java Double.toString: '1.0', '0.001', '1.0E7', '1.234E-5', 'NaN', '-Infinity'."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    if f == 0:
        return "-0.0" if math.copysign(1.0, f) < 0 else "0.0"
    sign = "-" if f < 0 else ""
    d = Decimal(repr(abs(f))).normalize()
    _, digit_tuple, exponent = d.as_tuple()
    digits = "".join(map(str, digit_tuple))
    exponent = int(exponent)
    if 1e-3 <= abs(f) < 1e7:
        point = len(digits) + exponent
        if exponent >= 0:
            return f"{sign}{digits}{'0' * exponent}.0"
        if point > 0:
            return f"{sign}{digits[:point]}.{digits[point:]}"
        return f"{sign}0.{'0' * -point}{digits}"
    sci = len(digits) + exponent - 1
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{sci}"


def java_decimal_str(d: Decimal) -> str:
    """Java BigDecimal.toString (scientific notation for small/large exponents)."""
    return str(d)


def plain_decimal_str(d: Decimal) -> str:
    """Java BigDecimal.toPlainString."""
    return format(d, "f")


def _ensure_max(value: Decimal, precision: int, scale: int) -> None:
    digits = precision - scale
    if abs(value) >= Decimal(10) ** digits:
        raise CastError(
            f"Numeric field overflow: A field with precision {precision} and scale {scale} "
            f"must round to an absolute value less than 10^{digits}. Got {plain_decimal_str(value)}")


def ensure_decimal_fit(value: Decimal, t: SqlDecimal) -> Decimal:
    """Fit `value` into DECIMAL(p, s) without rounding (pads zeros), else CastError."""
    _ensure_max(value, t.precision, t.scale)
    scaled = value.quantize(Decimal(1).scaleb(-t.scale), context=_DEC)
    if scaled != value:
        _, digits, exponent = value.as_tuple()
        raise CastError(
            f"Cannot fit decimal '{plain_decimal_str(value)}' into DECIMAL({t.precision}, {t.scale}) without "
            f"rounding. (Requires {len(digits)},{max(-int(exponent), 0)})")
    return scaled


def decimal_cast(value: int | float | Decimal | str, t: SqlDecimal) -> Decimal:
    """CAST(x AS DECIMAL(p, s)) for a number or string (HALF_UP, overflow raises CastError)."""
    p, s = t.precision, t.scale
    quantum = Decimal(1).scaleb(-s)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise CastError("Infinite or NaN")
        d = Context(prec=p, rounding=ROUND_HALF_UP).create_decimal(Decimal(value))
        _ensure_max(d, p, s)
        return d.quantize(quantum, rounding=ROUND_HALF_UP, context=_DEC)
    if isinstance(value, bool):
        raise CastError("Cannot cast BOOLEAN to DECIMAL")
    if isinstance(value, int):
        d = Context(prec=p, rounding=ROUND_HALF_UP).create_decimal(value)
        _ensure_max(d, p, s)
        if d.quantize(quantum, context=_DEC) != d:
            raise CastError("Rounding necessary")
        return d.quantize(quantum, context=_DEC)
    if isinstance(value, str):
        value = parse_java_decimal(java_trim(value))
    _, digits, exponent = value.as_tuple()
    if len(digits) == p and -int(exponent) == s:
        return value
    _ensure_max(value, p, s)
    return value.quantize(quantum, rounding=ROUND_HALF_UP, context=_DEC)


# ---------------------------------------------------------------------------------------------
# Dates and times
# ---------------------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = dt.date(1970, 1, 1)
_MS = dt.timedelta(milliseconds=1)


def timestamp_from_millis(ms: int) -> dt.datetime:
    """A TIMESTAMP value from epoch milliseconds."""
    return _EPOCH + dt.timedelta(milliseconds=ms)


def timestamp_to_millis(ts: dt.datetime) -> int:
    """Epoch milliseconds of a TIMESTAMP value (naive datetimes are taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return (ts - _EPOCH) // _MS


def date_from_days(days: int) -> dt.date:
    """A DATE value from days since 1970-01-01."""
    return _EPOCH_DATE + dt.timedelta(days=days)


def date_to_days(d: dt.date) -> int:
    """Days since 1970-01-01 of a DATE value."""
    return (d - _EPOCH_DATE).days


def time_from_millis(ms: int) -> dt.time:
    """A TIME value from milliseconds after midnight."""
    if not 0 <= ms < 86_400_000:
        raise CastError("Time values must use number of milliseconds greater than 0 and less than 86400000.")
    seconds, millis = divmod(ms, 1000)
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60, millis * 1000)


def time_to_millis(t: dt.time) -> int:
    """Milliseconds after midnight of a TIME value."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000


_TS_HELP = ("\nRequired format is: \"yyyy-MM-dd'T'HH:mm:ss.SSS\", with an optional numeric 4-digit "
            "timezone, for example: '2020-05-26T23:59:58.000' or with tz: '2020-05-26T23:59:58.000+0200'. "
            "A trailing 'Z' instead of tz indicates the zero UTC offset. Partials are also supported, "
            "for example \"2020-05-26\"")
_OFFSET_RE = re.compile(r"([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?")
_ISO_TS_RE = re.compile(r"(\d{4,9})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})", re.IGNORECASE)


def _complete_date(date: str) -> str:
    parts = date.split("-")
    return date + ("-01-01" if len(parts) == 1 else "-01" if len(parts) == 2 else "")


def _smart_date(year: int, month: int, day: int) -> dt.date:
    """LocalDate with java.time SMART resolution: day 29-31 clamps to the month's last day."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError(f"Invalid date {year:04d}-{month:02d}-{day:02d}")
    for clamp in (day, 30, 29, 28):
        if clamp <= day:
            try:
                return dt.date(year, month, clamp)
            except ValueError:
                continue
    raise ValueError("Invalid date")


def parse_offset(text: str) -> dt.timezone | None:
    """A fixed offset from '+02', '+0530', '-05:00', 'Z'; None when `text` is not an offset."""
    if text in ("Z", "z"):
        return dt.timezone.utc
    m = _OFFSET_RE.fullmatch(text)
    if not m:
        return None
    hours, minutes, seconds = int(m.group(2)), int(m.group(3) or 0), int(m.group(4) or 0)
    if hours > 18 or minutes > 59 or seconds > 59:
        return None
    delta = dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return dt.timezone(-delta if m.group(1) == "-" else delta)


def parse_timestamp_text(text: str) -> dt.datetime:
    """CAST(string AS TIMESTAMP): '2020-05-26T23:59:58.000[+0200|Z]' and partials like '2020-05'."""
    try:
        if "T" in text:
            date = text[: text.index("T")]
            rest = text[text.index("T") + 1:]
            tz = rest[rest.index("+"):] if "+" in rest else rest[rest.index("-"):] if "-" in rest else ""
            time = rest[: len(rest) - len(tz)]
            time = time[:-1] if time.endswith("Z") else time
        else:
            date, time, tz = _complete_date(text), "", ""
        pattern = "HH:mm:ss.SSS"
        if len(time) < len(pattern):
            time += re.sub("[a-zA-Z]", "0", pattern[len(time):])
        zone = dt.timezone.utc if not tz.strip() else parse_offset(tz)
        if zone is None:
            raise ValueError(f"Failed to parse timezone '{tz}'")
        m = _ISO_TS_RE.fullmatch(f"{date}T{time}")
        if not m:
            raise ValueError(f"Text '{date}T{time}' could not be parsed")
        y, mo, d, h, mi, s, ms = (int(g) for g in m.groups())
        # java.time SMART resolution accepts 24:00:00.000 as the end of the day (next midnight)
        end_of_day = h == 24 and mi == 0 and s == 0 and ms == 0
        if (h > 23 and not end_of_day) or mi > 59 or s > 59:
            raise ValueError(f"Text '{date}T{time}' could not be parsed: invalid time")
        local = dt.datetime.combine(_smart_date(y, mo, d), dt.time(0 if end_of_day else h, mi, s, ms * 1000))
        local += dt.timedelta(days=1 if end_of_day else 0)
        return local.replace(tzinfo=zone).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError) as e:
        raise CastError(f"Failed to parse timestamp '{text}': {e}{_TS_HELP}") from e


def parse_time_text(text: str) -> dt.time:
    """CAST(string AS TIME): ISO local time 'HH:mm[:ss[.fffffffff]]' (millisecond precision kept)."""
    m = re.fullmatch(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?", text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise CastError(
            f"Failed to parse time '{text}': Text '{text}' could not be parsed\nRequired format is: "
            "\"HH:mm:ss.SSS\", for example: '01:34:20.123' or '01:34:20'. Partials are also supported, "
            "for example '01:34'")
    millis = int((m.group(4) or "0").ljust(9, "0")[:3])
    return dt.time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), millis * 1000)


def parse_date_text(text: str) -> dt.date:
    """CAST(string AS DATE): 'yyyy-MM-dd', with partials '2020-05' and '2020' allowed."""
    full = _complete_date(text)
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", full)
    try:
        if not m:
            raise ValueError(f"Text '{full}' could not be parsed")
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as e:
        raise CastError(
            f"Failed to parse date '{text}': {e}\nRequired format is: \"yyyy-MM-dd\", for example "
            "'2020-05-26'. Partials are also supported, for example '2020-05'") from e


def format_timestamp_text(ts: dt.datetime) -> str:
    """CAST(TIMESTAMP AS STRING) and REST rendering: 'yyyy-MM-ddTHH:mm:ss.SSS' in UTC."""
    u = ts.astimezone(dt.timezone.utc) if ts.tzinfo else ts
    return f"{format_date_text(u)}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond // 1000:03d}"


def format_time_text(t: dt.time) -> str:
    """CAST(TIME AS STRING): Java LocalTime of whole seconds, 'HH:mm' when the seconds are zero."""
    return f"{t.hour:02d}:{t.minute:02d}" + (f":{t.second:02d}" if t.second else "")


def format_date_text(d: dt.date) -> str:
    """CAST(DATE AS STRING): 'yyyy-MM-dd'."""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
