"""Changelog topics for state stores: names as ksqlDB gives them, and a typed encoding of keys and values.

Kafka Streams backs every state store with a compacted `-changelog` topic and restores the store from it
when a task starts; ksqlDB names them `_confluent-ksql-<service id>query_<query id>-<store>-changelog`.
Store keys and values are engine values (numbers, strings, Decimals, lists, tuples, maps, dates, ...), so
they are written as tagged JSON that decodes back to the same Python types; nothing is ever unpickled.

    >>> decode_state(encode_state((1, "a", Decimal("1.50"))))
    (1, 'a', Decimal('1.50'))
"""
from __future__ import annotations

import base64
import datetime
import json
import re
from decimal import Decimal
from typing import Any

__all__ = ["changelog_topic", "encode_state", "decode_state", "StateCodecError"]

_TOPIC_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]")


class StateCodecError(ValueError):
    """A store key or value has a type the changelog encoding does not know."""


def changelog_topic(service_id: str, query_id: str, store: str) -> str:
    """`_confluent-ksql-<service id>query_<query id>-<store>-changelog`, as ksqlDB names it."""
    return f"_confluent-ksql-{service_id}query_{query_id}-{_TOPIC_UNSAFE.sub('_', store)}-changelog"


def _tag(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else {"$f": repr(value)}
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if isinstance(value, tuple):
        return {"$t": [_tag(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$s": [_tag(v) for v in value], "frozen": isinstance(value, frozenset)}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _tag(v) for k, v in value.items()}
        return {"$m": [[_tag(k), _tag(v)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {"$b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime.datetime):
        return {"$ts": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$time": value.isoformat()}
    raise StateCodecError(f"cannot write a {type(value).__name__} to a changelog topic")


def _untag(node: Any) -> Any:
    if isinstance(node, list):
        return [_untag(v) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) >= 1:
        if "$d" in node:
            return Decimal(node["$d"])
        if "$t" in node:
            return tuple(_untag(v) for v in node["$t"])
        if "$s" in node:
            items = [_untag(v) for v in node["$s"]]
            return frozenset(items) if node.get("frozen") else set(items)
        if "$m" in node:
            return {_hashable(_untag(k)): _untag(v) for k, v in node["$m"]}
        if "$b" in node:
            return base64.b64decode(node["$b"])
        if "$f" in node:
            return float(node["$f"])
        if "$ts" in node:
            return datetime.datetime.fromisoformat(node["$ts"])
        if "$date" in node:
            return datetime.date.fromisoformat(node["$date"])
        if "$time" in node:
            return datetime.time.fromisoformat(node["$time"])
    return {k: _untag(v) for k, v in node.items()}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def encode_state(value: Any) -> bytes:
    """A store key or value as tagged JSON bytes (StateCodecError for types it cannot carry)."""
    return json.dumps(_tag(value), separators=(",", ":")).encode()


def decode_state(data: bytes) -> Any:
    """The value `encode_state` wrote."""
    return _untag(json.loads(data))
