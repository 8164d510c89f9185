"""Syntax tree nodes of queries and statements (SELECT clauses, CREATE, INSERT, SHOW, ...).

`Statement.text` keeps the statement as written; like `pos` it takes no part in equality. Import
nodes through `labkit.sql.ast`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labkit.sql.nodes import Expression, Literal, Node, TypeSpec

__all__ = [
    "SelectItem", "AllColumns", "StructAll", "SingleColumn", "Relation", "AliasedSource", "Duration",
    "JoinWindow", "JoinedSource", "Join", "WindowSpec", "TumblingWindow", "HoppingWindow", "SessionWindow",
    "Statement", "Query", "Property", "TableElement", "CreateSource", "CreateStream", "CreateTable",
    "CreateAsSelect", "CreateStreamAsSelect", "CreateTableAsSelect", "InsertInto", "InsertValues",
    "CreateConnector", "DropSource", "DropStream", "DropTable", "DropConnector", "DropType", "CreateType",
    "AlterOption", "AlterSource", "ListStreams", "ListTables", "ListTopics", "ListQueries", "ListProperties",
    "ListFunctions", "ListTypes", "ListVariables", "ListConnectors", "ListConnectorPlugins", "DescribeSource",
    "DescribeStreams", "DescribeTables", "DescribeFunction", "DescribeConnector", "PrintTopic",
    "TerminateQuery", "PauseQuery", "ResumeQuery", "SetProperty", "AlterSystemProperty", "UnsetProperty",
    "DefineVariable", "UndefineVariable", "Explain", "AssertTopic", "AssertSchema",
]


# ---------------------------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class SelectItem(Node):
    """Base of the items of a SELECT list."""


@dataclass(frozen=True)
class AllColumns(SelectItem):
    """`*`, or `source.*` for one source of a join."""

    source: str | None = None


@dataclass(frozen=True)
class StructAll(SelectItem):
    """`base->*`: every field of a STRUCT as its own column."""

    base: Expression


@dataclass(frozen=True)
class SingleColumn(SelectItem):
    """expression [AS alias]."""

    expression: Expression
    alias: str | None = None


@dataclass(frozen=True)
class Relation(Node):
    """Base of what follows FROM."""


@dataclass(frozen=True)
class AliasedSource(Relation):
    """A stream or table name with an optional alias; `alias_or_name` is how columns qualify it."""

    name: str
    alias: str | None = None

    @property
    def alias_or_name(self) -> str:
        """The alias if one was given, else the source name."""
        return self.alias or self.name


@dataclass(frozen=True)
class Duration(Node):
    """A count of time units, e.g. 10 SECONDS; `unit` is one of MILLISECONDS SECONDS MINUTES HOURS DAYS."""

    value: int
    unit: str

    UNIT_MILLIS = {"MILLISECONDS": 1, "SECONDS": 1000, "MINUTES": 60_000, "HOURS": 3_600_000,
                   "DAYS": 86_400_000}

    @property
    def millis(self) -> int:
        """The duration in milliseconds."""
        return self.value * self.UNIT_MILLIS[self.unit]


@dataclass(frozen=True)
class JoinWindow(Node):
    """WITHIN n UNIT, or WITHIN (before, after), with an optional GRACE PERIOD."""

    before: Duration
    after: Duration
    grace: Duration | None = None


@dataclass(frozen=True)
class JoinedSource(Node):
    """One `[kind] JOIN source [WITHIN ...] ON condition`; kind is INNER, LEFT, RIGHT or FULL."""

    kind: str
    source: AliasedSource
    on: Expression
    within: JoinWindow | None = None


@dataclass(frozen=True)
class Join(Relation):
    """A source joined with one or more others, left to right."""

    left: AliasedSource
    joins: tuple[JoinedSource, ...]


@dataclass(frozen=True)
class WindowSpec(Node):
    """Base of WINDOW clauses."""


@dataclass(frozen=True)
class TumblingWindow(WindowSpec):
    """TUMBLING (SIZE n UNIT [, RETENTION n UNIT] [, GRACE PERIOD n UNIT])."""

    size: Duration
    retention: Duration | None = None
    grace: Duration | None = None


@dataclass(frozen=True)
class HoppingWindow(WindowSpec):
    """HOPPING (SIZE n UNIT, ADVANCE BY n UNIT [, RETENTION n UNIT] [, GRACE PERIOD n UNIT])."""

    size: Duration
    advance: Duration
    retention: Duration | None = None
    grace: Duration | None = None


@dataclass(frozen=True)
class SessionWindow(WindowSpec):
    """SESSION (n UNIT [, RETENTION n UNIT] [, GRACE PERIOD n UNIT]); `gap` is the inactivity gap."""

    gap: Duration
    retention: Duration | None = None
    grace: Duration | None = None


# ------------------------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Statement(Node):
    """Base of statements; `text` is the statement as written (with its `;`), for `statementText`."""

    text: str = field(default="", compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Query(Statement):
    """SELECT ... FROM ...; a push query when `emit` is set, else a pull query (when top level).

    `group_by` and `partition_by` are None when the clause is absent; `emit` is CHANGES, FINAL or None.
    """

    items: tuple[SelectItem, ...]
    source: Relation
    window: WindowSpec | None = None
    where: Expression | None = None
    group_by: tuple[Expression, ...] | None = None
    partition_by: tuple[Expression, ...] | None = None
    having: Expression | None = None
    emit: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Property(Node):
    """One `name = literal` of a WITH clause; unquoted names are upper-cased, 'quoted' ones kept."""

    name: str
    value: Literal


class _WithProperties:
    """Case-insensitive look-up in a statement's WITH properties."""

    properties: tuple[Property, ...]

    def get_property(self, name: str) -> Literal | None:
        """The value of property `name` (any case), or None."""
        wanted = name.upper()
        for prop in self.properties:
            if prop.name.upper() == wanted:
                return prop.value
        return None


@dataclass(frozen=True)
class TableElement(Node):
    """A column definition: name, type and constraint (KEY, PRIMARY KEY, HEADERS, HEADER or None)."""

    name: str
    type: TypeSpec
    constraint: str | None = None
    header_key: str | None = None  # for HEADER('key')

    @property
    def is_key(self) -> bool:
        """True for KEY and PRIMARY KEY columns."""
        return self.constraint in ("KEY", "PRIMARY KEY")


@dataclass(frozen=True)
class CreateSource(Statement, _WithProperties):
    """Base of CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name (columns) WITH (...)."""

    name: str
    elements: tuple[TableElement, ...] = ()
    properties: tuple[Property, ...] = ()
    or_replace: bool = False
    if_not_exists: bool = False
    is_source: bool = False


@dataclass(frozen=True)
class CreateStream(CreateSource):
    """CREATE STREAM with columns."""


@dataclass(frozen=True)
class CreateTable(CreateSource):
    """CREATE TABLE with columns."""


@dataclass(frozen=True)
class CreateAsSelect(Statement, _WithProperties):
    """Base of CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS SELECT."""

    name: str
    query: Query
    properties: tuple[Property, ...] = ()
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True)
class CreateStreamAsSelect(CreateAsSelect):
    """CREATE STREAM ... AS SELECT."""


@dataclass(frozen=True)
class CreateTableAsSelect(CreateAsSelect):
    """CREATE TABLE ... AS SELECT."""


@dataclass(frozen=True)
class InsertInto(Statement, _WithProperties):
    """INSERT INTO target [WITH (...)] SELECT ..."""

    target: str
    query: Query
    properties: tuple[Property, ...] = ()


@dataclass(frozen=True)
class InsertValues(Statement):
    """INSERT INTO target [(columns)] VALUES (values); columns empty means all, in schema order."""

    target: str
    columns: tuple[str, ...]
    values: tuple[Expression, ...]


@dataclass(frozen=True)
class CreateConnector(Statement, _WithProperties):
    """CREATE SOURCE|SINK CONNECTOR [IF NOT EXISTS] name WITH (...); kind is SOURCE or SINK."""

    name: str
    kind: str
    properties: tuple[Property, ...] = ()
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropSource(Statement):
    """Base of DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]."""

    name: str
    if_exists: bool = False
    delete_topic: bool = False


@dataclass(frozen=True)
class DropStream(DropSource):
    """DROP STREAM."""


@dataclass(frozen=True)
class DropTable(DropSource):
    """DROP TABLE."""


@dataclass(frozen=True)
class DropConnector(Statement):
    """DROP CONNECTOR [IF EXISTS] name."""

    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class DropType(Statement):
    """DROP TYPE [IF EXISTS] name."""

    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class CreateType(Statement):
    """CREATE TYPE [IF NOT EXISTS] name AS type."""

    name: str
    type: TypeSpec
    if_not_exists: bool = False


@dataclass(frozen=True)
class AlterOption(Node):
    """ADD [COLUMN] name type, inside ALTER STREAM|TABLE."""

    name: str
    type: TypeSpec


@dataclass(frozen=True)
class AlterSource(Statement):
    """ALTER STREAM|TABLE name ADD COLUMN ..., ...; kind is STREAM or TABLE."""

    kind: str
    name: str
    options: tuple[AlterOption, ...]


@dataclass(frozen=True)
class ListStreams(Statement):
    """SHOW|LIST STREAMS [EXTENDED]."""

    extended: bool = False


@dataclass(frozen=True)
class ListTables(Statement):
    """SHOW|LIST TABLES [EXTENDED]."""

    extended: bool = False


@dataclass(frozen=True)
class ListTopics(Statement):
    """SHOW|LIST [ALL] TOPICS [EXTENDED]."""

    show_all: bool = False  # ALL: include internal topics too
    extended: bool = False


@dataclass(frozen=True)
class ListQueries(Statement):
    """SHOW|LIST QUERIES [EXTENDED]."""

    extended: bool = False


@dataclass(frozen=True)
class ListProperties(Statement):
    """SHOW|LIST PROPERTIES."""


@dataclass(frozen=True)
class ListFunctions(Statement):
    """SHOW|LIST FUNCTIONS."""


@dataclass(frozen=True)
class ListTypes(Statement):
    """SHOW|LIST TYPES."""


@dataclass(frozen=True)
class ListVariables(Statement):
    """SHOW|LIST VARIABLES."""


@dataclass(frozen=True)
class ListConnectors(Statement):
    """SHOW|LIST [SOURCE|SINK] CONNECTORS; scope is ALL, SOURCE or SINK."""

    scope: str = "ALL"


@dataclass(frozen=True)
class ListConnectorPlugins(Statement):
    """SHOW|LIST CONNECTOR PLUGINS."""


@dataclass(frozen=True)
class DescribeSource(Statement):
    """DESCRIBE name [EXTENDED]."""

    name: str
    extended: bool = False


@dataclass(frozen=True)
class DescribeStreams(Statement):
    """DESCRIBE STREAMS [EXTENDED]."""

    extended: bool = False


@dataclass(frozen=True)
class DescribeTables(Statement):
    """DESCRIBE TABLES [EXTENDED]."""

    extended: bool = False


@dataclass(frozen=True)
class DescribeFunction(Statement):
    """DESCRIBE FUNCTION name."""

    name: str


@dataclass(frozen=True)
class DescribeConnector(Statement):
    """DESCRIBE CONNECTOR name."""

    name: str


@dataclass(frozen=True)
class PrintTopic(Statement):
    """PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]; topic case is kept even unquoted."""

    topic: str
    from_beginning: bool = False
    interval: int | None = None
    limit: int | None = None


@dataclass(frozen=True)
class TerminateQuery(Statement):
    """TERMINATE query_id, or TERMINATE ALL when query_id is None (ids compare case-insensitively)."""

    query_id: str | None = None


@dataclass(frozen=True)
class PauseQuery(Statement):
    """PAUSE query_id, or PAUSE ALL when query_id is None."""

    query_id: str | None = None


@dataclass(frozen=True)
class ResumeQuery(Statement):
    """RESUME query_id, or RESUME ALL when query_id is None."""

    query_id: str | None = None


@dataclass(frozen=True)
class SetProperty(Statement):
    """SET 'name' = 'value'."""

    name: str
    value: str


@dataclass(frozen=True)
class AlterSystemProperty(Statement):
    """ALTER SYSTEM 'name' = 'value'."""

    name: str
    value: str


@dataclass(frozen=True)
class UnsetProperty(Statement):
    """UNSET 'name'."""

    name: str


@dataclass(frozen=True)
class DefineVariable(Statement):
    """DEFINE name = 'value'; the name keeps its case."""

    name: str
    value: str


@dataclass(frozen=True)
class UndefineVariable(Statement):
    """UNDEFINE name."""

    name: str


@dataclass(frozen=True)
class Explain(Statement):
    """EXPLAIN statement, or EXPLAIN query_id: exactly one of the two is set."""

    statement: Statement | None = None
    query_id: str | None = None


@dataclass(frozen=True)
class AssertTopic(Statement, _WithProperties):
    """ASSERT [NOT EXISTS] TOPIC name [WITH (...)] [TIMEOUT n UNIT]; `exists` is False for NOT EXISTS."""

    topic: str
    properties: tuple[Property, ...] = ()
    timeout: Duration | None = None
    exists: bool = True


@dataclass(frozen=True)
class AssertSchema(Statement):
    """ASSERT [NOT EXISTS] SCHEMA [SUBJECT name] [ID n] [TIMEOUT n UNIT]; at least a subject or an id."""

    subject: str | None = None
    schema_id: int | None = None
    timeout: Duration | None = None
    exists: bool = True
