"""labkit.sql under generated and mutated statements: it answers with its own error type, never a crash.

A learner's typo, a half-pasted statement or a fuzzer's garbage must come back as a `SqlSyntaxError`
(which the REST layer turns into ksqlDB's 400 `statement_error`), never as a RecursionError, ValueError,
IndexError or any other exception that would become a 500.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from labkit.errors import SqlSyntaxError
from labkit.sql import parse
from labkit.sql import parse_expression, parse_type, render, substitute_variables, tokenize
from labkit.sql.parser import MAX_TREE_DEPTH

CASES = Path(__file__).resolve().parents[1] / "conformance" / "cases"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def seed_statements() -> list[str]:
    """Statements of the project's own conformance cases: valid ksqlDB the mutations start from."""
    statements = []
    for path in sorted(CASES.glob("*.json")):
        for case in json.loads(path.read_text())["tests"]:
            statements.extend(s.replace("{FORMAT}", "JSON") for s in case.get("statements", []))
    return statements


SEEDS = seed_statements()
FRAGMENTS = ["(", ")", "[", "]", "'", "`", '"', ";", ",", ".", "->", "=>", ":=", "*", "-", "--", "/*", "*/",
             "${", "${X}", "\\", "\n", "\t", "\x00", "é", "😀", "SELECT", "FROM", "WHERE", "EMIT CHANGES",
             "WINDOW TUMBLING (SIZE", "GROUP BY", "CASE WHEN", "END", "CAST(", "AS", "STRUCT<", "ARRAY[", "MAP(",
             "9" * 30, "1e400", "-", "0x1F", "NULL", "WITH (", "KAFKA_TOPIC=", "PARTITION BY", "LIMIT",
             "INSERT INTO", "VALUES (", "CREATE STREAM", "CREATE TABLE", "AS SELECT", "PRIMARY KEY", "KEY"]


def parse_all(sql: str) -> None:
    """Parse a script and render every statement, as the engine does; only SqlSyntaxError may escape."""
    for statement in parse(sql):
        render(statement)


def mutate(rnd: random.Random, sql: str) -> str:
    """Insert, delete, swap or splice pieces of a statement."""
    for _ in range(rnd.randint(1, 4)):
        pos = rnd.randint(0, len(sql))
        choice = rnd.random()
        if choice < 0.3:
            sql = sql[:pos] + rnd.choice(FRAGMENTS) + sql[pos:]
        elif choice < 0.55:
            sql = sql[:pos] + sql[pos + rnd.randint(1, 12):]
        elif choice < 0.8:
            words = sql.split(" ")
            a, b = rnd.randrange(len(words)), rnd.randrange(len(words))
            words[a], words[b] = words[b], words[a]
            sql = " ".join(words)
        else:
            other = rnd.choice(SEEDS)
            start = rnd.randint(0, len(other))
            sql = sql[:pos] + other[start:start + rnd.randint(1, 60)] + sql[pos:]
    return sql


def test_the_seed_corpus_is_valid_ksql():
    assert len(SEEDS) > 200
    for sql in SEEDS[:300]:
        parse_all(sql)


def test_mutated_statements_raise_only_syntax_errors():
    rnd = random.Random(7)
    rejected = 0
    for _ in range(6000):
        sql = mutate(rnd, rnd.choice(SEEDS))
        try:
            parse_all(sql)
        except SqlSyntaxError as error:
            rejected += 1
            assert error.line >= 1 and error.column >= 0, sql
            assert str(error), sql
    assert rejected > 3000  # the mutations really do break most statements


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_syntax_errors(text):
    try:
        parse_all(text)
    except SqlSyntaxError:
        pass


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS + ["A", "B", "1", "2.5", "'x'", " ", "+", "=", "<", "AND", "OR",
                                              "NOT", "IN", "BETWEEN", "LIKE", "IS"]), max_size=60))
def test_keyword_soup_raises_only_syntax_errors(pieces):
    sql = " ".join(pieces)
    for entry in (parse_all, parse_expression, parse_type):
        try:
            entry(sql)
        except SqlSyntaxError:
            pass


@FUZZ
@given(st.text(max_size=120), st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
                                              st.text(max_size=20), max_size=3))
def test_variable_substitution_raises_only_syntax_errors(text, variables):
    try:
        substitute_variables(text, variables)
    except SqlSyntaxError:
        pass


@pytest.mark.parametrize("sql", [
    "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " FROM S EMIT CHANGES;",
    "SELECT * FROM S WHERE " + "NOT " * 3000 + "TRUE EMIT CHANGES;",
    "SELECT " + "ARRAY[" * 2000 + "1" + "]" * 2000 + " FROM S EMIT CHANGES;",
    "SELECT " + "CASE WHEN TRUE THEN " * 1500 + "1" + " END" * 1500 + " FROM S EMIT CHANGES;",
    "SELECT " + " + ".join(["1"] * 20000) + " FROM S EMIT CHANGES;",
    "SELECT A" + "[1]" * 5000 + " FROM S EMIT CHANGES;",
    "SELECT A" + "->B" * 5000 + " FROM S EMIT CHANGES;",
    "CREATE STREAM S (A " + "STRUCT<A " * 2000 + "INT" + ">" * 2000 + ") WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');",
], ids=["parentheses", "not", "arrays", "case", "long-plus-chain", "subscripts", "dereferences", "struct-type"])
def test_deeply_nested_statements_are_a_syntax_error_not_a_crash(sql):
    with pytest.raises(SqlSyntaxError, match="nested too deeply"):
        parse(sql)


def test_moderate_nesting_still_parses():
    parse("SELECT " + "(" * 40 + "1" + ")" * 40 + " FROM S EMIT CHANGES;")
    parse("SELECT " + " + ".join(["1"] * (MAX_TREE_DEPTH - 10)) + " FROM S EMIT CHANGES;")


@pytest.mark.parametrize("digits", [20, 5000])
def test_huge_integer_literals_are_a_syntax_error(digits):
    with pytest.raises(SqlSyntaxError, match="Invalid numeric literal"):
        parse("SELECT " + "9" * digits + " FROM S EMIT CHANGES;")


@FUZZ
@given(st.binary(max_size=200))
def test_undecodable_bytes_as_text_raise_only_syntax_errors(raw):
    text = raw.decode("utf-8", errors="surrogateescape")
    try:
        tokenize(text)
        parse_all(text)
    except SqlSyntaxError:
        pass
