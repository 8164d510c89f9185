"""The SQL front end of labkit's ksqlDB-compatible engine: tokenizer, syntax tree, parser, renderer.

>>> from labkit.sql import parse, render
>>> [statement] = parse("create stream user (id int key, name string) with (kafka_topic='user', value_format='json');")
>>> statement.name, [column.name for column in statement.elements]
('USER', ['ID', 'NAME'])
>>> render(statement)
"CREATE STREAM USER (ID INTEGER KEY, NAME STRING) WITH (KAFKA_TOPIC='user', VALUE_FORMAT='json');"
"""
from __future__ import annotations

from labkit.sql import ast
from labkit.sql.errors import SqlParseError
from labkit.sql.parser import parse, parse_columns, parse_expression, parse_statement, parse_type
from labkit.sql.render import quote_identifier, render
from labkit.sql.tokens import Token, TokenType, tokenize
from labkit.sql.variables import substitute_variables

__all__ = [
    "SqlParseError",
    "Token",
    "TokenType",
    "ast",
    "parse",
    "parse_columns",
    "parse_expression",
    "parse_statement",
    "parse_type",
    "quote_identifier",
    "render",
    "substitute_variables",
    "tokenize",
]
