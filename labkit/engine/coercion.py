"""Common types of user-supplied lists: `a IN (b, c)`, ARRAY[...] and MAP(...) constructors.

ksqlDB walks the list in order: the first non-null element fixes the type family, later elements
must coerce to it (numbers widen, string literals are parsed as the target type, structs merge their
fields). Literals are converted to the common type at compile time; other expressions are CAST.
The wording of the errors is ksqlDB's ("operator does not exist: ...", "invalid input syntax ...").
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable, Sequence

from labkit.engine.errors import TypeCheckError
from labkit.engine.types import (
    BIGINT, BOOLEAN, DOUBLE, INTEGER, STRING, SqlArray, SqlMap, SqlStruct, SqlType, decimal_type_of,
    parse_sql_boolean, widen_decimal,
)
from labkit.sql import ast

__all__ = ["coercion_type", "CoercionFailure", "common_type", "literal_value_type", "numeric_type_of_string"]

_NUMERIC = ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE")
_STRICT_PASS = {("BOOLEAN", "BOOLEAN"), ("INTEGER", "INTEGER"), ("INTEGER", "BIGINT"), ("INTEGER", "DOUBLE"),
                ("BIGINT", "BIGINT"), ("BIGINT", "DOUBLE"), ("DECIMAL", "DOUBLE"), ("DOUBLE", "DOUBLE"),
                ("STRING", "STRING"), ("STRING", "TIMESTAMP"), ("STRING", "TIME"), ("STRING", "DATE"),
                ("STRING", "BYTES"), ("TIMESTAMP", "TIMESTAMP"), ("TIME", "TIME"), ("DATE", "DATE"),
                ("BYTES", "BYTES")}
_LAX_PASS = {("BOOLEAN", "STRING"), ("INTEGER", "STRING"), ("BIGINT", "STRING"), ("DECIMAL", "STRING"),
             ("DOUBLE", "STRING"), ("STRING", "BOOLEAN"), ("STRING", "INTEGER"), ("STRING", "BIGINT"),
             ("STRING", "DECIMAL"), ("STRING", "DOUBLE"), ("TIMESTAMP", "STRING"), ("TIME", "STRING"),
             ("DATE", "STRING")}


def coercion_type(source: SqlType, target: SqlType, lax: bool = False) -> SqlType | None:
    """The type holding both, coercing `source` towards `target` (ksqlDB's canCoerce), or None."""
    f, t = source.base, target.base
    if (f, t) in (("INTEGER", "DECIMAL"), ("BIGINT", "DECIMAL"), ("DECIMAL", "DECIMAL")):
        return widen_decimal(source, target)
    if (f, t) in _STRICT_PASS or (lax and (f, t) in _LAX_PASS):
        if lax and t == "DECIMAL" and f == "STRING":
            return target
        return target
    if f == t == "ARRAY":
        item = coercion_type(source.item, target.item, lax)  # type: ignore[attr-defined]
        return None if item is None else SqlArray(item)
    if f == t == "MAP":
        key = coercion_type(source.key, target.key, lax)  # type: ignore[attr-defined]
        value = coercion_type(source.value, target.value, lax)  # type: ignore[attr-defined]
        return None if key is None or value is None else SqlMap(key, value)
    if f == t == "STRUCT":
        assert isinstance(source, SqlStruct) and isinstance(target, SqlStruct)
        names = list(dict.fromkeys([fl.name for fl in source.fields] + [fl.name for fl in target.fields]))
        fields = []
        for name in names:
            sf, tf = source.field(name), target.field(name)
            if sf is None:
                fields.append((name, tf.type))
            elif tf is None:
                fields.append((name, sf.type))
            else:
                common = coercion_type(sf.type, tf.type, lax)
                if common is None:
                    return None
                fields.append((name, common))
        return SqlStruct.of(fields)
    return None


_JAVA_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def numeric_type_of_string(text: str) -> SqlType:
    """The numeric type a string literal reads as ('10' INTEGER, '1.5' DECIMAL(2, 1)); ValueError if none."""
    stripped = text.strip()
    if not _JAVA_DECIMAL.fullmatch(stripped):
        raise ValueError(text)
    value = Decimal(stripped)
    has_point = "." in text or "e" in text or "E" in text
    if not has_point and value.as_tuple().exponent == 0:
        number = int(value)
        if -(2**31) < number < 2**31 - 1:
            return INTEGER
        if -(2**63) < number < 2**63 - 1:
            return BIGINT
    return decimal_type_of(value)


def literal_value_type(node: ast.Expression) -> SqlType | None:
    """The type ksqlDB gives a literal (None for NULL)."""
    if isinstance(node, ast.NullLiteral):
        return None
    if isinstance(node, ast.BooleanLiteral):
        return BOOLEAN
    if isinstance(node, ast.IntegerLiteral):
        return INTEGER if node.sql_type == "INTEGER" else BIGINT
    if isinstance(node, ast.DecimalLiteral):
        return decimal_type_of(node.value)
    if isinstance(node, ast.DoubleLiteral):
        return DOUBLE
    if isinstance(node, ast.StringLiteral):
        return STRING
    raise TypeError(node)


def _invalid_syntax(value: Any, target: SqlType) -> TypeCheckError:
    return TypeCheckError(f'invalid input syntax for type {target.base}: "{value}".')


class CoercionFailure(TypeCheckError):
    """No common type (ksqlDB's InvalidCoercionException); nested failures are re-worded by the parent."""


def _coercion_failure(text: str, source: SqlType | None, target: SqlType) -> TypeCheckError:
    return CoercionFailure(f"operator does not exist: {target} = {source} ({text})\n"
                          "Hint: You might need to add explicit type casts.")


def common_type(elements: Sequence[ast.Expression], type_of: Callable[[ast.Expression], SqlType | None],
                text_of: Callable[[ast.Expression], str]) -> SqlType | None:
    """ksqlDB's CoercionUtil.coerceUserList common type over `elements` (raises TypeCheckError)."""
    result: SqlType | None = None
    first = True
    for element in elements:
        element_type = type_of(element)
        if first:
            result, first = element_type, element_type is None
            continue
        if element_type is None:
            continue
        assert result is not None
        result = _resolve(element, element_type, result, type_of, text_of)
    return result


def _resolve(expr: ast.Expression, source: SqlType, target: SqlType,
             type_of: Callable[[ast.Expression], SqlType | None], text_of: Callable[[ast.Expression], str]) -> SqlType:
    if isinstance(expr, ast.ArrayConstructor):
        if target.base != "ARRAY":
            raise _coercion_failure(text_of(expr), source, target)
        try:
            item = _structured(target.item, expr.items, type_of, text_of)  # type: ignore[attr-defined]
        except CoercionFailure:
            raise _coercion_failure(text_of(expr), source, target) from None
        return SqlArray(item)
    if isinstance(expr, ast.MapConstructor):
        if target.base != "MAP":
            raise _coercion_failure(text_of(expr), source, target)
        try:
            key = _structured(target.key, [k for k, _ in expr.entries], type_of, text_of)  # type: ignore
            value = _structured(target.value, [v for _, v in expr.entries], type_of, text_of)  # type: ignore
        except CoercionFailure:
            raise _coercion_failure(text_of(expr), source, target) from None
        return SqlMap(key, value)
    if isinstance(expr, ast.StructConstructor):
        if target.base != "STRUCT":
            raise _coercion_failure(text_of(expr), source, target)
        try:
            names = list(dict.fromkeys([n for n, _ in expr.fields] + [f.name for f in target.fields]))  # type: ignore
            fields = []
            for name in names:
                value_expr = next((v for n, v in expr.fields if n == name), None)
                source_field = type_of(value_expr) if value_expr is not None else None
                target_field = target.field(name)  # type: ignore[attr-defined]
                if target_field is None:
                    fields.append((name, source_field))
                elif value_expr is None or source_field is None:
                    fields.append((name, target_field.type))
                else:
                    fields.append((name, _resolve(value_expr, source_field, target_field.type, type_of, text_of)))
            return SqlStruct.of(fields)  # type: ignore[arg-type]
        except CoercionFailure:
            raise _coercion_failure(text_of(expr), source, target) from None
    if isinstance(expr, ast.StringLiteral):
        if target.base in _NUMERIC:
            try:
                string_type = numeric_type_of_string(expr.value)
            except ValueError:
                raise _invalid_syntax(expr.value, target) from None
            if string_type.base == "DOUBLE" or target.base == "DOUBLE":
                return DOUBLE
            if string_type.base == "DECIMAL" or target.base == "DECIMAL":
                return widen_decimal(string_type, target)
            order = _NUMERIC.index
            return target if order(string_type.base) <= order(target.base) else string_type
        if target.base == "BOOLEAN":
            if parse_sql_boolean(expr.value.strip(), exact=True) is None:
                raise _invalid_syntax(expr.value, BOOLEAN)
            return target
    lax = isinstance(expr, ast.Literal)
    common = coercion_type(source, target, lax)
    if common is not None:
        return common
    common = coercion_type(target, source, lax)
    if common is not None:
        return common
    raise _coercion_failure(text_of(expr), source, target)


def _structured(target: SqlType, elements: Sequence[ast.Expression],
                type_of: Callable[[ast.Expression], SqlType | None],
                text_of: Callable[[ast.Expression], str]) -> SqlType:
    result = target
    for element in elements:
        element_type = type_of(element)
        if element_type is None:
            continue
        result = _resolve(element, element_type, result, type_of, text_of)
    return result
