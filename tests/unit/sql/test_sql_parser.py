"""labkit.sql.parse: the trees it builds — precedence, identifiers, statement text and positions."""
from decimal import Decimal

import pytest

from labkit.errors import SqlSyntaxError
from labkit.sql import ast, parse, parse_columns, parse_expression, parse_statement, parse_type
from labkit.sql.ast import (
    ArithmeticBinary, ArithmeticUnary, ColumnRef, Comparison, DecimalLiteral, DoubleLiteral, FunctionCall,
    IntegerLiteral, IntervalUnit, Lambda, LambdaVariable, LogicalBinary, Not, StringLiteral,
)


def col(name, source=None):
    return ColumnRef(name, source)


# ------------------------------------------------------------------------------------------ identifiers


def test_unquoted_identifiers_are_upper_cased_and_quoted_ones_keep_case():
    query = parse_statement('SELECT name, `Name`, "nAmE" FROM Users u;')
    assert [item.expression for item in query.items] == [col("NAME"), col("Name"), col("nAmE")]
    assert query.source == ast.AliasedSource("USERS", "U")


def test_lesson_names_user_id_name_job_are_plain_identifiers():
    create = parse_statement("CREATE STREAM user (id INT KEY, name STRING, job STRING) "
                             "WITH (kafka_topic='user', value_format='JSON');")
    assert create.name == "USER"
    assert [(e.name, e.constraint) for e in create.elements] == [("ID", "KEY"), ("NAME", None), ("JOB", None)]
    query = parse_statement("SELECT id, name, job FROM user WHERE id = 1 EMIT CHANGES;")
    assert query.source == ast.AliasedSource("USER")


@pytest.mark.parametrize("word", ["KEY", "ID", "TIMESTAMP", "DATE", "TIME", "TYPE", "SOURCE", "SINK", "SET",
                                  "SHOW", "TABLES", "FUNCTIONS", "SESSION", "STRING", "INTEGER", "HEADER",
                                  "HEADERS", "SCHEMA", "SUBJECT", "TIMEOUT", "REPLACE", "GRACE", "PERIOD",
                                  "DAY", "HOUR", "MINUTE", "SECOND", "ZONE", "INTERVAL", "EMIT", "CHANGES",
                                  "FINAL", "PARTITION", "ESCAPE", "IF", "ALTER", "ADD", "DEFINE", "SYSTEM"])
def test_unreserved_keywords_work_as_column_and_source_names(word):
    query = parse_statement(f"SELECT {word.lower()} FROM {word.lower()};")
    assert query.items[0].expression == col(word)
    assert query.source.name == word


def test_reserved_words_work_when_back_quoted():
    query = parse_statement("SELECT `SIZE`, `from` FROM `SELECT`;")
    assert [i.expression for i in query.items] == [col("SIZE"), col("from")]
    assert query.source.name == "SELECT"


def test_digit_identifier():
    assert parse_expression("1abc") == col("1ABC")


def test_partition_and_emit_end_a_relation_instead_of_aliasing_it():
    query = parse_statement("SELECT * FROM s PARTITION BY a EMIT CHANGES;")
    assert query.source == ast.AliasedSource("S") and query.partition_by == (col("A"),)
    assert parse_statement("SELECT * FROM s emit;").source == ast.AliasedSource("S", "EMIT")


def test_describe_tables_unless_quoted():
    assert parse_statement("DESCRIBE tables;") == ast.DescribeTables()
    assert parse_statement("DESCRIBE `TABLES` EXTENDED;") == ast.DescribeSource("TABLES", True)
    assert parse_statement("DESCRIBE function;") == ast.DescribeSource("FUNCTION")
    assert parse_statement("DESCRIBE FUNCTION ucase;") == ast.DescribeFunction("UCASE")


def test_print_keeps_topic_case_even_unquoted():
    assert parse_statement("PRINT MyTopic FROM BEGINNING LIMIT 2;") == ast.PrintTopic("MyTopic", True, None, 2)
    assert parse_statement("PRINT 'my.topic' INTERVAL 3;") == ast.PrintTopic("my.topic", False, 3)


def test_property_names():
    create = parse_statement("CREATE STREAM s WITH (kafka_topic='t', 'Mixed.Case'=1, `q`=TRUE);")
    assert [p.name for p in create.properties] == ["KAFKA_TOPIC", "Mixed.Case", "q"]
    assert create.get_property("kafka_topic") == StringLiteral("t")
    assert create.get_property("MISSING") is None


def test_variable_definitions_keep_name_case():
    assert parse("DEFINE myVar = 'x'; UNDEFINE myVar;") == [ast.DefineVariable("myVar", "x"),
                                                          ast.UndefineVariable("myVar")]


def test_query_ids_are_upper_cased():
    assert parse_statement("terminate csas_out_0;") == ast.TerminateQuery("CSAS_OUT_0")
    assert parse_statement("explain ctas_t_1;") == ast.Explain(query_id="CTAS_T_1")


# --------------------------------------------------------------------------------------------- precedence


def test_and_binds_tighter_than_or():
    assert parse_expression("a OR b AND c") == LogicalBinary("OR", col("A"), LogicalBinary("AND", col("B"), col("C")))


def test_not_binds_tighter_than_and_but_looser_than_comparison():
    assert parse_expression("NOT a = 1 AND b") == LogicalBinary(
        "AND", Not(Comparison("=", col("A"), IntegerLiteral(1))), col("B"))


def test_multiplication_binds_tighter_than_addition_and_both_are_left_associative():
    assert parse_expression("1 - 2 - 3 * 4 / 5") == ArithmeticBinary(
        "-", ArithmeticBinary("-", IntegerLiteral(1), IntegerLiteral(2)),
        ArithmeticBinary("/", ArithmeticBinary("*", IntegerLiteral(3), IntegerLiteral(4)), IntegerLiteral(5)))


def test_concat_is_the_loosest_value_operator_and_reads_as_concat():
    assert parse_expression("a || b + 1") == FunctionCall(
        "CONCAT", (col("A"), ArithmeticBinary("+", col("B"), IntegerLiteral(1))))


def test_unary_minus_folds_into_number_literals_only():
    assert parse_expression("-5") == IntegerLiteral(-5)
    assert parse_expression("- 5") == IntegerLiteral(-5)
    assert parse_expression("-a") == ArithmeticUnary("-", col("A"))
    assert parse_expression("-a * b") == ArithmeticBinary("*", ArithmeticUnary("-", col("A")), col("B"))
    assert parse_expression("a-5") == ArithmeticBinary("-", col("A"), IntegerLiteral(5))


def test_between_bounds_stop_at_and():
    expression = parse_expression("a BETWEEN 1 AND 2 AND b")
    assert expression == LogicalBinary("AND", ast.Between(col("A"), IntegerLiteral(1), IntegerLiteral(2)), col("B"))


def test_postfix_operators_chain_left_to_right():
    assert parse_expression("a->b[1]->c") == ast.Dereference(
        ast.Subscript(ast.Dereference(col("A"), "B"), IntegerLiteral(1)), "C")


@pytest.mark.parametrize("sql", ["a = b = c", "a < b < c", "a IS NULL IS NULL"])
def test_predicates_do_not_chain(sql):
    with pytest.raises(SqlSyntaxError):
        parse_expression(sql)


# ----------------------------------------------------------------------------------------------- literals


@pytest.mark.parametrize("sql, expected", [
    ("42", IntegerLiteral(42)),
    ("2147483648", IntegerLiteral(2147483648)),
    ("1.50", DecimalLiteral(Decimal("1.50"))),
    ("1.5E0", DoubleLiteral(1.5)),
    ("'x'", StringLiteral("x")),
    ("NULL", ast.NullLiteral()),
    ("true", ast.BooleanLiteral(True)),
    ("${v}", ast.VariableRef("v")),
    ("`DECIMAL` '1.20'", DecimalLiteral(Decimal("1.20"))),
])
def test_literals(sql, expected):
    assert parse_expression(sql) == expected


def test_integer_literal_sql_type_depends_on_range():
    assert IntegerLiteral(2147483647).sql_type == "INTEGER"
    assert IntegerLiteral(2147483648).sql_type == "BIGINT"
    assert IntegerLiteral(-2147483649).sql_type == "BIGINT"


def test_decimal_literal_keeps_its_scale():
    assert parse_expression("1.50").value.as_tuple().exponent == -2


# ------------------------------------------------------------------------------------- functions, lambdas


def test_count_star():
    assert parse_expression("COUNT(*)") == FunctionCall("COUNT", (), star=True)
    assert parse_expression("count()") == FunctionCall("COUNT")


def test_lambda_parameters_become_lambda_variables_in_the_body_only():
    expression = parse_expression("TRANSFORM(x, x => x + y)")
    assert expression == FunctionCall("TRANSFORM", (col("X"), Lambda(
        ("X",), ArithmeticBinary("+", LambdaVariable("X"), col("Y")))))
    nested = parse_expression("f(a, (k, v) => g(v, z => z + k))")
    inner = nested.args[1].body.args[1]
    assert inner.body == ArithmeticBinary("+", LambdaVariable("Z"), LambdaVariable("K"))


def test_plural_time_units_are_interval_arguments_singular_ones_are_columns():
    assert parse_expression("TIMESTAMPADD(SECONDS, 1, ts)").args[0] == IntervalUnit("SECONDS")
    assert parse_expression("f(MILLISECOND)").args[0] == IntervalUnit("MILLISECONDS")
    assert parse_expression("TIMESTAMPADD(SECOND, 1, ts)").args[0] == col("SECOND")


def test_map_and_struct_constructors_and_functions_of_the_same_name():
    assert parse_expression("MAP('a' := 1)") == ast.MapConstructor(((StringLiteral("a"), IntegerLiteral(1)),))
    assert parse_expression("MAP(x)") == FunctionCall("MAP", (col("X"),))
    assert parse_expression("STRUCT(a := 1)") == ast.StructConstructor((("A", IntegerLiteral(1)),))
    assert parse_expression("ARRAY[1]") == ast.ArrayConstructor((IntegerLiteral(1),))
    assert parse_expression("map") == col("MAP")


# --------------------------------------------------------------------------------------------------- types


@pytest.mark.parametrize("sql, expected", [
    ("int", ast.PrimitiveType("INTEGER")),
    ("VARCHAR", ast.PrimitiveType("STRING")),
    ("`bigint`", ast.PrimitiveType("BIGINT")),
    ("VARCHAR(10)", ast.PrimitiveType("STRING")),
    ("DECIMAL(4, 2)", ast.DecimalType(4, 2)),
    ("ARRAY<INT>", ast.ArrayType(ast.PrimitiveType("INTEGER"))),
    ("INT ARRAY", ast.ArrayType(ast.PrimitiveType("INTEGER"))),
    ("MAP<STRING, BYTES>", ast.MapType(ast.PrimitiveType("STRING"), ast.PrimitiveType("BYTES"))),
    ("STRUCT<a INT, `B` DATE>", ast.StructType((ast.StructField("A", ast.PrimitiveType("INTEGER")),
                                                ast.StructField("B", ast.PrimitiveType("DATE"))))),
    ("STRUCT<>", ast.StructType()),
    ("address", ast.CustomType("ADDRESS")),
])
def test_types(sql, expected):
    assert parse_type(sql) == expected


def test_parse_columns_reads_a_schema_string():
    assert parse_columns("`ID` BIGINT KEY, NAME STRING") == (
        ast.TableElement("ID", ast.PrimitiveType("BIGINT"), "KEY"),
        ast.TableElement("NAME", ast.PrimitiveType("STRING")))
    assert parse_columns("") == ()


# ------------------------------------------------------------------------------------ statements and text


def test_each_statement_keeps_its_text_with_semicolon():
    script = "SHOW STREAMS;\n  CREATE STREAM s (id INT)\n  WITH (kafka_topic='s');  SELECT * FROM s"
    statements = parse(script)
    assert [s.text for s in statements] == [
        "SHOW STREAMS;", "CREATE STREAM s (id INT)\n  WITH (kafka_topic='s');", "SELECT * FROM s"]


def test_nested_query_text_is_the_select_part():
    statement = parse_statement("CREATE STREAM o AS SELECT * FROM s EMIT CHANGES;")
    assert statement.query.text == "SELECT * FROM s EMIT CHANGES"


def test_text_and_position_take_no_part_in_equality():
    assert parse_statement("select * from s;") == parse_statement("SELECT *\nFROM S")


def test_positions_point_at_the_node():
    statement = parse_statement("SHOW STREAMS;\nSELECT a,\n  b + 1 FROM s;".split(";\n")[1])
    assert statement.pos == ast.Position(1, 1)
    assert statement.items[1].expression.pos == ast.Position(2, 5)  # the operator
    assert statement.items[1].expression.left.pos == ast.Position(2, 3)


def test_empty_statements_are_skipped():
    assert parse(";; SHOW TABLES;;") == [ast.ListTables()]
    assert parse("") == [] and parse("-- only a comment") == []


def test_pull_and_push_queries():
    assert parse_statement("SELECT * FROM t WHERE k = 1;").emit is None
    assert parse_statement("SELECT * FROM s EMIT CHANGES;").emit == "CHANGES"


def test_create_as_select_and_insert_into():
    statement = parse_statement("CREATE TABLE t WITH (partitions=2) AS SELECT k, COUNT(*) FROM s GROUP BY k;")
    assert isinstance(statement, ast.CreateTableAsSelect) and statement.name == "T"
    assert statement.get_property("PARTITIONS") == IntegerLiteral(2)
    assert statement.query.group_by == (col("K"),)
    insert = parse_statement("INSERT INTO out SELECT * FROM s;")
    assert insert == ast.InsertInto("OUT", ast.Query((ast.AllColumns(),), ast.AliasedSource("S")))


def test_insert_values():
    statement = parse_statement("INSERT INTO s (ROWTIME, k) VALUES (1, 'a');")
    assert statement == ast.InsertValues("S", ("ROWTIME", "K"), (IntegerLiteral(1), StringLiteral("a")))


def test_joins_and_windows():
    query = parse_statement("SELECT * FROM a l LEFT OUTER JOIN b r WITHIN (1 SECOND, 2 MINUTES) "
                            "GRACE PERIOD 3 HOURS ON l.id = r.id;")
    join = query.source.joins[0]
    assert join.kind == "LEFT" and join.source == ast.AliasedSource("B", "R")
    assert join.within == ast.JoinWindow(ast.Duration(1, "SECONDS"), ast.Duration(2, "MINUTES"),
                                         ast.Duration(3, "HOURS"))
    assert join.within.after.millis == 120_000
    window = parse_statement("SELECT k FROM s WINDOW HOPPING (SIZE 1 DAY, ADVANCE BY 1 HOUR) GROUP BY k;").window
    assert window == ast.HoppingWindow(ast.Duration(1, "DAYS"), ast.Duration(1, "HOURS"))


def test_create_source_table_with_headers():
    statement = parse_statement("CREATE SOURCE TABLE t (id INT PRIMARY KEY, h BYTES HEADER('trace')) "
                                "WITH (kafka_topic='t', format='JSON');")
    assert statement.is_source and [e.is_key for e in statement.elements] == [True, False]
    assert statement.elements[1].header_key == "trace"


def test_explain_statement_keeps_its_text():
    explain = parse_statement("EXPLAIN SELECT * FROM s EMIT CHANGES;")
    assert explain.statement.text == "SELECT * FROM s EMIT CHANGES"


def test_iter_nodes_walks_the_whole_tree():
    statement = parse_statement("SELECT a + 1 FROM s WHERE b;")
    names = [type(n).__name__ for n in ast.iter_nodes(statement)]
    assert names == ["Query", "SingleColumn", "ArithmeticBinary", "ColumnRef", "IntegerLiteral",
                     "AliasedSource", "ColumnRef"]
