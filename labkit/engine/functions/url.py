"""URL functions, following java.net.URI parsing (decoded components) and form-parameter encoding."""
from __future__ import annotations

import re
from typing import Callable
from urllib.parse import unquote

from labkit.engine.functions.registry import FunctionError, p, register, udf
from labkit.engine.types import INTEGER, STRING

URL = "URL"
_URI = re.compile(r"^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)
_ILLEGAL = re.compile(r"[ \"<>\\^`{|}\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})")
_FORM_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.*")


def _parts(url: str) -> dict[str, str | int | None]:
    """The components java.net.URI reports: scheme, host, port, path, query, fragment (decoded)."""
    bad = _ILLEGAL.search(url)
    m = _URI.match(url)
    if bad or not m:
        raise FunctionError(f"URL input has invalid syntax: {url}")
    scheme, authority, path, query, fragment = m.groups()
    host, port = None, -1
    if authority is not None:
        hostport = authority.rsplit("@", 1)[-1]
        hp = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(\d*))?", hostport)
        if hp:
            host = hp.group(1) or None
            port = int(hp.group(2)) if hp.group(2) else -1
    if scheme is not None and authority is None and not path.startswith("/"):
        path = None  # an opaque URI such as mailto:x has no path
    return {"scheme": scheme, "host": host, "port": port, "path": unquote(path) if path is not None else None,
            "query": unquote(query) if query is not None else None,
            "fragment": unquote(fragment) if fragment is not None else None}


def _extractor(part: str) -> Callable[[str | None], str | int | None]:
    def impl(url: str | None) -> str | int | None:
        if url is None:
            return None
        value = _parts(url)[part]
        return None if part == "port" and value == -1 else value
    return impl


def _extract_parameter(url: str | None, name: str | None) -> str | None:
    if url is None:
        return None
    query = _parts(url)["query"]
    if query is None:
        return None
    for param in str(query).split("&"):
        key, sep, value = param.partition("=")
        if key == name:
            return value if sep else ""
    return None


def _encode_param(value: str | None) -> str | None:
    if value is None:
        return None
    out = []
    for ch in value:
        if ch in _FORM_SAFE:
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "replace"))
    return "".join(out)


def _decode_param(value: str | None) -> str | None:
    if value is None:
        return None
    if re.search(r"%(?![0-9A-Fa-f]{2})", value):
        raise FunctionError("URLDecoder: Illegal hex characters in escape (%) pattern")
    return unquote(value.replace("+", " "), errors="replace")


S = STRING
register("url_encode_param", "Escapes the input string for use in a URL query parameter.", URL,
         udf(_encode_param, [p("input", S)], S))
register("url_decode_param", "Unescapes a URL query parameter.", URL, udf(_decode_param, [p("input", S)], S))
for _name, _part, _type in (("url_extract_fragment", "fragment", S), ("url_extract_host", "host", S),
                            ("url_extract_path", "path", S), ("url_extract_port", "port", INTEGER),
                            ("url_extract_protocol", "scheme", S), ("url_extract_query", "query", S)):
    register(_name, f"Extracts the {_part} of a URL.", URL, udf(_extractor(_part), [p("input", S)], _type))
register("url_extract_parameter", "Extracts the value of the named query parameter of a URL.", URL,
         udf(_extract_parameter, [p("input", S), p("paramToFind", S)], S))
