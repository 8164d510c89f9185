"""labkit.sql errors: ksqlDB's wording, the right line and column, and the offending text underlined."""
import pytest

from labkit.errors import LabkitError, SqlSyntaxError
from labkit.sql import parse, parse_expression, parse_statement
from labkit.sql.errors import SqlParseError


def error_of(sql, parser=parse):
    with pytest.raises(SqlSyntaxError) as info:
        parser(sql)
    return info.value


# (sql, line, column, substring of the message)
SYNTAX_ERRORS = [
    ("SELECT * FORM s;", 1, 10, "Expecting {',', 'FROM'}"),
    ("SELEC * FROM s;", 1, 1, "Unknown statement 'SELEC'\nDid you mean 'SELECT'?"),
    ("DROPP STREAM s;", 1, 1, "Did you mean 'DROP'?"),
    ("SELECT * FROM S1 ORDER BY MYKEY DESC;", 1, 24, "Syntax Error\n"),
    ("SELECT * FROM s LIMIT heh;", 1, 23, "Syntax Error"),
    ("CREATE STREAM INPUT (K STRING (KEY)) WITH (kafka_topic='input');", 1, 32,
     "Syntax Error\nExpecting {'STRING', INTEGER_VALUE}"),
    ("CREATE STREAM INPUT (K VARCHAR(STRING) (KEY)) WITH (kafka_topic='input');", 1, 40,
     "Syntax Error\nExpecting {',', ')'}"),
    ("CREATE TABLE O AS SELECT f1, COUNT(*) FROM T GROUP BY f3, (f2, f1);", 1, 62,
     "Syntax Error\nmissing ')' at ','"),
    ("CREATE STREAM O AS SELECT ID, cast(f0 as NULL) FROM TEST;", 1, 42,
     "Syntax error at or near 'NULL' at line 1:42"),
    ("ASSERT VALUES foo (id INT) VALUES (123);", 1, 8, "Syntax error at or near 'VALUES' at line 1:8"),
    ("CREATE STREAM I (ID INT KEY, COL0 NULL) WITH (kafka_topic='t');", 1, 35, "Syntax Error"),
    ("CREATE STREAM I (COL0 ARRAY<NULL>) WITH (kafka_topic='t');", 1, 29, "Syntax Error"),
    ("SELECT * FROM INPUT WHERE ID IN ( );", 1, 35, "Syntax Error"),
    ("SELECT * FROM INPUT PARTITION BY NAME AND AGE;", 1, 39, "Syntax Error"),
    ("SELECT COUNT(*) FROM TEST GROUP BY DATA AND ID;", 1, 41, "Syntax Error"),
    ("SELECT * FROM EXPLODE(MY_ARR);", 1, 22, "Syntax Error"),
    ("SELECT size FROM s;", 1, 8, '"size" is a reserved keyword and it can\'t be used as an identifier'),
    ("CREATE STREAM select (a INT);", 1, 15, '"select" is a reserved keyword'),
    ("SELECT a FROM s WHERE (a = 1", 1, 29, "'}', ']', or ')' is missing"),
    ("SELECT a FROM s WHERE (a = 1;", 1, 29, "missing ')' at ';'"),
    ("SELECT a FROM s WHERE a EMIT;", 1, 29, "Expecting {'CHANGES', 'FINAL'}"),
    ("SELECT a FROM s LIMIT 1 x;", 1, 25, "Expecting ';'"),
    ("SELECT a FROM s WINDOW TUMBLING (SIZE 1 WEEK) GROUP BY a;", 1, 41, "Syntax Error"),
    ("SELECT a FROM s WINDOW SLIDING (SIZE 1 SECOND);", 1, 24, "Expecting {'TUMBLING', 'HOPPING', 'SESSION'}"),
    ("SELECT a FROM x JOIN y;", 1, 23, "Expecting {'ON', 'WITHIN'}"),
    ("SELECT CASE a END FROM s;", 1, 15, "Expecting 'WHEN'"),
    ("SELECT a IS 1 FROM s;", 1, 13, "Expecting {'NOT', 'NULL', 'DISTINCT'}"),
    ("SELECT f(x => x) FROM s;", 1, 12, "Expecting {',', ')'}"),
    ("SHOW STREAM;", 1, 6, "Syntax error at or near 'STREAM'"),
    ("DROP s;", 1, 6, "Syntax error at or near 's'"),
    ("SET 'a' 'b';", 1, 9, "Expecting '='"),
    ("SELECT * FROM s\n  WHERE a = = 1;", 2, 13, "Syntax error at or near '='"),
    ("SHOW STREAMS; SHOW TABLES foo;", 1, 27, "Syntax Error"),
]


@pytest.mark.parametrize("sql, line, column, needle", SYNTAX_ERRORS)
def test_syntax_errors_have_ksqldb_wording_and_position(sql, line, column, needle):
    error = error_of(sql)
    assert needle in error.message
    assert (error.line, error.column) == (line, column), error.message


def test_excerpt_underlines_the_offending_token():
    error = error_of("SELECT *\nFORM s;")
    assert error.excerpt == "FORM s;\n^^^^"
    assert str(error).startswith("line 2:1: Syntax Error\n")
    assert str(error).endswith("FORM s;\n^^^^")


def test_excerpt_at_end_of_text_points_after_the_last_character():
    error = error_of("SELECT a FROM")
    assert error.excerpt == "SELECT a FROM\n             ^"


def test_errors_are_labkit_errors_with_a_ksqldb_message():
    error = error_of("SELECT * FROM S1 ORDER BY MYKEY DESC;")
    assert isinstance(error, SqlParseError) and isinstance(error, LabkitError)
    assert error.ksql_message == "line 1:24: Syntax Error\n"


# Errors ksqlDB raises while building its tree: (sql, message, ksqlDB's full message)
PREPARE_ERRORS = [
    ("SELECT 9223372036854775808 FROM s;", "Invalid numeric literal: 9223372036854775808",
     "Failed to prepare statement: line 1:9: Invalid numeric literal: 9223372036854775808"),
    ("SELECT -9223372036854775809 FROM s;", "Invalid numeric literal: -9223372036854775809", None),
    ("SELECT 1.7976931348623159E308 FROM s;", "Number overflows DOUBLE: 1.7976931348623159E308",
     "Failed to prepare statement: line 1:9: Number overflows DOUBLE: 1.7976931348623159E308"),
    ("SELECT * FROM s LIMIT 2.5;", "Value must be integer for command: LIMIT",
     "Failed to prepare statement: Value must be integer for command: LIMIT"),
    ("CREATE STREAM o AS SELECT * FROM s LIMIT 1;",
     "CREATE STREAM AS SELECT statements don't support LIMIT clause.", None),
    ("CREATE TABLE o AS SELECT a, COUNT(*) FROM s GROUP BY a LIMIT 1;",
     "CREATE TABLE AS SELECT statements don't support LIMIT clause.", None),
    ("CREATE TABLE INPUT (ID INT KEY, NAME STRING) WITH (kafka_topic='input');",
     "Line: 1, Col: 21: Column `ID` is a 'KEY' column: please use 'PRIMARY KEY' for tables.",
     "Line: 1, Col: 21: Column `ID` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\n"
     "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
     "Streams have KEYs, which have no uniqueness or NON NULL constraints."),
    ("CREATE STREAM INPUT (ID INT PRIMARY KEY) WITH (kafka_topic='input');",
     "Column `ID` is a 'PRIMARY KEY' column: please use 'KEY' for streams.", None),
    ("CREATE STREAM s (h STRING HEADER('k')) WITH (kafka_topic='s');",
     "Invalid type for HEADER('k') column: expected BYTES, got STRING", None),
    ("CREATE STREAM s (h ARRAY<STRING> HEADERS) WITH (kafka_topic='s');",
     "Invalid type for HEADERS column: expected ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, got ARRAY<STRING>",
     None),
    ("CREATE STREAM `a.b` (id INT) WITH (kafka_topic='s');",
     "Illegal argument at Line: 1, Col: 15. Source names may only contain alphanumeric values, '_' or '-'.",
     None),
    ("SELECT unknown.id FROM s;", "'UNKNOWN' is not a valid stream/table name or alias.",
     "Failed to prepare statement: 'UNKNOWN' is not a valid stream/table name or alias."),
    ("SELECT x.* FROM s AS y;", "'X' is not a valid stream/table name or alias.", None),
    ("INSERT INTO TEST (K, ID) VALUES ('10');", "Expected number columns and values to match: 2, 1",
     "Failed to prepare statement: Expected number columns and values to match: 2, 1"),
    ("INSERT INTO TEST VALUES ();", "Expected some values for INSERT INTO statement.", None),
    ("INSERT INTO TEST (K, ID) VALUES (FOO.bar, '10');", "'FOO' is not a valid stream/table name or alias.",
     None),
    ("SELECT * FROM s PARTITION BY ();", "PARTITION BY requires at least one expression", None),
    ("SELECT a FROM s GROUP BY ();", "GROUP BY requires at least one expression", None),
    ("SELECT a FROM s GROUP BY a, b, a;", "Duplicate GROUP BY expression: A", None),
    ("SELECT * FROM s WHERE a LIKE 'x' ESCAPE 'ab';", "Expected single character escape but got: ab", None),
    ("ASSERT SCHEMA TIMEOUT 1 SECOND;", "ASSERT SCHEMA statements much include a subject name or an id", None),
    ("ASSERT SCHEMA ID 'x';", "ID must be an integer", None),
    ("CREATE STREAM s WITH (kafka_topic='a', KAFKA_TOPIC='b');",
     "Multiple entries with same key: KAFKA_TOPIC='a' and KAFKA_TOPIC='b'", None),
    ("SELECT foo 'x' FROM s;", "Unknown type: FOO", None),
]


@pytest.mark.parametrize("sql, message, ksql_message", PREPARE_ERRORS)
def test_tree_building_errors_use_ksqldb_messages(sql, message, ksql_message):
    error = error_of(sql)
    assert message in error.message
    if ksql_message is not None:
        assert error.ksql_message == ksql_message


def test_lines_count_across_a_script():
    error = error_of("SHOW STREAMS;\nCREATE STREAM OUTPUT AS SELECT ID, cast(f0 as NULL) FROM TEST;")
    assert error.line == 2 and "Syntax error at or near 'NULL' at line 2:47" in error.message


def test_missing_final_semicolon_is_accepted_unless_required():
    assert len(parse("SHOW STREAMS")) == 1
    error = error_of("SHOW STREAMS", lambda sql: parse(sql, require_semicolon=True))
    assert "Expecting ';'" in error.message and (error.line, error.column) == (1, 13)


def test_parse_statement_wants_exactly_one_statement():
    error = error_of("SHOW STREAMS; SHOW TABLES;", parse_statement)
    assert "Expected exactly one statement, found 2" in error.message and error.column == 15
    assert "found 0" in error_of("  ", parse_statement).message


def test_parse_expression_rejects_trailing_text():
    error = error_of("a + b c", parse_expression)
    assert (error.line, error.column) == (1, 7)
