"""String, bytes and regular-expression functions (ksqlDB 0.29 semantics).

Lengths and positions count UTF-16 code units, as Java strings do; regular expressions are Java
syntax translated to Python's `re` (see `java_regex`); `$1`-style replacement strings work as in
Java's replaceAll.
"""
from __future__ import annotations

import base64
import functools
import re
import struct
import unicodedata
import uuid as uuid_module
from typing import Any, Callable

from labkit.engine.functions.registry import FunctionError, p, register, udf
from labkit.engine.types import (
    BIGINT, BYTES, DOUBLE, INTEGER, STRING, CastError, SqlArray, SqlMap, decode_base64, java_trim,
)

STR, REGEX = "STRING", "REGULAR EXPRESSION"

# --- UTF-16 helpers -----------------------------------------------------------------------------


def u16len(s: str) -> int:
    """Java String.length(): characters outside the BMP count twice."""
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def u16slice(s: str, start: int, end: int | None = None) -> str:
    """Java String.substring(start, end) in UTF-16 code units."""
    if all(ord(c) <= 0xFFFF for c in s):
        return s[start:end]
    units = s.encode("utf-16-le", "surrogatepass")
    part = units[start * 2: None if end is None else end * 2]
    return part.decode("utf-16-le", "surrogatepass")


def _join_surrogates(s: str) -> str:
    return s.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass") if any(
        0xD800 <= ord(c) <= 0xDFFF for c in s) else s


# --- Java regular expressions -------------------------------------------------------------------

_POSIX = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7F", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~", "Print": " -~", "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F", "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0B\\f\\r",
    "L": "^\\W\\d_", "IsAlphabetic": "^\\W\\d_", "IsLetter": "^\\W\\d_", "N": "\\d", "Nd": "\\d",
    "IsDigit": "\\d", "javaLowerCase": "a-z", "javaUpperCase": "A-Z", "javaWhitespace": "\\s",
}


@functools.lru_cache(maxsize=1000)
def java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Java regex: named groups, \\Q..\\E, \\p{Alpha}-style classes, \\z, ASCII \\w\\d\\s."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            if n == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append(re.escape(literal))
                i = len(pattern) if end < 0 else end + 2
                continue
            if n in "pP" and i + 2 < len(pattern):
                if pattern[i + 2] == "{":
                    close = pattern.index("}", i)
                    name, i_next = pattern[i + 3:close], close + 1
                else:
                    name, i_next = pattern[i + 2], i + 3
                name = name[2:] if name.startswith("Is") and name[2:] in _POSIX else name
                if name not in _POSIX:
                    raise re.error(f"Unknown character property name {{{name}}}")
                body = _POSIX[name]
                negate = (n == "P") != body.startswith("^")
                body = body.lstrip("^")
                in_class = _inside_class(out)
                out.append(body if in_class and not negate else f"[{'^' if negate else ''}{body}]")
                i = i_next
                continue
            if n == "z":
                out.append("\\Z")
            elif n == "Z":
                out.append("(?=\\n?\\Z)")
            elif n == "k" and pattern[i + 2:i + 3] == "<":
                close = pattern.index(">", i)
                out.append(f"(?P={pattern[i + 3:close]})")
                i = close + 1
                continue
            elif n == "h":
                out.append("[ \\t\\xA0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000]")
            elif n == "R":
                out.append("(?:\\r\\n|[\\n\\x0B\\f\\r\\x85\\u2028\\u2029])")
            else:
                out.append(c + n)
            i += 2
            continue
        if c == "(" and pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII)


def _inside_class(parts: list[str]) -> bool:
    text = "".join(parts)
    depth, i = 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "[":
            depth += 1
        elif text[i] == "]" and depth:
            depth -= 1
        i += 1
    return depth > 0


def java_replacement(replacement: str, regex: re.Pattern[str]) -> Callable[[re.Match[str]], str]:
    """A re.sub callback applying a Java replacement string ($1, ${name}, \\$ escapes)."""
    parts: list[Any] = []
    i = 0
    while i < len(replacement):
        c = replacement[i]
        if c == "\\":
            if i + 1 >= len(replacement):
                raise ValueError("character to be escaped is missing")
            parts.append(replacement[i + 1])
            i += 2
        elif c == "$":
            if i + 1 >= len(replacement):
                raise ValueError("Illegal group reference: group index is missing")
            if replacement[i + 1] == "{":
                close = replacement.find("}", i)
                if close < 0:
                    raise ValueError("named capturing group is missing trailing '}'")
                name = replacement[i + 2:close]
                if name not in regex.groupindex:
                    raise ValueError(f"No group with name {{{name}}}")
                parts.append(("group", name))
                i = close + 1
                continue
            if not replacement[i + 1].isdigit():
                raise ValueError("Illegal group reference")
            number, j = int(replacement[i + 1]), i + 2
            while j < len(replacement) and replacement[j].isdigit():
                if number * 10 + int(replacement[j]) > regex.groups:
                    break
                number, j = number * 10 + int(replacement[j]), j + 1
            if number > regex.groups:
                raise IndexError(f"No group {number}")
            parts.append(("group", number))
            i = j
        else:
            parts.append(c)
            i += 1

    def substitute(m: re.Match[str]) -> str:
        return "".join(part if isinstance(part, str) else (m.group(part[1]) or "") for part in parts)

    return substitute


def _compile(regexp: str) -> re.Pattern[str]:
    try:
        return java_regex(regexp)
    except (re.error, ValueError) as e:
        raise FunctionError(f"Invalid regular expression pattern: {regexp}") from e


def java_pattern_split(s: str, regex: re.Pattern[str]) -> list[str]:
    """java.util.regex.Pattern.split(s): no leading empty from a zero-width match, trailing empties dropped."""
    if s == "":
        return [""]
    pieces: list[str] = []
    index = 0
    for m in regex.finditer(s):
        if m.end() == 0:
            continue
        if index == 0 and m.start() == 0 and m.start() == m.end():
            continue
        pieces.append(s[index:m.start()])
        index = m.end()
    if index == 0 and not pieces:
        return [s]
    pieces.append(s[index:])
    while pieces and pieces[-1] == "":
        pieces.pop()
    return pieces


def _split_on_matches(s: str, regex: re.Pattern[str]) -> list[str]:
    """Guava Splitter.on(pattern): split at every match, keeping empty pieces."""
    pieces, index = [], 0
    for m in regex.finditer(s):
        pieces.append(s[index:m.start()])
        index = m.end()
    pieces.append(s[index:])
    return pieces


# --- implementations ----------------------------------------------------------------------------


def _concat(*inputs: str | None) -> str:
    return "".join(v for v in inputs if v is not None)


def _concat_bytes(*inputs: bytes | None) -> bytes:
    return b"".join(v for v in inputs if v is not None)


def _concat_ws(separator: Any, *inputs: Any) -> Any:
    if not inputs:
        raise FunctionError("Function Concat_WS expects at least two input arguments.")
    if separator is None:
        return None
    return separator.join(v for v in inputs if v is not None)


def _substring_start(length: int, pos: int) -> int:
    return max(length + pos, 0) if pos < 0 else max(min(pos - 1, length), 0)


def _substring(value: Any, pos: int | None) -> Any:
    if value is None or pos is None:
        return None
    is_bytes = isinstance(value, (bytes, bytearray))
    size = len(value) if is_bytes else u16len(value)
    start = _substring_start(size, pos)
    return bytes(value[start:]) if is_bytes else u16slice(value, start)


def _substring_len(value: Any, pos: int | None, length: int | None) -> Any:
    if value is None or pos is None or length is None:
        return None
    is_bytes = isinstance(value, (bytes, bytearray))
    size = len(value) if is_bytes else u16len(value)
    start = _substring_start(size, pos)
    end = max(min(start + length, size), start)
    return bytes(value[start:end]) if is_bytes else u16slice(value, start, end)


def _len(value: Any) -> int | None:
    if value is None:
        return None
    return len(value) if isinstance(value, (bytes, bytearray)) else u16len(value)


def _instr(s: str | None, sub: str | None, position: int = 1, occurrence: int = 1) -> int:
    if s is None or sub is None:
        return 0
    if abs(position) > len(s):
        return 0
    if position < 0:
        return _find(s[::-1], sub[::-1], -position, occurrence, True)
    return _find(s, sub, position, occurrence, False)


def _find(s: str, sub: str, position: int, occurrence: int, reversed_: bool) -> int:
    start = position - 1
    if start < 0:
        start = max(len(s) + start, 0)
    tail = s[start:] if start <= len(s) else ""
    index = _ordinal_index_of(tail, sub, occurrence)
    if index == -1:
        return 0
    return len(s) - position - index - len(sub) + 2 if reversed_ else index + position


def _ordinal_index_of(s: str, sub: str, ordinal: int) -> int:
    if ordinal <= 0:
        return -1
    if sub == "":
        return 0
    index, found = -1, 0
    while found < ordinal:
        index = s.find(sub, index + 1)
        if index < 0:
            return -1
        found += 1
    return index


def _initcap(s: str | None) -> str | None:
    if s is None:
        return None
    return "".join(m.group(0)[0].upper() + m.group(0)[1:]
                   for m in re.finditer(r"[^ \t\n\x0B\f\r]+[ \t\n\x0B\f\r]*", s.lower()))


def _pad(value: Any, target: int | None, padding: Any, left: bool) -> Any:
    if value is None or padding is None or len(padding) == 0 or target is None or target < 0:
        return None
    if isinstance(value, (bytes, bytearray)):
        if len(value) > target:
            return bytes(value[:target])
        fill = (bytes(padding) * (target // len(padding) + 1))[: target - len(value)]
        return fill + bytes(value) if left else bytes(value) + fill
    pad_len = max(target - u16len(value), 0)
    fill = (padding * (pad_len // max(len(padding), 1) + 1))[:pad_len]
    return u16slice(fill + value, 0, target) if left else u16slice(value + fill, 0, target)


def _mask_char(c: str, masks: tuple[str | None, ...]) -> str:
    category = unicodedata.category(c)
    index = {"Lu": 0, "Ll": 1, "Nd": 2}.get(category, 3)
    mask = masks[index]
    return c if mask is None else mask


_DEFAULT_MASKS = ("X", "x", "n", "-")


def _masks(upper: str | None, lower: str | None, digit: str | None, other: str | None) -> tuple[str | None, ...]:
    result = []
    for m in (upper, lower, digit, other):
        if m is not None and len(m) != 1:
            raise FunctionError(f"Invalid mask character. Must be only single character, but was '{m}'")
        result.append(m)
    return tuple(result)


def _mask_text(s: str, masks: tuple[str | None, ...]) -> str:
    return "".join(_mask_char(c, masks) for c in s)


def _mask(s: str | None, *masks: str | None) -> str | None:
    chosen = _masks(*masks) if masks else _DEFAULT_MASKS
    return None if s is None else _mask_text(s, chosen)


def _mask_part(name: str, mode: str) -> Callable[..., str | None]:
    def impl(s: str | None, count: int, *masks: str | None) -> str | None:
        chosen = _masks(*masks) if masks else _DEFAULT_MASKS
        if count < 0:
            raise FunctionError(f"function {name} requires a non-negative number of characters to mask or skip")
        if s is None:
            return None
        if mode == "keep_left":
            keep = min(count, len(s))
            return s[:keep] + _mask_text(s[keep:], chosen)
        if mode == "keep_right":
            cut = max(0, len(s) - count)
            return _mask_text(s[:cut], chosen) + s[cut:]
        if mode == "left":
            cut = min(count, len(s))
            return _mask_text(s[:cut], chosen) + s[cut:]
        cut = max(0, len(s) - count)
        return s[:cut] + _mask_text(s[cut:], chosen)
    return impl


def _hex_strip(s: str) -> str:
    if re.fullmatch(r"0x.*", s, re.S):
        return "0" + s[2:] if len(s) % 2 else s[2:]
    if re.fullmatch(r"[xX]'.*'", s, re.S):
        return s[2:-1]
    return s


def _decode_hex_commons(s: str) -> bytes:
    if len(s) % 2:
        raise FunctionError("Odd number of characters.")
    for i, ch in enumerate(s):
        if ch not in "0123456789abcdefABCDEF":
            raise FunctionError(f"Illegal hexadecimal character {ch} at index {i}")
    return bytes.fromhex(s)


def _decode_base64_lenient(s: str) -> bytes:
    """Apache commons-codec Base64.decodeBase64: ignores characters outside the alphabet."""
    clean = re.sub(r"[^A-Za-z0-9+/_-]", "", s.split("=")[0]).replace("-", "+").replace("_", "/")
    clean = clean[: len(clean) - (len(clean) % 4 == 1)]
    return base64.b64decode(clean + "=" * (-len(clean) % 4))


def _ascii_bytes(s: str) -> bytes:
    return s.encode("ascii", "replace")


def _decode(data: bytes, encoding: str) -> str:
    return data.decode(encoding, "replace")


_ENCODE_FROM = {"hex": lambda s: _decode_hex_commons(_hex_strip(s)), "utf8": lambda s: s.encode("utf-8", "replace"),
                "ascii": _ascii_bytes, "base64": _decode_base64_lenient}
_ENCODE_TO = {"hex": lambda b: b.hex(), "utf8": lambda b: _decode(b, "utf-8"), "ascii": lambda b: _decode(b, "ascii"),
              "base64": lambda b: base64.b64encode(b).decode("ascii")}


def _encode(s: str | None, input_encoding: str | None, output_encoding: str | None) -> str | None:
    if s is None or input_encoding is None or output_encoding is None:
        return None
    source, target = input_encoding.lower(), output_encoding.lower()
    if source not in _ENCODE_FROM or target not in _ENCODE_TO or source == target:
        raise FunctionError("Supported input and output encodings are: hex, utf8, ascii and base64")
    return _ENCODE_TO[target](_ENCODE_FROM[source](s))


def _encoding(name: str) -> str:
    lowered = name.lower()
    if lowered not in ("hex", "utf8", "ascii", "base64"):
        raise FunctionError(f"Unknown encoding type '{name}'. Supported formats are 'hex', 'utf8', 'ascii', and "
                            "'base64'.")
    return lowered


def _to_bytes(s: str | None, encoding: str | None) -> bytes | None:
    if s is None or encoding is None:
        return None
    kind = _encoding(encoding)
    if kind == "hex":
        if len(s) % 2:
            raise FunctionError(f"hexBinary needs to be even-length: {s}")
        try:
            return bytes.fromhex(s) if re.fullmatch(r"[0-9a-fA-F]*", s) else _bad_hex(s)
        except ValueError as e:
            raise FunctionError(str(e)) from e
    if kind == "base64":
        try:
            return decode_base64(s)
        except CastError as e:
            raise FunctionError(str(e)) from e
    return s.encode("utf-8", "surrogatepass") if kind == "utf8" else _ascii_bytes(s)


def _bad_hex(s: str) -> bytes:
    raise FunctionError(f"contains illegal character for hexBinary: {s}")


def _from_bytes(b: bytes | None, encoding: str | None) -> str | None:
    if b is None or encoding is None:
        return None
    kind = _encoding(encoding)
    if kind == "hex":
        return bytes(b).hex().upper()
    return _ENCODE_TO[kind](bytes(b))


def _chr(code: Any) -> str | None:
    if code is None:
        return None
    if isinstance(code, int):
        return chr(code) if 0 <= code <= 0x10FFFF else None
    if len(code) < 6 or not code.startswith("\\u"):
        return None
    try:
        return _join_surrogates(re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), code))
    except ValueError:
        return None


def _elt(n: int, *args: str | None) -> str | None:
    return args[n - 1] if 1 <= n <= len(args) else None


def _field(s: str | None, *args: str | None) -> int:
    if s is None:
        return 0
    for i, a in enumerate(args):
        if s == a:
            return i + 1
    return 0


def _replace(s: str | None, old: str | None, new: str | None) -> str | None:
    return None if s is None or old is None or new is None else s.replace(old, new)


def _regexp_replace(s: str | None, regexp: str | None, new: str | None) -> str | None:
    if s is None or regexp is None or new is None:
        return None
    regex = _compile(regexp)
    return regex.sub(java_replacement(new, regex), s)


def _regexp_extract(pattern: str | None, s: str | None, group: int | None = 0) -> str | None:
    if pattern is None or s is None or group is None:
        return None
    regex = java_regex(pattern)
    if group > regex.groups:
        return None
    m = regex.search(s)
    return m.group(group) if m else None


def _regexp_extract_all(pattern: str | None, s: str | None, group: int | None = 0) -> list[str | None] | None:
    if pattern is None or s is None or group is None:
        return None
    regex = _compile(pattern)
    if group > regex.groups:
        return None
    return [m.group(group) for m in regex.finditer(s)]


def _regexp_split(s: str | None, regexp: str | None) -> list[str] | None:
    if s is None or regexp is None:
        return None
    regex = _compile(regexp)
    if regexp == "" or regex.fullmatch(""):
        return java_pattern_split(s, regex)
    return _split_on_matches(s, regex)


def _split(value: Any, delimiter: Any) -> list[Any] | None:
    if value is None or delimiter is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        if len(value) == 0:
            return [b""]
        if len(delimiter) == 0:
            return [bytes([b]) for b in value]
        return bytes(value).split(bytes(delimiter))
    if delimiter == "":
        return java_pattern_split(value, re.compile(""))
    return value.split(delimiter)


def _split_to_map(s: str | None, entry_delimiter: str | None, kv_delimiter: str | None) -> dict[str, str] | None:
    if s is None or entry_delimiter is None or kv_delimiter is None:
        return None
    if not entry_delimiter or not kv_delimiter or entry_delimiter == kv_delimiter:
        return None
    result: dict[str, str] = {}
    for entry in s.split(entry_delimiter):
        if entry and kv_delimiter in entry:
            parts = entry.split(kv_delimiter)
            result[parts[0]] = parts[1]
    return result


def _random_uuid() -> str:
    return str(uuid_module.uuid4())


def _uuid(value: bytes | None) -> str | None:
    if value is None or len(value) != 16:
        return None
    return str(uuid_module.UUID(bytes=bytes(value)))


def _from_bytes_number(fmt: str, size: int) -> Callable[..., Any]:
    def impl(value: bytes | None, byte_order: str | None = "BIG_ENDIAN") -> Any:
        if byte_order is None or byte_order.upper() not in ("BIG_ENDIAN", "LITTLE_ENDIAN"):
            raise FunctionError(f"Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order '{byte_order}'.")
        if value is None:
            return None
        if len(value) != size:
            raise FunctionError(f"Number of bytes must be equal to {size}, but found {len(value)}")
        return struct.unpack((">" if byte_order.upper() == "BIG_ENDIAN" else "<") + fmt, bytes(value))[0]
    return impl


def _ucase(s: str | None) -> str | None:
    return None if s is None else s.upper()


def _lcase(s: str | None) -> str | None:
    return None if s is None else s.lower()


def _trim(s: str | None) -> str | None:
    return None if s is None else java_trim(s)


# --- registration -------------------------------------------------------------------------------

S, I, B = STRING, INTEGER, BYTES

register("ucase", "Returns an upper-case version of the input string.", STR,
         udf(_ucase, [p("input", S)], S))
register("lcase", "Returns a lower-case version of the input string.", STR,
         udf(_lcase, [p("input", S)], S))
register("trim", "Removes the leading and trailing whitespace from the input string.", STR,
         udf(_trim, [p("input", S)], S))
register("concat", "Concatenate an arbitrary number of string or bytes fields together", STR,
         udf(_concat, [p("inputs", S, variadic=True)], S),
         udf(_concat_bytes, [p("inputs", B, variadic=True)], B))
register("concat_ws", "Concatenate several strings or bytes, inserting a separator passed as the first argument "
         "between each one.", STR,
         udf(_concat_ws, [p("inputs", S, variadic=True)], S),
         udf(_concat_ws, [p("inputs", B, variadic=True)], B))
register("substring", "Returns the portion of the string or bytes passed in value.", STR,
         udf(_substring, [p("str", S), p("pos", I)], S),
         udf(_substring_len, [p("str", S), p("pos", I), p("length", I)], S),
         udf(_substring, [p("bytes", B), p("pos", I)], B),
         udf(_substring_len, [p("bytes", B), p("pos", I), p("length", I)], B))
register("len", "Returns the length of the input string or byte array.", STR,
         udf(_len, [p("input", S)], I), udf(_len, [p("input", B)], I))
register("replace", "Replaces all occurrences of a substring in a string with a new substring.", STR,
         udf(_replace, [p("str", S), p("oldStr", S), p("newStr", S)], S))
register("regexp_replace", "Replaces all matches of a regexp in a string with a new string.", REGEX,
         udf(_regexp_replace, [p("str", S), p("regexp", S), p("newStr", S)], S))
register("regexp_extract", "Extract the first subtring matched by a regex pattern", REGEX,
         udf(_regexp_extract, [p("pattern", S), p("input", S)], S),
         udf(_regexp_extract, [p("pattern", S), p("input", S), p("group", I)], S))
register("regexp_extract_all", "Extract all subtrings matched by a regex pattern", REGEX,
         udf(_regexp_extract_all, [p("pattern", S), p("input", S)], SqlArray(S)),
         udf(_regexp_extract_all, [p("pattern", S), p("input", S), p("group", I)], SqlArray(S)))
register("regexp_split_to_array", "Splits a string into an array of substrings based on a regexp.", REGEX,
         udf(_regexp_split, [p("string", S), p("regexp", S)], SqlArray(S)))
register("split", "Splits a string into an array of substrings based on a delimiter.", STR,
         udf(_split, [p("string", S), p("delimiter", S)], SqlArray(S)),
         udf(_split, [p("bytes", B), p("delimiter", B)], SqlArray(B)))
register("split_to_map", "Splits a string into key-value pairs and creates a map from them.", STR,
         udf(_split_to_map, [p("input", S), p("entryDelimiter", S), p("kvDelimiter", S)], SqlMap(S, S)))
register("LPad", "Pads the input string or bytes, starting from the beginning, with the specified padding string "
         "until the target length is reached.", STR,
         udf(lambda v, n, pad: _pad(v, n, pad, True), [p("input", S), p("targetLen", I), p("padding", S)], S),
         udf(lambda v, n, pad: _pad(v, n, pad, True), [p("input", B), p("targetLen", I), p("padding", B)], B))
register("RPad", "Pads the input string or bytes, starting from the end, with the specified padding string until "
         "the target length is reached.", STR,
         udf(lambda v, n, pad: _pad(v, n, pad, False), [p("input", S), p("targetLen", I), p("padding", S)], S),
         udf(lambda v, n, pad: _pad(v, n, pad, False), [p("input", B), p("targetLen", I), p("padding", B)], B))
register("instr", "Returns the position of substring in the provided string", STR,
         udf(_instr, [p("str", S), p("substring", S)], I),
         udf(_instr, [p("str", S), p("substring", S), p("position", I, primitive=True)], I),
         udf(_instr, [p("str", S), p("substring", S), p("position", I, primitive=True),
                      p("occurrence", I, primitive=True)], I))
register("initcap", "Capitalizes the first letter of each word in a string and the rest lowercased. Words are "
         "delimited by whitespace.", STR, udf(_initcap, [p("str", S)], S))
_MASK_ARGS = [p("upper", S), p("lower", S), p("digit", S), p("other", S)]
register("mask", "Returns a version of the input string with every character replaced by a mask.", STR,
         udf(_mask, [p("input", S)], S), udf(_mask, [p("input", S)] + _MASK_ARGS, S))
for _name, _mode in (("mask_keep_left", "keep_left"), ("mask_keep_right", "keep_right"), ("mask_left", "left"),
                     ("mask_right", "right")):
    _impl = _mask_part(_name, _mode)
    register(_name, f"Returns a version of the input string with characters masked ({_mode.replace('_', ' ')}).",
             STR, udf(_impl, [p("input", S), p("numChars", I, primitive=True)], S),
             udf(_impl, [p("input", S), p("numChars", I, primitive=True)] + _MASK_ARGS, S))
register("encode", "Takes an input string s, which is encoded as input_encoding, and encodes it as output_encoding. "
         "The accepted input and output encodings are: hex, utf8, ascii and base64.", STR,
         udf(_encode, [p("str", S), p("inputEncoding", S), p("outputEncoding", S)], S))
register("to_bytes", "Converts a STRING value in the specified encoding to BYTES.", STR,
         udf(_to_bytes, [p("value", S), p("encoding", S)], B))
register("from_bytes", "Converts a BYTES value to STRING in the specified encoding.", STR,
         udf(_from_bytes, [p("value", B), p("encoding", S)], S))
register("Chr", "Returns a single-character string corresponding to the input character code.", STR,
         udf(_chr, [p("decimalCode", I)], S), udf(_chr, [p("utf16Code", S)], S))
register("elt", "ELT() returns the Nth element of the list of strings. Returns NULL if N is less than 1 or greater "
         "than the number of arguments.", STR,
         udf(_elt, [p("n", I, primitive=True), p("args", S, variadic=True)], S))
register("field", "Returns the position (1-indexed) of str in args, or 0 if not found.", STR,
         udf(_field, [p("str", S), p("args", S, variadic=True)], I))
register("UUID", "Create a Universally Unique Identifier (UUID) generated according to RFC 4122.", STR,
         udf(_random_uuid, [], S), udf(_uuid, [p("bytes", B)], S))
register("int_from_bytes", "Converts a BYTES value to an INT value.", "CONVERSIONS",
         udf(_from_bytes_number("i", 4), [p("value", B)], I),
         udf(_from_bytes_number("i", 4), [p("value", B), p("byteOrder", S)], I))
register("bigint_from_bytes", "Converts a BYTES value to an BIGINT value.", "CONVERSIONS",
         udf(_from_bytes_number("q", 8), [p("value", B)], BIGINT),
         udf(_from_bytes_number("q", 8), [p("value", B), p("byteOrder", S)], BIGINT))
register("double_from_bytes", "Converts a BYTES value to an DOUBLE value.", "CONVERSIONS",
         udf(_from_bytes_number("d", 8), [p("value", B)], DOUBLE),
         udf(_from_bytes_number("d", 8), [p("value", B), p("byteOrder", S)], DOUBLE))
