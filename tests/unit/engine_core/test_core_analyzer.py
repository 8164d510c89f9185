"""Analyzer and planner: aliases, column resolution, output schemas and ksqlDB's validation messages."""
from __future__ import annotations

import pytest

from labkit.engine.analyzer import AliasGenerator, analyze
from labkit.engine.catalog import Catalog, DataSource
from labkit.engine.errors import EngineError, UnknownColumnError, UnknownSourceError
from labkit.engine.formats import FormatSpec, KeyFormat, ValueFormat
from labkit.engine.planner import plan_query, validate_key_present
from labkit.engine.schema import LogicalSchema
from labkit.engine.types import BIGINT, INTEGER, STRING, SqlStruct
from labkit.sql import ast, parse_expression, parse_statement


def catalog() -> Catalog:
    cat = Catalog()
    schema = LogicalSchema.of(key=[("ID", INTEGER)], value=[
        ("NAME", STRING), ("AGE", INTEGER), ("ADDRESS", SqlStruct.of([("TOWN", STRING)])), ("KSQL_COL_0", BIGINT)])
    cat.add_source(DataSource("INPUT", "STREAM", schema, "input", KeyFormat(FormatSpec("KAFKA")),
                              ValueFormat(FormatSpec("JSON"))))
    table = LogicalSchema.of(key=[("K", STRING)], value=[("V", INTEGER)])
    cat.add_source(DataSource("T", "TABLE", table, "t", KeyFormat(FormatSpec("KAFKA")),
                              ValueFormat(FormatSpec("JSON"))))
    return cat


def query(sql: str) -> ast.Query:
    statement = parse_statement(sql)
    return statement.query if isinstance(statement, ast.CreateAsSelect) else statement  # type: ignore[return-value]


def plan(sql: str, sink: str | None = "OUT"):  # type: ignore[no-untyped-def]
    analysis = analyze(query(sql), catalog(), persistent=sink is not None)
    result = plan_query(analysis, sink_name=sink)
    if sink is not None:
        validate_key_present(result, sink)
    return result


def test_alias_generator_skips_numbers_the_source_uses() -> None:
    generator = AliasGenerator(["ID", "KSQL_COL_0", "KSQL_COL_2"])
    assert [generator.next_generated() for _ in range(3)] == ["KSQL_COL_1", "KSQL_COL_3", "KSQL_COL_4"]


def test_struct_dereference_is_named_after_its_field_unless_taken() -> None:
    generator = AliasGenerator(["ID", "TOWN"])
    assert generator.alias_for(parse_expression("A->TOWN")) == "TOWN_1"
    assert generator.alias_for(parse_expression("A->CITY")) == "CITY"


def test_unaliased_items_get_ksqldb_names_and_references_are_qualified() -> None:
    analysis = analyze(query("SELECT ID, NAME, ADDRESS->TOWN, AGE + 1 FROM INPUT;"), catalog(), persistent=True)
    items = [i for i in analysis.items if isinstance(i, ast.SingleColumn)]
    assert [i.alias for i in items] == ["ID", "NAME", "TOWN", "KSQL_COL_1"]
    assert items[0].expression == ast.ColumnRef("ID", "INPUT")


def test_select_star_expands_key_then_values_without_pseudo_columns() -> None:
    result = plan("CREATE STREAM OUT AS SELECT * FROM INPUT;")
    assert str(result.schema) == ("`ID` INTEGER KEY, `NAME` STRING, `AGE` INTEGER, `ADDRESS` STRUCT<`TOWN` STRING>, "
                                  "`KSQL_COL_0` BIGINT")


def test_key_keeps_the_source_order_and_takes_its_alias() -> None:
    result = plan("CREATE STREAM OUT AS SELECT NAME, ID AS ID_COPY, ROWTIME AS TS FROM INPUT;")
    assert str(result.schema) == "`ID_COPY` INTEGER KEY, `NAME` STRING, `TS` BIGINT"


def test_partition_by_expression_becomes_the_key() -> None:
    result = plan("CREATE STREAM OUT AS SELECT ABS(AGE), NAME FROM INPUT PARTITION BY ABS(AGE);")
    assert str(result.schema) == "`KSQL_COL_1` INTEGER KEY, `NAME` STRING"


def test_partition_by_null_leaves_no_key() -> None:
    result = plan("CREATE STREAM OUT AS SELECT ID, NAME FROM INPUT PARTITION BY NULL;")
    assert str(result.schema) == "`ID` INTEGER, `NAME` STRING"


def test_transient_query_keeps_key_columns_as_values() -> None:
    result = plan("SELECT ID, NAME FROM INPUT EMIT CHANGES;", sink=None)
    assert str(result.schema) == "`ID` INTEGER KEY, `ID` INTEGER, `NAME` STRING"


@pytest.mark.parametrize("sql, message", [
    ("CREATE STREAM OUT AS SELECT NAME FROM INPUT;",
     "The query used to build `OUT` must include the key column ID in its projection (eg, SELECT ID...)."),
    ("CREATE STREAM OUT AS SELECT ID FROM INPUT;", "The projection contains no value columns."),
    ("CREATE STREAM OUT AS SELECT ID, ID AS I2, NAME FROM INPUT;",
     "The projection contains a key column (`ID`) more than once, aliased as: I2 and ID."),
    ("CREATE STREAM OUT AS SELECT ID, NAME FROM INPUT PARTITION BY UCASE(NAME);",
     "must include the partitioning expression UCASE(INPUT.NAME) in its projection"),
    ("CREATE STREAM OUT AS SELECT ID, NAME FROM INPUT WHERE AGE;",
     "Type error in WHERE expression: Should evaluate to boolean but is AGE (INTEGER) instead."),
    ("CREATE STREAM OUT AS SELECT ID, NAME FROM INPUT WHERE AGE = 'x';",
     "Error in WHERE expression: Cannot compare AGE (INTEGER) to 'x' (STRING) with EQUAL."),
    ("CREATE STREAM OUT AS SELECT ID, CAST(NAME AS ARRAY<INT>) FROM INPUT;",
     "Invalid Select: Cast of STRING to ARRAY<INTEGER> is not supported."),
    ("CREATE STREAM OUT AS SELECT ID, NULL FROM INPUT;", "Can't infer a type of null."),
    ("CREATE STREAM OUT AS SELECT ID, NAME AS ROWTIME FROM INPUT;",
     "`ROWTIME` is a reserved column name. You cannot use it as an alias for a column."),
    ("CREATE STREAM OUT AS SELECT ID, ROWOFFSET FROM INPUT;",
     "Reserved column name in select: `ROWOFFSET`. Please remove or alias the column."),
    ("CREATE TABLE OUT AS SELECT K, V FROM T PARTITION BY V;", "Cannot repartition a TABLE source."),
    ("CREATE STREAM OUT AS SELECT ID, NAME FROM INPUT PARTITION BY NAME, NULL;",
     "Cannot PARTITION BY multiple columns including NULL"),
])
def test_invalid_queries_fail_with_ksqldb_messages(sql: str, message: str) -> None:
    with pytest.raises(EngineError) as raised:
        plan(sql)
    assert message in raised.value.message


@pytest.mark.parametrize("sql, message", [
    ("SELECT BOB FROM INPUT EMIT CHANGES;", "SELECT column 'BOB' cannot be resolved."),
    ("SELECT I.BOB FROM INPUT I EMIT CHANGES;", "SELECT column 'I.BOB' cannot be resolved."),
    ("SELECT * FROM INPUT WHERE BOB > 1 EMIT CHANGES;", "WHERE column 'BOB' cannot be resolved."),
    ("SELECT * FROM INPUT PARTITION BY BOB EMIT CHANGES;", "PARTITION BY column 'BOB' cannot be resolved."),
])
def test_unknown_columns_name_their_clause(sql: str, message: str) -> None:
    with pytest.raises(UnknownColumnError) as raised:
        analyze(query(sql), catalog(), persistent=False)
    assert message in raised.value.message


def test_unknown_source_hints_at_a_different_case() -> None:
    cat = catalog()
    cat.add_source(DataSource("lower", "STREAM", LogicalSchema.of(value=[("V", INTEGER)]), "l",
                              KeyFormat(FormatSpec("KAFKA")), ValueFormat(FormatSpec("JSON"))))
    with pytest.raises(UnknownSourceError) as raised:
        analyze(query("SELECT * FROM LOWER EMIT CHANGES;"), cat, persistent=False)
    assert raised.value.message == ('Exception while preparing statement: LOWER does not exist.\nDid you mean "lower"? '
                                    'Hint: wrap the source name in double quotes to make it case-sensitive.')


def test_joins_aggregations_and_table_functions_are_analyzed() -> None:
    grouped = analyze(query("SELECT NAME, COUNT(*) FROM INPUT GROUP BY NAME EMIT CHANGES;"), catalog(),
                      persistent=False)
    assert grouped.group_by == (ast.ColumnRef("NAME", "INPUT"),) and grouped.is_aggregate
    joined = analyze(query("SELECT * FROM INPUT A JOIN T B ON A.NAME = B.K EMIT CHANGES;"), catalog(),
                     persistent=False)
    assert [(j.left.alias, j.right.alias, j.kind) for j in joined.joins] == [("A", "B", "INNER")]
    exploded = analyze(query("SELECT EXPLODE(ARRAY[1, 2]) FROM INPUT EMIT CHANGES;"), catalog(), persistent=False)
    assert [f.name for f in exploded.table_functions] == ["EXPLODE"]


def test_self_joins_are_refused_with_ksqldbs_message() -> None:
    with pytest.raises(EngineError) as raised:
        analyze(query("SELECT * FROM INPUT A JOIN INPUT B WITHIN 1 SECOND ON A.ID = B.ID EMIT CHANGES;"), catalog(),
                persistent=False)
    assert raised.value.message == "Can not join 'INPUT' to 'INPUT': self joins are not yet supported."


def test_magic_timestamp_strings_compare_with_rowtime() -> None:
    result = plan("CREATE STREAM OUT AS SELECT ID, NAME FROM INPUT WHERE ROWTIME > '2020-01-01T00:00:00.000';")
    assert str(result.schema) == "`ID` INTEGER KEY, `NAME` STRING"
