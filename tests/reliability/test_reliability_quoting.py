"""Names and values labkit writes into SQL are quoted, so no input can change the statement's meaning.

Each check builds SQL the way labkit does and parses it back with labkit.sql: exactly one statement comes
out, and it holds exactly the name or value that went in. The last test scans labkit's source for the ways
input could reach a shell or an interpreter (eval, exec, os.system, shell=True).
"""
from __future__ import annotations

import ast as python_ast
import math
from pathlib import Path

from hypothesis import given, settings, strategies as st

from labkit.ksql import KsqlClient
from labkit.sql import ast, parse

LABKIT = Path(__file__).resolve().parents[2] / "labkit"
ROUNDS = settings(max_examples=300, deadline=None)

NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=20)
SOURCE_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
VALUES = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
          | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
          | st.lists(st.integers(-1000, 1000), max_size=4))


def inserted_sql(source: str, rows: list[dict]) -> list[str]:
    """The SQL KsqlClient.insert sends for `rows` (captured instead of sent)."""
    sent: list[str] = []
    client = KsqlClient("http://127.0.0.1:9")  # nothing listens there; execute is captured below
    client.execute = lambda sql, **_: sent.append(sql) or []  # type: ignore[method-assign]
    client.insert(source, rows)
    client.close()
    return sent


def stored_name(name: str) -> str:
    """ksqlDB's rule, which insert() follows: a back-quoted name as written, any other upper-cased."""
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name.upper()


def literal_value(node: ast.Expression) -> object:
    """The Python value of a parsed literal (or ARRAY[...] of literals)."""
    if isinstance(node, ast.NullLiteral):
        return None
    if isinstance(node, ast.ArithmeticUnary) and node.operator == "-":
        return -literal_value(node.value)  # type: ignore[operator]
    if isinstance(node, ast.ArrayConstructor):
        return [literal_value(item) for item in node.items]
    return node.value  # type: ignore[attr-defined]


@ROUNDS
@given(source=SOURCE_NAMES, row=st.dictionaries(NAMES, VALUES, min_size=1, max_size=5))
def test_insert_quotes_every_column_name_and_value(source, row):
    [sql] = inserted_sql(f"`{source}`", [row])
    [statement] = parse(sql)
    assert isinstance(statement, ast.InsertValues)
    assert statement.target == source
    assert list(statement.columns) == [stored_name(name) for name in row]
    for written, node in zip(row.values(), statement.values):
        value = literal_value(node)
        if isinstance(written, float):
            assert math.isclose(float(value), written, rel_tol=0, abs_tol=0) or float(value) == written, (sql, written)
        elif isinstance(written, list):
            assert value == written
        else:
            assert value == written, (sql, written)


@ROUNDS
@given(order_id=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_the_pizza_pull_query_quotes_the_order_id(order_id):
    from labkit.pizza.ksql_view import pull_query

    [statement] = parse(pull_query(order_id))
    assert isinstance(statement, ast.Query)
    assert isinstance(statement.where, ast.Comparison)
    assert literal_value(statement.where.right) == order_id


@ROUNDS
@given(prefix=st.text(st.characters(whitelist_categories=("L", "N", "P", "S")), max_size=12))
def test_the_pizza_view_quotes_its_topic_name(prefix):
    from labkit.pizza.ksql_view import statements
    from labkit.pizza.topics import WITH_VEGGIES, PizzaTopics

    topic = PizzaTopics(prefix=prefix).name(WITH_VEGGIES)
    create_stream = statements(PizzaTopics(prefix=prefix))[0]
    [statement] = parse(create_stream)
    properties = {p.name.upper(): literal_value(p.value) for p in statement.properties}
    assert properties["KAFKA_TOPIC"] == topic


def _calls(tree: python_ast.AST):
    for node in python_ast.walk(tree):
        if isinstance(node, python_ast.Call):
            yield node


def test_no_labkit_code_evaluates_text_or_runs_a_shell():
    findings = []
    for path in sorted(LABKIT.rglob("*.py")):
        tree = python_ast.parse(path.read_text(), filename=str(path))
        for call in _calls(tree):
            func = call.func
            name = func.id if isinstance(func, python_ast.Name) else func.attr if isinstance(func, python_ast.Attribute) else ""
            where = f"{path.relative_to(LABKIT.parent)}:{call.lineno}"
            if name in ("eval", "exec", "compile") and isinstance(func, python_ast.Name):
                findings.append(f"{where}: {name}()")
            if name in ("system", "popen") and isinstance(func, python_ast.Attribute) \
                    and isinstance(func.value, python_ast.Name) and func.value.id == "os":
                findings.append(f"{where}: os.{name}()")
            for keyword in call.keywords:
                if keyword.arg == "shell" and not (isinstance(keyword.value, python_ast.Constant)
                                                   and keyword.value.value is False):
                    findings.append(f"{where}: shell=")
    assert findings == []
