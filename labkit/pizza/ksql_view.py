"""The pizza flow seen by ksqlDB: a stream over `pizza-with-veggies` and a table of finished pizzas per order.

    CREATE STREAM pizza_with_veggies (…) WITH (kafka_topic='pizza-with-veggies', value_format='json');
    CREATE TABLE pizza_order_status AS SELECT order_id, COUNT_DISTINCT(number) AS finished … GROUP BY order_id;

`create_order_status_view()` runs both through `labkit.ksql` (reading the topic from its first record, so
orders placed before the view existed are counted too); `order_status()` is a pull query for one order,
`order_status_rows()` a push query over every change (rows as dicts, ready for `labkit.widgets.LiveQueryView`);
`drop_order_status_view()` removes both again. COUNT_DISTINCT over the pizza `number` counts a pizza that a
restarted service sent twice only once. When no ksqlDB answers, or the server cannot run the statements,
they raise `EngineRequiredError` saying so; statement errors of a working server stay `KsqlError`s.
The statements are plain ksqlDB 0.29 SQL: they run the same on labkit's engine and on a real ksqlDB.

Example:
    >>> with KsqlClient() as ksql:                                              # doctest: +SKIP
    ...     create_order_status_view(ksql)
    ...     order_status(order_id, ksql)
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from labkit.ksql import quote_literal
from labkit.pizza.errors import EngineRequiredError
from labkit.pizza.topics import PARTITIONS, WITH_VEGGIES, PizzaTopics

if TYPE_CHECKING:
    import pandas

    from labkit.ksql import KsqlClient, PushQuery

STREAM = "pizza_with_veggies"
TABLE = "pizza_order_status"
PUSH_QUERY = f"SELECT order_id, finished FROM {TABLE} EMIT CHANGES;"
FROM_BEGINNING = {"auto.offset.reset": "earliest"}
SERVER_ERROR = 50000


def statements(topics: PizzaTopics | None = None) -> list[str]:
    """CREATE STREAM over the finished pizzas and CREATE TABLE counting distinct finished pizzas per order."""
    topic = (topics or PizzaTopics()).name(WITH_VEGGIES)
    return [
        f"CREATE STREAM IF NOT EXISTS {STREAM} (order_key VARCHAR KEY, order_id VARCHAR, number INT, "
        f"sauce VARCHAR, cheese VARCHAR, meats VARCHAR, veggies VARCHAR) "
        f"WITH (kafka_topic={quote_literal(topic)}, value_format='json', partitions={PARTITIONS});",
        f"CREATE TABLE IF NOT EXISTS {TABLE} AS SELECT order_id, COUNT_DISTINCT(number) AS finished "
        f"FROM {STREAM} GROUP BY order_id EMIT CHANGES;",
    ]


def drop_statements() -> list[str]:
    """DROP the table (with its topic; this also terminates the query that fills it), then the stream.

    The stream's topic is the pipeline's `pizza-with-veggies`: it stays (the pipeline owns it).
    """
    return [f"DROP TABLE IF EXISTS {TABLE} DELETE TOPIC;", f"DROP STREAM IF EXISTS {STREAM};"]


def pull_query(order_id: str) -> str:
    """The pull query for one order's finished count (the id quoted as a SQL literal)."""
    from labkit.ksql import quote_literal

    return f"SELECT order_id, finished FROM {TABLE} WHERE order_id = {quote_literal(order_id)};"


@contextmanager
def _engine(client: "KsqlClient | None", what: str) -> Iterator["KsqlClient"]:
    """A client (the given one, or one for the configured URL); engine trouble becomes EngineRequiredError."""
    from labkit.ksql import KsqlClient, KsqlConnectionError, KsqlResponseError

    own = client is None
    active = client if client is not None else KsqlClient()
    try:
        yield active
    except KsqlConnectionError as error:
        raise EngineRequiredError(f"{what} needs the ksqlDB engine, and none answers at {active.url} "
                                  f"(`labkit up` starts it): {error}") from error
    except KsqlResponseError as error:
        if error.error_code != SERVER_ERROR:
            raise
        raise EngineRequiredError(f"{what} needs the ksqlDB engine, and the one at {active.url} cannot run it "
                                  f"yet: {error.message}") from error
    finally:
        if own:
            active.close()


def create_order_status_view(client: "KsqlClient | None" = None, *, topics: PizzaTopics | None = None,
                             fresh: bool = False, from_beginning: bool = True) -> list[Any]:
    """Create the stream and the order-status table (idempotent); returns the server's answers.

    `fresh=True` first drops a view left by an earlier run (whose counts would belong to deleted topics);
    `from_beginning` counts the pizzas already in the topic (ksqlDB starts a query at the end otherwise).
    """
    properties = FROM_BEGINNING if from_beginning else None
    with _engine(client, "The ksqlDB view of the pizza orders") as ksql:
        if fresh:
            for statement in drop_statements():
                ksql.execute(statement)
        return [ksql.execute(statement, properties=properties) for statement in statements(topics)]


def drop_order_status_view(client: "KsqlClient | None" = None) -> list[Any]:
    """Drop the order-status table (and its topic) and the stream; nothing happens for what does not exist."""
    with _engine(client, "Dropping the ksqlDB view of the pizza orders") as ksql:
        return [ksql.execute(statement) for statement in drop_statements()]


def order_status(order_id: str, client: "KsqlClient | None" = None) -> "pandas.DataFrame":
    """Pull query: one order's row of the order-status table (ORDER_ID, FINISHED)."""
    with _engine(client, "Querying the order-status table") as ksql:
        return ksql.pull(pull_query(order_id))


def order_status_rows(client: "KsqlClient | None" = None, *, limit: int | None = None,
                      timeout: float | None = None, from_beginning: bool = True) -> "PushQuery":
    """Push query: every change of the order-status table, as dicts; close() it (or use `with`) to end it.

    `from_beginning` replays the table's changes so far first (every order), then streams new ones. Without
    a client the query gets one of its own (for the configured URL), closed with the query.
    """
    from labkit.ksql import KsqlClient

    properties = FROM_BEGINNING if from_beginning else None
    own = client is None
    active = client if client is not None else KsqlClient()
    try:
        with _engine(active, "Watching the order-status table") as ksql:
            rows = ksql.push(PUSH_QUERY, properties=properties, limit=limit, timeout=timeout)
    except BaseException:
        if own:
            active.close()
        raise
    rows.owns_client = own
    return rows
