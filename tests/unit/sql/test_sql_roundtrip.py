"""labkit.sql round trips: parse → render → parse gives an equal tree, and rendering is stable."""
import pytest

from labkit.sql import parse, parse_expression, parse_statement, parse_type, render

STATEMENTS = """
SELECT * FROM s;
SELECT * FROM s EMIT CHANGES;
SELECT * FROM s EMIT FINAL;
SELECT * FROM s EMIT CHANGES LIMIT 10;
SELECT * FROM s LIMIT 1;
SELECT * FROM s LIMIT -1;
SELECT a FROM s;
SELECT a, b, c FROM s;
SELECT a AS x FROM s;
SELECT a x FROM s;
SELECT a AS `lower` FROM s;
SELECT a AS "Quoted" FROM s;
SELECT a AS key FROM s;
SELECT a AS id, b AS name, c AS job FROM user;
SELECT id, name, job FROM user WHERE id = 1;
SELECT `mixedCase`, `with space`, `back``tick` FROM s;
SELECT s.* FROM s;
SELECT t.*, u.a FROM s t JOIN s2 u ON t.id = u.id;
SELECT s.a FROM s;
SELECT x.a FROM s AS x;
SELECT x.a FROM s x;
SELECT col->* FROM s;
SELECT col->f->* FROM s;
SELECT f(col)->* FROM s;
SELECT a->b FROM s;
SELECT a->b->c AS deep FROM s;
SELECT a[1] FROM s;
SELECT a[-1] FROM s;
SELECT a['key'] FROM s;
SELECT a[1][2] FROM s;
SELECT a[1]->b FROM s;
SELECT a->b[1] FROM s;
SELECT (a + b)[1] FROM s;
SELECT COUNT(*) FROM s GROUP BY a;
SELECT COUNT(*) AS cnt FROM s GROUP BY a EMIT CHANGES;
SELECT a, COUNT(*) FROM s GROUP BY a HAVING COUNT(*) > 1 EMIT CHANGES;
SELECT a, b, SUM(c) FROM s GROUP BY a, b;
SELECT a, b, SUM(c) FROM s GROUP BY (a, b);
SELECT a FROM s GROUP BY (a);
SELECT a FROM s GROUP BY (a), b;
SELECT a FROM s GROUP BY (a) + 1;
SELECT a FROM s GROUP BY a->b, c[1];
SELECT LEN(name), COUNT(*) FROM s GROUP BY LEN(name);
SELECT * FROM s PARTITION BY a;
SELECT * FROM s PARTITION BY a, b;
SELECT * FROM s PARTITION BY (a, b);
SELECT * FROM s PARTITION BY a EMIT CHANGES;
SELECT * FROM s PARTITION BY CAST(a AS STRING);
SELECT * FROM s WHERE a > 1 PARTITION BY b;
SELECT * FROM s WHERE a = 1;
SELECT * FROM s WHERE a <> 1;
SELECT * FROM s WHERE a != 1;
SELECT * FROM s WHERE a < 1 AND b <= 2 OR c > 3 AND d >= 4;
SELECT * FROM s WHERE NOT a;
SELECT * FROM s WHERE NOT (a OR b);
SELECT * FROM s WHERE a IS NULL;
SELECT * FROM s WHERE a IS NOT NULL;
SELECT * FROM s WHERE a BETWEEN 1 AND 10;
SELECT * FROM s WHERE a NOT BETWEEN 1 AND 10;
SELECT * FROM s WHERE a IN (1, 2, 3);
SELECT * FROM s WHERE a NOT IN ('x', 'y');
SELECT * FROM s WHERE a LIKE 'x%';
SELECT * FROM s WHERE a NOT LIKE '%x';
SELECT * FROM s WHERE a LIKE 'x!%' ESCAPE '!';
SELECT * FROM s WHERE a IS DISTINCT FROM b;
SELECT * FROM s WHERE a IS NOT DISTINCT FROM b;
SELECT * FROM s WHERE ROWTIME > 1000;
SELECT ROWTIME, ROWPARTITION, ROWOFFSET, * FROM s EMIT CHANGES;
SELECT WINDOWSTART, WINDOWEND, k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY k EMIT CHANGES;
SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 2 DAYS) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 10 MINUTES) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 1 DAY, GRACE PERIOD 0 SECONDS) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 5 SECONDS, RETENTION 7 DAYS) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 5 SECONDS, GRACE PERIOD 1 HOUR) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW SESSION (30 SECONDS) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW SESSION (5 MINUTES, RETENTION 1 DAY, GRACE PERIOD 1 MINUTE) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 500 MILLISECONDS) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 MILLISECOND) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW w TUMBLING (SIZE 1 DAYS) GROUP BY k;
SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOURS) GROUP BY k EMIT FINAL;
SELECT * FROM a JOIN b ON a.id = b.id;
SELECT * FROM a INNER JOIN b ON a.id = b.id;
SELECT * FROM a LEFT JOIN b ON a.id = b.id;
SELECT * FROM a LEFT OUTER JOIN b ON a.id = b.id;
SELECT * FROM a RIGHT JOIN b ON a.id = b.id;
SELECT * FROM a RIGHT OUTER JOIN b ON a.id = b.id;
SELECT * FROM a FULL JOIN b ON a.id = b.id;
SELECT * FROM a FULL OUTER JOIN b ON a.id = b.id;
SELECT * FROM a JOIN b WITHIN 10 SECONDS ON a.id = b.id;
SELECT * FROM a JOIN b WITHIN 1 HOUR GRACE PERIOD 10 MINUTES ON a.id = b.id;
SELECT * FROM a JOIN b WITHIN (1 SECOND, 2 HOURS) ON a.id = b.id;
SELECT * FROM a JOIN b WITHIN (1 SECOND, 2 HOURS) GRACE PERIOD 5 SECONDS ON a.id = b.id;
SELECT * FROM a AS l LEFT JOIN b AS r WITHIN 1 MINUTE ON l.id = r.id;
SELECT * FROM a l JOIN b r ON l.id = r.id JOIN c ON c.id = l.id;
SELECT * FROM a JOIN b ON a.id = b.id LEFT JOIN c ON a.id = c.id FULL OUTER JOIN d ON d.id = a.id;
SELECT l.id, r.name FROM a l JOIN b r ON l.id = r.id AND l.x > r.y EMIT CHANGES;
SELECT * FROM a JOIN b ON a.id = b.id WHERE a.x > 1 EMIT CHANGES;
SELECT * FROM a JOIN b ON EXTRACTJSONFIELD(a.j, '$.id') = b.id;
SELECT CASE WHEN a > 1 THEN 'big' ELSE 'small' END AS size_name FROM s;
SELECT CASE WHEN a = 1 THEN 'one' WHEN a = 2 THEN 'two' END FROM s;
SELECT CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END FROM s;
SELECT CASE a + 1 WHEN 2 THEN TRUE ELSE FALSE END FROM s;
SELECT CAST(a AS STRING) FROM s;
SELECT CAST(a AS INT), CAST(a AS INTEGER), CAST(a AS BIGINT), CAST(a AS DOUBLE) FROM s;
SELECT CAST(a AS DECIMAL(10, 2)), CAST(a AS VARCHAR), CAST(a AS BOOLEAN), CAST(a AS BYTES) FROM s;
SELECT CAST(a AS DATE), CAST(a AS TIME), CAST(a AS TIMESTAMP) FROM s;
SELECT CAST(a AS ARRAY<INT>), CAST(a AS MAP<STRING, DOUBLE>) FROM s;
SELECT CAST(a AS STRUCT<x INT, y ARRAY<STRING>>) FROM s;
SELECT ARRAY[1, 2, 3] FROM s;
SELECT ARRAY[] FROM s;
SELECT ARRAY['a', b, c->d] FROM s;
SELECT MAP('a' := 1, 'b' := 2) FROM s;
SELECT MAP() FROM s;
SELECT MAP(k := v) FROM s;
SELECT STRUCT(a := 1, b := 'x') FROM s;
SELECT STRUCT() FROM s;
SELECT STRUCT(`lower` := 1) FROM s;
SELECT TRANSFORM(arr, x => x + 1) FROM s;
SELECT TRANSFORM(m, (k, v) => UCASE(k), (k, v) => v * 2) FROM s;
SELECT REDUCE(arr, 0, (acc, x) => acc + x) FROM s;
SELECT FILTER(arr, x => x > 1 AND x < 10) FROM s;
SELECT FILTER(arr, x => x IS NOT NULL) FROM s;
SELECT TRANSFORM(arr, x => TRANSFORM(x, y => y + x)) FROM s;
SELECT TIMESTAMPADD(MILLISECONDS, 5, ts) FROM s;
SELECT DATEADD(DAYS, 1, d), DATESUB(HOURS, 2, d), TIMEADD(MINUTES, 3, t), TIMESUB(SECONDS, 4, t) FROM s;
SELECT TIMESTAMPADD(MILLISECOND, 1, ts) FROM s;
SELECT a || b FROM s;
SELECT a || 'x' || b FROM s;
SELECT 1 + 2 * 3, (1 + 2) * 3, 10 / 3, 10 % 3, -a FROM s;
SELECT 1 - 2 - 3, 1 - (2 - 3) FROM s;
SELECT a * (b + c) / d FROM s;
SELECT -5, -5.5, -5E1, +5 FROM s;
SELECT - -a FROM s;
SELECT NULL, TRUE, FALSE FROM s;
SELECT 'it''s', '' FROM s;
SELECT 1.50, 0.5, .5, 1., 100 FROM s;
SELECT 1E3, 1.5E-3, 2e+10 FROM s;
SELECT 2147483647, 2147483648, 9223372036854775807, -9223372036854775808 FROM s;
SELECT `DECIMAL` '1.20' FROM s;
SELECT ${v} FROM s;
SELECT a FROM ${src};
SELECT UCASE(name), LCASE(name), LEN(name), SUBSTRING(name, 1, 2) FROM s;
SELECT IFNULL(a, 0), COALESCE(a, b, c) FROM s;
SELECT LATEST_BY_OFFSET(a), EARLIEST_BY_OFFSET(a, 2), COLLECT_LIST(a), TOPK(a, 3) FROM s GROUP BY k;
SELECT EXPLODE(arr) AS x FROM s EMIT CHANGES;
SELECT AS_VALUE(k) AS k2, k FROM s;
SELECT `count`(a) FROM s;
SELECT * FROM `Lower` EMIT CHANGES;
SELECT * FROM "Quoted";
SELECT * FROM `with-dash`;
SELECT * FROM s WHERE a = 'x' AND b = 2 OR NOT c;
SELECT * FROM s WHERE (a = 1 OR b = 2) AND c = 3;
SELECT * FROM s WHERE a = 1 OR b = 2 AND c = 3;
SELECT * FROM s WHERE (a = b) = c;
SELECT * FROM s WHERE a + 1 BETWEEN b - 1 AND c * 2;
SELECT * FROM s WHERE a IN (b, c + 1, f(x));
SELECT * FROM s WHERE a->b IN ('x');
SELECT * FROM s WHERE a[1] IS NULL;
SELECT * FROM s WHERE NOT a IS NULL;
SELECT * FROM s WHERE NOT NOT a;
SELECT * FROM s WHERE a LIKE b || '%';
SELECT DAY, HOUR, MINUTE, SECOND FROM s;
SELECT TIMESTAMP, DATE, TIME, KEY, ID, TYPE, SOURCE, SINK FROM s;
SELECT STRUCT, MAP, ARRAY FROM s;
SELECT `ARRAY`[1] FROM s;
SELECT `MAP`(a) FROM s;
SELECT MAP(a) FROM s;
SELECT FUNCTION, FUNCTIONS, TABLES, SHOW, SET, EMIT FROM s;
SELECT * FROM emit;
SELECT * FROM s partition;
CREATE STREAM s (id INT KEY, name STRING) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (id INT, name STRING) WITH (kafka_topic='s', format='JSON');
CREATE STREAM s WITH (kafka_topic='s', value_format='AVRO');
CREATE STREAM IF NOT EXISTS s (a INT) WITH (kafka_topic='s', value_format='JSON');
CREATE OR REPLACE STREAM s (a INT) WITH (kafka_topic='s', value_format='JSON');
CREATE SOURCE STREAM s (a INT) WITH (kafka_topic='s', value_format='JSON');
CREATE OR REPLACE SOURCE STREAM IF NOT EXISTS s (a INT) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (a INT);
CREATE STREAM s;
CREATE STREAM user (id INT KEY, name STRING, job STRING) WITH (kafka_topic='user', value_format='JSON', partitions=1);
CREATE STREAM s (k1 STRING KEY, k2 INT KEY, v DOUBLE) WITH (kafka_topic='s', format='JSON');
CREATE STREAM s (`Mixed` INT, `with space` STRING) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (a ARRAY<INT>, m MAP<STRING, ARRAY<DOUBLE>>, st STRUCT<x INT, y STRUCT<z STRING>>) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (d DECIMAL(4, 2), b BYTES, t TIMESTAMP, dt DATE, tm TIME, bo BOOLEAN, bi BIGINT, v VARCHAR) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (h ARRAY<STRUCT<key STRING, value BYTES>> HEADERS) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (h BYTES HEADER('abc')) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (a ADDRESS, b `lowerType`) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (a VARCHAR(10)) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (a INT ARRAY) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (a STRUCT<>) WITH (kafka_topic='s', value_format='JSON');
CREATE STREAM s (id INT) WITH (kafka_topic='s', value_format='DELIMITED', value_delimiter='|', timestamp='ts', timestamp_format='yyyy-MM-dd');
CREATE STREAM s (id INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=4, REPLICAS=1);
CREATE STREAM s (id INT) WITH ('kafka_topic'='s', "value_format"='JSON');
CREATE STREAM s (id INT) WITH (kafka_topic='s', wrap_single_value=false, key_schema_id=1, x=1.5, y=-2, z=NULL, w=TRUE);
CREATE TABLE t (id INT PRIMARY KEY, v STRING) WITH (kafka_topic='t', value_format='JSON');
CREATE TABLE t (k1 INT PRIMARY KEY, k2 STRING PRIMARY KEY, v STRING) WITH (kafka_topic='t', format='JSON');
CREATE OR REPLACE TABLE IF NOT EXISTS t (id INT PRIMARY KEY) WITH (kafka_topic='t', value_format='JSON');
CREATE SOURCE TABLE t (id INT PRIMARY KEY, v STRING) WITH (kafka_topic='t', value_format='JSON');
CREATE TABLE t WITH (kafka_topic='t', format='AVRO');
CREATE TABLE t (K STRING PRIMARY KEY, ID BIGINT) WITH (kafka_topic='t', value_format='JSON', window_type='Tumbling', window_size='30 seconds');
CREATE STREAM out AS SELECT * FROM s;
CREATE STREAM out AS SELECT * FROM s EMIT CHANGES;
CREATE STREAM out WITH (kafka_topic='out', value_format='JSON') AS SELECT a, b FROM s WHERE a > 1;
CREATE STREAM IF NOT EXISTS out AS SELECT * FROM s PARTITION BY a;
CREATE OR REPLACE STREAM out AS SELECT * FROM s;
CREATE STREAM out AS SELECT * FROM a JOIN b WITHIN 1 HOUR ON a.id = b.id;
CREATE TABLE agg AS SELECT k, COUNT(*) AS n FROM s GROUP BY k;
CREATE TABLE agg AS SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY k EMIT FINAL;
CREATE TABLE agg WITH (kafka_topic='agg', partitions=2) AS SELECT k, SUM(v) FROM s GROUP BY k HAVING SUM(v) > 10;
CREATE OR REPLACE TABLE IF NOT EXISTS agg AS SELECT k, MAX(v) FROM s GROUP BY k;
CREATE TABLE j AS SELECT * FROM t1 JOIN t2 ON t1.id = t2.id;
INSERT INTO out SELECT * FROM s;
INSERT INTO out SELECT a, b FROM s WHERE a > 1 EMIT CHANGES;
INSERT INTO out WITH (query_id='my_query') SELECT * FROM s;
INSERT INTO s VALUES (1, 'a');
INSERT INTO s (id, name) VALUES (1, 'a');
INSERT INTO s (ROWTIME, k, id) VALUES (1234, 'key', 10);
INSERT INTO s VALUES (NULL, TRUE, 1.5, 2E0, -3, 'x');
INSERT INTO s VALUES (1 + 2, ARRAY[1, 2], MAP('a' := 1), STRUCT(x := 1));
INSERT INTO s (`lower`, "Mixed") VALUES (1, 2);
INSERT INTO user (id, name, job) VALUES (1, 'Ann', 'engineer');
SHOW STREAMS;
SHOW STREAMS EXTENDED;
LIST STREAMS;
SHOW TABLES;
SHOW TABLES EXTENDED;
LIST TABLES EXTENDED;
SHOW TOPICS;
SHOW ALL TOPICS;
SHOW TOPICS EXTENDED;
SHOW ALL TOPICS EXTENDED;
SHOW QUERIES;
SHOW QUERIES EXTENDED;
SHOW PROPERTIES;
LIST PROPERTIES;
SHOW FUNCTIONS;
SHOW TYPES;
SHOW VARIABLES;
SHOW CONNECTORS;
SHOW SOURCE CONNECTORS;
SHOW SINK CONNECTORS;
SHOW CONNECTOR PLUGINS;
DESCRIBE s;
DESCRIBE s EXTENDED;
DESCRIBE `lower`;
DESCRIBE user;
DESCRIBE STREAMS;
DESCRIBE STREAMS EXTENDED;
DESCRIBE TABLES;
DESCRIBE TABLES EXTENDED;
DESCRIBE `TABLES`;
DESCRIBE FUNCTION UCASE;
DESCRIBE FUNCTION;
DESCRIBE CONNECTOR my_conn;
DROP STREAM s;
DROP STREAM IF EXISTS s;
DROP STREAM s DELETE TOPIC;
DROP STREAM IF EXISTS s DELETE TOPIC;
DROP TABLE t;
DROP TABLE IF EXISTS t DELETE TOPIC;
DROP TYPE address;
DROP TYPE IF EXISTS address;
DROP CONNECTOR c;
DROP CONNECTOR IF EXISTS c;
CREATE TYPE address AS STRUCT<street STRING, number INT>;
CREATE TYPE IF NOT EXISTS amount AS DECIMAL(10, 2);
CREATE TYPE tags AS ARRAY<STRING>;
CREATE SOURCE CONNECTOR c WITH ('connector.class'='io.x.Source', 'tasks.max'='1');
CREATE SINK CONNECTOR IF NOT EXISTS `Sink` WITH ('connector.class'='io.x.Sink');
TERMINATE CSAS_OUT_0;
TERMINATE ALL;
TERMINATE `transient_s_123`;
PAUSE CTAS_AGG_1;
PAUSE ALL;
RESUME CTAS_AGG_1;
RESUME ALL;
PRINT 'orders';
PRINT orders;
PRINT `Orders`;
PRINT 'orders' FROM BEGINNING;
PRINT 'orders' FROM BEGINNING INTERVAL 2 LIMIT 10;
PRINT 'orders' INTERVAL 5;
PRINT 'orders' SAMPLE 5;
PRINT 'orders' LIMIT 3;
SET 'auto.offset.reset'='earliest';
SET 'ksql.streams.auto.offset.reset' = 'latest';
UNSET 'auto.offset.reset';
ALTER SYSTEM 'ksql.x'='y';
DEFINE topic_name = 'orders';
DEFINE x = 'it''s';
UNDEFINE topic_name;
EXPLAIN CSAS_OUT_0;
EXPLAIN SELECT * FROM s EMIT CHANGES;
EXPLAIN CREATE STREAM out AS SELECT * FROM s;
EXPLAIN INSERT INTO out SELECT * FROM s;
ALTER STREAM s ADD COLUMN c INT;
ALTER TABLE t ADD COLUMN c INT, ADD d STRING;
ASSERT TOPIC 'orders';
ASSERT TOPIC orders WITH (partitions=3) TIMEOUT 10 SECONDS;
ASSERT NOT EXISTS TOPIC 'orders' TIMEOUT 1 MINUTE;
ASSERT SCHEMA SUBJECT 'orders-value';
ASSERT SCHEMA ID 12;
ASSERT NOT EXISTS SCHEMA SUBJECT 'x' ID 3 TIMEOUT 5 SECONDS;
select * from s;
Select A From S Where B = 'x';
create stream s (id int key) with (kafka_topic='s', value_format='json');
show streams;
drop stream if exists s delete topic;
""".strip().splitlines()

EXPRESSIONS = """
1
-1
1.0
-1.5
1E10
NULL
TRUE
FALSE
'text'
'it''s'
a
a.b
`a`.`b`
a->b
a[1]
a['k']
f()
f(a)
f(a, b, c)
COUNT(*)
a + b
a - b
a * b
a / b
a % b
a + b * c
(a + b) * c
a - (b - c)
a / (b * c)
-a
-(a + b)
+a
a || b
a || b || c
a = b
a <> b
a < b
a <= b
a > b
a >= b
a AND b
a OR b
NOT a
a AND b OR c
a AND (b OR c)
(a OR b) AND c
NOT a AND b
NOT (a AND b)
a IS NULL
a IS NOT NULL
a IS DISTINCT FROM b
a IS NOT DISTINCT FROM b
a BETWEEN b AND c
a NOT BETWEEN b AND c
a IN (1)
a IN (1, 2, 3)
a NOT IN (b, c)
a LIKE 'x'
a NOT LIKE 'x'
a LIKE 'x' ESCAPE '\\'
CASE WHEN a THEN b END
CASE WHEN a THEN b ELSE c END
CASE a WHEN 1 THEN 'x' WHEN 2 THEN 'y' ELSE 'z' END
CAST(a AS INT)
CAST(a AS ARRAY<STRUCT<x INT>>)
ARRAY[1, 2]
MAP('a' := 1)
STRUCT(a := 1, b := 2)
TRANSFORM(a, x => x)
TRANSFORM(a, (x, y) => x + y)
f(a, x => x, y => y)
a->b->c[1]
(a = b) = c
(a AND b) = c
a = (b AND c)
-(-a)
a - -1
a * -1
-1 * a
(-1)[1]
TIMESTAMPADD(SECONDS, 1, a)
f(MILLISECONDS)
${var}
${var} + 1
"""
EXPRESSIONS_LIST = [line for line in EXPRESSIONS.strip().splitlines()]

TYPES = """
INT
INTEGER
BIGINT
DOUBLE
BOOLEAN
STRING
VARCHAR
BYTES
DATE
TIME
TIMESTAMP
DECIMAL(10, 2)
ARRAY<INT>
ARRAY<ARRAY<STRING>>
MAP<STRING, INT>
MAP<STRING, MAP<STRING, ARRAY<DOUBLE>>>
STRUCT<a INT>
STRUCT<a INT, b STRUCT<c STRING>>
STRUCT<`lower` INT>
STRUCT<>
MY_TYPE
`my_type`
""".strip().splitlines()


@pytest.mark.parametrize("sql", STATEMENTS)
def test_statement_round_trips(sql):
    first = parse_statement(sql)
    text = render(first)
    again = parse_statement(text)
    assert again == first, text
    assert render(again) == text


@pytest.mark.parametrize("sql", EXPRESSIONS_LIST)
def test_expression_round_trips(sql):
    first = parse_expression(sql)
    text = render(first)
    assert parse_expression(text) == first, text
    assert render(parse_expression(text)) == text


@pytest.mark.parametrize("sql", TYPES)
def test_type_round_trips(sql):
    first = parse_type(sql)
    assert parse_type(render(first)) == first


def test_script_round_trips_as_a_whole():
    script = "\n".join(STATEMENTS)
    statements = parse(script)
    assert len(statements) == len(STATEMENTS)
    assert parse("\n".join(render(s) for s in statements)) == statements


CANONICAL = [
    ("select * from s", "SELECT * FROM S;"),
    ("select a as x from s s1", "SELECT A AS X FROM S AS S1;"),
    ("select `Mixed`, \"Dq\" from s", "SELECT `Mixed`, `Dq` FROM S;"),
    ("select count(*) from s group by (a, b)", "SELECT COUNT(*) FROM S GROUP BY A, B;"),
    ("select a != b from s", "SELECT A <> B FROM S;"),
    ("select a || b from s", "SELECT CONCAT(A, B) FROM S;"),
    ("select cast(a as int) from s", "SELECT CAST(A AS INTEGER) FROM S;"),
    ("select cast(a as varchar(10)) from s", "SELECT CAST(A AS STRING) FROM S;"),
    ("select 1e3, 1.50, .5 from s", "SELECT 1000.0E0, 1.50, 0.5 FROM S;"),
    ("select (a + b) * c, a + (b * c) from s", "SELECT (A + B) * C, A + B * C FROM S;"),
    ("select ((a)) from s", "SELECT A FROM S;"),
    ("select * from a join b within 1 seconds on a.x = b.x", "SELECT * FROM A INNER JOIN B WITHIN 1 SECOND ON A.X = B.X;"),
    ("select * from a full join b on a.x = b.x", "SELECT * FROM A FULL OUTER JOIN B ON A.X = B.X;"),
    ("select * from a join b within (2 seconds, 2 second) on a.x = b.x", "SELECT * FROM A INNER JOIN B WITHIN 2 SECONDS ON A.X = B.X;"),
    ("select k from s window tumbling (size 60 minute) group by k", "SELECT K FROM S WINDOW TUMBLING (SIZE 60 MINUTES) GROUP BY K;"),
    ("list streams", "SHOW STREAMS;"),
    ("print MyTopic", "PRINT 'MyTopic';"),
    ("terminate csas_x_0", "TERMINATE CSAS_X_0;"),
    ("set 'a' = 'b'", "SET 'a'='b';"),
    ("define myVar = 'v'", "DEFINE myVar='v';"),
    ("create stream s (id int key) with (kafka_topic='s')", "CREATE STREAM S (ID INTEGER KEY) WITH (KAFKA_TOPIC='s');"),
    ("create stream s (id int) with ('Case'=1, `Quoted`=2, \"DQ\"=3)", "CREATE STREAM S (ID INTEGER) WITH ('Case'=1, 'Quoted'=2, DQ=3);"),
    ("insert into s values (1)", "INSERT INTO S VALUES (1);"),
    ("select timestampadd(second, 1, t) from s", "SELECT TIMESTAMPADD(SECOND, 1, T) FROM S;"),
    ("select `select`, `from` from `where`", "SELECT `select`, `from` FROM `where`;"),
    ("select `SELECT`, `FROM` from `WHERE`", "SELECT `SELECT`, `FROM` FROM `WHERE`;"),
]


@pytest.mark.parametrize("sql, expected", CANONICAL)
def test_render_gives_canonical_text(sql, expected):
    assert render(parse_statement(sql)) == expected
