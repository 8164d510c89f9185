"""labkit.sql round trips over generated trees: render then parse gives the tree back, whatever its shape."""
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.sql import ast, parse_expression, parse_statement, parse_type, render

NAMES = st.sampled_from(["A", "B", "ID", "KEY", "name", "Mixed Case", "SELECT", "SIZE", "ARRAY", "MAP",
                         "STRUCT", "SECOND", "SECONDS", "DAYS", "1ST", "a`b", "TABLES", "EMIT"])
FUNCTIONS = st.sampled_from(["F", "UCASE", "COUNT", "CONCAT", "map", "MAP", "ARRAY", "STRUCT", "IF"])

types = st.recursive(
    st.sampled_from([ast.PrimitiveType(n) for n in ("BOOLEAN", "INTEGER", "BIGINT", "DOUBLE", "STRING",
                                                     "BYTES", "DATE", "TIME", "TIMESTAMP")])
    | st.builds(ast.DecimalType, st.integers(1, 38), st.integers(0, 10))
    | st.builds(ast.CustomType, st.sampled_from(["ADDRESS", "my_type", "ARRAY", "DECIMAL"])),
    lambda inner: st.builds(ast.ArrayType, inner)
    | st.builds(ast.MapType, inner, inner)
    | st.builds(ast.StructType, st.lists(st.builds(ast.StructField, NAMES, inner), max_size=3).map(tuple)),
    max_leaves=6,
)

values = (
    st.builds(ast.NullLiteral)
    | st.builds(ast.BooleanLiteral, st.booleans())
    | st.builds(ast.IntegerLiteral, st.integers(-(2**63), 2**63 - 1))
    | st.builds(ast.DecimalLiteral, st.decimals(allow_nan=False, allow_infinity=False, places=3)
                .filter(lambda d: abs(d) < Decimal("1e12")))
    | st.builds(ast.DoubleLiteral, st.floats(allow_nan=False, allow_infinity=False))
    | st.builds(ast.StringLiteral, st.text(max_size=8))
)


def _compound(inner):
    pairs = st.tuples(inner, inner)
    return (
        st.builds(ast.ArithmeticUnary, st.sampled_from(["-", "+"]), inner)
        | st.builds(ast.ArithmeticBinary, st.sampled_from(["+", "-", "*", "/", "%"]), inner, inner)
        | st.builds(ast.Comparison, st.sampled_from(["=", "<>", "<", "<=", ">", ">=", "IS DISTINCT FROM",
                                                     "IS NOT DISTINCT FROM"]), inner, inner)
        | st.builds(ast.LogicalBinary, st.sampled_from(["AND", "OR"]), inner, inner)
        | st.builds(ast.Not, inner)
        | st.builds(ast.Between, inner, inner, inner, st.booleans())
        | st.builds(ast.InList, inner, st.lists(inner, min_size=1, max_size=3).map(tuple), st.booleans())
        | st.builds(ast.Like, inner, inner, st.sampled_from([None, "!", "'"]), st.booleans())
        | st.builds(ast.IsNull, inner, st.booleans())
        | st.builds(ast.FunctionCall, FUNCTIONS, st.lists(inner, max_size=3).map(tuple))
        | st.builds(ast.SearchedCase, st.lists(st.builds(ast.WhenClause, inner, inner), min_size=1,
                                               max_size=2).map(tuple), st.none() | inner)
        | st.builds(ast.SimpleCase, inner, st.lists(st.builds(ast.WhenClause, inner, inner), min_size=1,
                                                    max_size=2).map(tuple), st.none() | inner)
        | st.builds(ast.Cast, inner, types)
        | st.builds(ast.Subscript, inner, inner)
        | st.builds(ast.Dereference, inner, NAMES)
        | st.builds(ast.ArrayConstructor, st.lists(inner, max_size=3).map(tuple))
        | st.builds(ast.MapConstructor, st.lists(pairs, max_size=2).map(tuple))
        | st.builds(ast.StructConstructor, st.lists(st.tuples(NAMES, inner), max_size=2).map(tuple))
    )


# Any qualifier in free-standing expressions; in queries only the source's name or alias.
expressions = st.recursive(values | st.builds(ast.ColumnRef, NAMES) | st.builds(ast.ColumnRef, NAMES, NAMES),
                           _compound, max_leaves=12)
query_expressions = st.recursive(
    values | st.builds(ast.ColumnRef, NAMES) | st.builds(ast.ColumnRef, NAMES, st.sampled_from(["S", "T"])),
    _compound, max_leaves=8)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_any_expression_survives_render_and_parse(expression):
    text = render(expression)
    assert parse_expression(text) == expression, text


@settings(max_examples=200, deadline=None, database=None)
@given(types)
def test_any_type_survives_render_and_parse(type_):
    assert parse_type(render(type_)) == type_


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(query_expressions, min_size=1, max_size=3), st.none() | query_expressions,
       st.none() | st.lists(query_expressions, min_size=1, max_size=2), st.sampled_from(["S", "s-1"]))
def test_any_query_survives_render_and_parse(items, where, group_by, name):
    source = ast.AliasedSource(name, None if name == "S" else "T")
    query = ast.Query(tuple(ast.SingleColumn(e) for e in items), source, where=where,
                      group_by=None if group_by is None else tuple(dict.fromkeys(group_by)))
    text = render(query)
    if any(isinstance(n, ast.ColumnRef) and n.source not in (None, source.alias_or_name)
           for n in ast.iter_nodes(query)):
        return  # ksqlDB rejects qualifiers that name no source (tested in test_sql_errors)
    assert parse_statement(text) == query, text
