"""labkit.sql as a package: its public names, module sizes, no eval, variable substitution."""
import doctest
import importlib
import re
from pathlib import Path

import labkit.sql
from labkit.sql import parse_statement, substitute_variables

PACKAGE = Path(labkit.sql.__file__).parent


def test_public_names_are_pinned():
    assert labkit.sql.__all__ == [
        "SqlParseError", "Token", "TokenType", "ast", "parse", "parse_columns", "parse_expression",
        "parse_statement", "parse_type", "quote_identifier", "render", "substitute_variables", "tokenize",
    ]
    for name in labkit.sql.__all__:
        assert hasattr(labkit.sql, name)


def test_modules_stay_small_and_never_eval():
    for module in PACKAGE.glob("*.py"):
        text = module.read_text()
        assert len(text.splitlines()) < 800, module.name
        assert not re.search(r"\b(eval|exec)\(", text), module.name


def test_public_functions_have_docstrings():
    for name in labkit.sql.__all__:
        value = getattr(labkit.sql, name)
        assert value.__doc__, name


def test_substitute_variables_outside_and_inside_strings():
    sql = "CREATE STREAM ${name} WITH (kafka_topic='${topic}_v1', partitions=${n});"
    text = substitute_variables(sql, {"name": "orders", "topic": "o'rders", "n": "3"})
    assert text == "CREATE STREAM orders WITH (kafka_topic='o''rders_v1', partitions=3);"
    assert parse_statement(text).get_property("KAFKA_TOPIC").value == "o'rders_v1"


def test_substitute_variables_leaves_unknown_names_alone():
    assert substitute_variables("SELECT ${a}, '${b}' FROM s;", {}) == "SELECT ${a}, '${b}' FROM s;"


def test_statements_with_variables_parse_before_substitution():
    statement = parse_statement("SELECT ${col} FROM ${src} WHERE x = ${val};")
    assert statement.source.name == "${src}"
    assert statement.where.right == labkit.sql.ast.VariableRef("val")


def test_docstring_examples_run():
    for name in ("labkit.sql", "labkit.sql.parser", "labkit.sql.render", "labkit.sql.tokens",
                 "labkit.sql.variables"):
        module = importlib.import_module(name)  # labkit.sql.render is also the name of a function
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, name
