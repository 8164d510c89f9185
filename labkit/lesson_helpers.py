"""Small helpers the ksqlDB lessons share: check the engine, tidy /ksql answers into tables, clean up.

    >>> from labkit import lesson_helpers as lh
    >>> lh.env_var_for("ksql.connect.url")
    'KSQL_KSQL_CONNECT_URL'
    >>> lh.property_for("KSQL_BOOTSTRAP_SERVERS")
    'bootstrap.servers'

Everything here talks to ksqlDB through its REST API only (`labkit.ksql.KsqlClient`), so it works the same
against the embedded engine and a real ksqlDB 0.29 server.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from labkit.errors import LabkitError

if TYPE_CHECKING:
    import pandas

    from labkit.config import Settings
    from labkit.ksql import KsqlClient, KsqlResponseError

__all__ = [
    "KsqlNotReadyError",
    "require_ksqldb",
    "frame",
    "error_of",
    "pull_until",
    "wait_until",
    "drop_sources",
    "delete_topics",
    "fresh_topics",
    "query_consumer_group",
    "committed_records",
    "env_var_for",
    "property_for",
    "LogRecorder",
]

START_HINT = ("Start it with `labkit up` in a terminal (it starts the Kafka brokers and the ksqlDB engine; "
              "`labkit status` shows both), or point LABKIT_KSQL_URL at your ksqlDB server, then run this "
              "cell again.")


class KsqlNotReadyError(LabkitError):
    """No ksqlDB server answers at the configured URL, or it says it is not healthy."""


# ---------------------------------------------------------------------------------------------- health

def require_ksqldb(url: str | None = None, *, timeout: float = 5.0) -> str:
    """Check that ksqlDB answers GET /healthcheck with isHealthy; return a one-line summary.

    Raises KsqlNotReadyError saying how to start the engine when nothing answers, or which part of the
    server is unhealthy (kafka, metastore, commandRunner) when it answers but is not ready.
    """
    import requests

    from labkit import config

    base = (url or config.settings().ksql_url).rstrip("/")
    try:
        response = requests.get(base + "/healthcheck", timeout=timeout)
    except requests.RequestException:
        raise KsqlNotReadyError(f"No ksqlDB server answers at {base}. {START_HINT}") from None
    try:
        health = response.json()
    except ValueError:
        health = None
    if not isinstance(health, dict) or "isHealthy" not in health:
        raise KsqlNotReadyError(f"{base} answered /healthcheck with HTTP {response.status_code}, not ksqlDB's "
                                f"health report. Is LABKIT_KSQL_URL a ksqlDB server? {START_HINT}")
    if not health.get("isHealthy"):
        details = health.get("details") or {}
        sick = sorted(name for name, part in details.items()
                      if isinstance(part, Mapping) and not part.get("isHealthy", False))
        state = health.get("serverState", "?")
        raise KsqlNotReadyError(
            f"ksqlDB at {base} answers but is not healthy (serverState {state}"
            + (f"; unhealthy: {', '.join(sick)}" if sick else "") + "). If it is still starting, wait a few "
            "seconds and run this cell again; if Kafka is down, `labkit up` starts it.")
    return f"ksqlDB is up at {base}: healthy, serverState {health.get('serverState', '?')}."


# ---------------------------------------------------------------------------------------------- tables

def _sorted(table: "pandas.DataFrame", by: str | Sequence[str]) -> "pandas.DataFrame":
    columns = [by] if isinstance(by, str) else list(by)
    if table.empty or not all(column in table.columns for column in columns):
        return table.reset_index(drop=True)
    return table.sort_values(columns, kind="stable").reset_index(drop=True)


def _schema_type(schema: Mapping[str, Any]) -> str:
    """A field schema of DESCRIBE as SQL: INTEGER, ARRAY<STRING>, STRUCT<A INTEGER, ...>."""
    kind = schema.get("type", "?")
    if kind in ("ARRAY", "MAP") and schema.get("memberSchema"):
        inner = _schema_type(schema["memberSchema"])
        return f"ARRAY<{inner}>" if kind == "ARRAY" else f"MAP<STRING, {inner}>"
    if kind == "STRUCT" and schema.get("fields"):
        return "STRUCT<" + ", ".join(f"{f['name']} {_schema_type(f['schema'])}" for f in schema["fields"]) + ">"
    parameters = schema.get("parameters") or {}
    if kind == "DECIMAL" and parameters:
        return f"DECIMAL({parameters.get('precision')}, {parameters.get('scale')})"
    return str(kind)


def _fields(description: Mapping[str, Any]) -> "pandas.DataFrame":
    import pandas

    return pandas.DataFrame([{"column": f["name"], "type": _schema_type(f.get("schema") or {}),
                              "key": f.get("type", "")} for f in description.get("fields", [])],
                            columns=["column", "type", "key"])


def _sources_summary(descriptions: Iterable[Mapping[str, Any]]) -> "pandas.DataFrame":
    import pandas

    rows = [{"name": d.get("name"), "type": d.get("type"), "topic": d.get("topic"),
             "keyFormat": d.get("keyFormat"), "valueFormat": d.get("valueFormat"),
             "partitions": d.get("partitions"), "replication": d.get("replication"),
             "columns": ", ".join(f["name"] for f in d.get("fields", [])),
             "readQueries": len(d.get("readQueries", [])), "writeQueries": len(d.get("writeQueries", []))}
            for d in descriptions]
    return _sorted(pandas.DataFrame(rows, columns=["name", "type", "topic", "keyFormat", "valueFormat",
                                                   "partitions", "replication", "columns", "readQueries",
                                                   "writeQueries"]), "name")


def frame(answer: Any) -> Any:
    """One /ksql entity (or a list of them) as a learner reads it: a sorted DataFrame or a status line.

    SHOW STREAMS/TABLES → name, topic, formats; SHOW TOPICS → name, partitions, replicas (one per partition in
    `replicaInfo`); DESCRIBE → column, type, key; SHOW ... EXTENDED → one row per source; SHOW PROPERTIES →
    name, scope, value; SHOW QUERIES → id, type, state, sinks; CREATE/DROP/TERMINATE → the status message.
    A list of several entities gives a list of results.
    """
    import pandas

    if isinstance(answer, list):
        results = [frame(entity) for entity in answer]
        return results[0] if len(results) == 1 else results
    if not isinstance(answer, Mapping):
        raise TypeError(f"expected a /ksql entity (a dict), not {type(answer).__name__}")
    kind = answer.get("@type", "")
    if "commandStatus" in answer:
        return answer["commandStatus"].get("message", kind)
    if kind in ("streams", "tables"):
        rows = [{k: v for k, v in item.items() if k != "type"} for item in answer.get(kind, [])]
        return _sorted(pandas.DataFrame(rows, columns=["name", "topic", "keyFormat", "valueFormat", "isWindowed"]),
                       "name")
    if kind in ("kafka_topics", "kafka_topics_extended"):
        rows = []
        for topic in answer.get("topics", []):
            replicas = list(topic.get("replicaInfo", []))
            row = {"name": topic.get("name"), "partitions": len(replicas),
                   "replicas": max(replicas) if replicas else 0}
            if kind == "kafka_topics_extended":
                row.update(consumerCount=topic.get("consumerCount"), consumerGroupCount=topic.get("consumerGroupCount"))
            rows.append(row)
        return _sorted(pandas.DataFrame(rows, columns=["name", "partitions", "replicas"] + (
            ["consumerCount", "consumerGroupCount"] if kind == "kafka_topics_extended" else [])), "name")
    if kind == "sourceDescription":
        return _fields(answer.get("sourceDescription", {}))
    if kind == "source_descriptions":
        return _sources_summary(answer.get("sourceDescriptions", []))
    if kind == "properties":
        rows = [{"name": p.get("name"), "scope": p.get("scope"), "value": p.get("value")}
                for p in answer.get("properties", [])]
        return _sorted(pandas.DataFrame(rows, columns=["name", "scope", "value"]), "name")
    if kind == "queries":
        rows = [{"id": q.get("id"), "queryType": q.get("queryType"), "state": q.get("state"),
                 "sinks": ", ".join(q.get("sinks", []))} for q in answer.get("queries", [])]
        return _sorted(pandas.DataFrame(rows, columns=["id", "queryType", "state", "sinks"]), "id")
    if kind == "connector_list":
        rows = [{k: v for k, v in c.items()} for c in answer.get("connectors", [])]
        return _sorted(pandas.DataFrame(rows), "name")
    if "message" in answer:
        return answer["message"]
    return answer


def error_of(action: Callable[..., Any], *args: Any, **kwargs: Any) -> "KsqlResponseError":
    """Run `action(*args, **kwargs)` and return the ksqlDB error it raised; raise AssertionError if it worked.

    For lessons that show an error on purpose:
    `error = error_of(ksql.execute, "DROP STREAMS user;")` then `print(error.error_code, error.message)`.
    """
    from labkit.ksql import KsqlResponseError

    try:
        result = action(*args, **kwargs)
    except KsqlResponseError as error:
        return error
    raise AssertionError(f"expected ksqlDB to refuse this, but it answered: {result!r}")


def pull_until(client: "KsqlClient", sql: str, condition: "Callable[[pandas.DataFrame], bool] | int" = 1, *,
               timeout: float = 30.0, interval: float = 0.25, properties: Mapping[str, Any] | None = None,
               ) -> "pandas.DataFrame":
    """Repeat a pull query until its rows satisfy `condition` (a row count, or a test on the DataFrame).

    A persistent query fills its table in the background, so a pull query right after CREATE TABLE ... AS SELECT
    may see no rows yet. Returns the first result that passes; raises TimeoutError with the last one.
    """
    test = (lambda rows: len(rows) >= condition) if isinstance(condition, int) else condition
    deadline = time.monotonic() + timeout
    while True:
        rows = client.pull(sql, properties=properties)
        if test(rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sql!r} still returned {len(rows)} row(s) after {timeout:g} s:\n{rows}")
        time.sleep(interval)


def wait_until(condition: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2,
               what: str = "the condition") -> Any:
    """Call `condition` until it returns something true; return that, or raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"Waited {timeout:g} s for {what}.")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------- clean up

def drop_sources(client: "KsqlClient", names: Iterable[str], *, delete_topic: bool = True,
                 cascade: bool = True) -> list[str]:
    """Drop the named streams and tables that exist, in the order given; return ksqlDB's messages.

    ksqlDB refuses to drop a source that a persistent query reads. With `cascade`, what reads it goes first:
    streams and tables built from it by CREATE ... AS SELECT are dropped (with DELETE TOPIC: their topics are
    ksqlDB's output) and INSERT INTO queries are terminated, so a lesson can start clean whatever another lesson
    left behind. Dropping a CREATE ... AS SELECT source terminates its query. Names are matched as ksqlDB stores
    them (unquoted names upper-cased); missing ones are skipped. `delete_topic` adds DELETE TOPIC for the named
    sources (use it only for topics the lesson owns).
    """
    from labkit.ksql import quote_identifier

    existing: dict[str, str] = {}
    for entity in client.execute("SHOW STREAMS; SHOW TABLES;"):
        for item in entity.get("streams", []) + entity.get("tables", []):
            existing[item["name"]] = item.get("type", "STREAM")
    messages: list[str] = []
    terminated: set[str] = set()

    def terminate(query_id: str) -> None:
        if query_id not in terminated:
            terminated.add(query_id)
            for entity in client.execute(f"TERMINATE {query_id};"):
                messages.append(entity.get("commandStatus", {}).get("message", f"{query_id} terminated"))

    def drop(name: str, with_topic: bool) -> None:
        kind = existing.pop(name, None)
        if kind is None:
            return
        if cascade:
            [described] = client.execute(f"DESCRIBE {quote_identifier(name)} EXTENDED;")
            description = described.get("sourceDescription", {})
            for query in description.get("readQueries", []):
                if str(query.get("id", "")).upper().startswith("INSERTQUERY"):
                    terminate(query["id"])
                else:
                    for sink in query.get("sinks", []):
                        drop(sink, True)
            for query in description.get("writeQueries", []):
                if str(query.get("id", "")).upper().startswith("INSERTQUERY"):
                    terminate(query["id"])
        statement = f"DROP {kind} IF EXISTS {quote_identifier(name)}" + (" DELETE TOPIC;" if with_topic else ";")
        for entity in client.execute(statement):
            messages.append(entity.get("commandStatus", {}).get("message", ""))

    for wanted in names:
        drop(_stored_name(wanted), delete_topic)
    return messages


def _stored_name(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1]
    return name.upper()


def delete_topics(names: Iterable[str], *, timeout: float = 30.0, settings: "Settings | None" = None) -> list[str]:
    """Delete the topics that exist among `names` and wait until Kafka no longer lists them.

    Kafka deletes topics in the background; waiting means a lesson can create (or auto-create) a topic of
    the same name right afterwards. Returns the names that were deleted, sorted.
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, UnknownTopicOrPartitionError

    from labkit import config

    settings = settings or config.settings()
    wanted = set(names)
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="labkit-lesson-cleanup")
    try:
        existing = sorted(wanted & set(admin.list_topics()))
        if existing:
            try:
                admin.delete_topics(existing)
            except UnknownTopicOrPartitionError:
                pass  # deleted meanwhile (ksqlDB's DROP ... DELETE TOPIC, another clean-up)
        deadline = time.monotonic() + timeout
        while wanted & set(admin.list_topics()):
            if time.monotonic() > deadline:
                left = sorted(wanted & set(admin.list_topics()))
                raise KafkaError(f"Kafka still lists {left} {timeout:.0f} s after deleting them.")
            time.sleep(0.2)
        return existing
    finally:
        admin.close()


def fresh_topics(names: Iterable[str], *, partitions: int = 1, replicas: int = 3, timeout: float = 60.0,
                 settings: "Settings | None" = None) -> list[str]:
    """Make each topic exist, empty, with `partitions` and `replicas`, every replica in sync; returns the names.

    An old topic of the same name is deleted first (and waited for). Waiting for the in-sync replicas means the
    partition's leader is ready, so even an `acks=0` producer does not lose the first records.
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from labkit import config
    from labkit.topics import describe_topic

    settings = settings or config.settings()
    names = list(names)
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            delete_topics([name], timeout=max(1.0, deadline - time.monotonic()), settings=settings)
            admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="labkit-lesson-topics")
            try:
                admin.create_topics({name: {"num_partitions": partitions, "replication_factor": replicas,
                                            "configs": {}}})
                break
            except TopicAlreadyExistsError:
                if time.monotonic() > deadline:
                    raise KafkaError(f"Topic {name} was created again by someone else as soon as it was deleted.")
                time.sleep(0.5)  # deleted, then created again meanwhile (a client's metadata request): once more
            finally:
                admin.close()
        wait_until(lambda: _in_sync(describe_topic, name, partitions, replicas, settings),
                   timeout=max(1.0, deadline - time.monotonic()), what=f"every replica of {name} to be in sync")
    return names


def _in_sync(describe: Callable[..., Any], name: str, partitions: int, replicas: int, settings: Any) -> bool:
    try:
        frame = describe(name, settings)
    except Exception:  # noqa: BLE001 - not visible yet
        return False
    return len(frame) == partitions and all(len(isr) >= replicas for isr in frame["in_sync"])


def query_consumer_group(query_id: str, service_id: str = "default_") -> str:
    """The consumer group of a persistent query, as ksqlDB names it: `_confluent-ksql-<service id>query_<query id>`."""
    return f"_confluent-ksql-{service_id}query_{query_id}"


def committed_records(query_id: str, topic: str, *, settings: "Settings | None" = None) -> int:
    """How far the persistent query `query_id` has read `topic`: its group's committed offsets, summed over partitions.

    A persistent query commits the offsets of the records it has processed (every `commit.interval.ms`, 2 s by
    default), so a lesson can wait until a query has caught up with what it sent. 0 before the first commit.
    """
    from kafka import KafkaAdminClient

    from labkit import config

    settings = settings or config.settings()
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="labkit-lesson-offsets")
    try:
        group = query_consumer_group(query_id, settings.ksql_service_id)
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return sum(meta.offset for partition, meta in offsets.items() if partition.topic == topic and meta.offset > 0)


# ---------------------------------------------------------------------------------------------- settings

def env_var_for(property_name: str) -> str:
    """The environment variable that sets a server property in the confluentinc/ksqldb-server image.

    The image writes /etc/ksqldb/ksqldb-server.properties from every `KSQL_*` variable at start: the prefix
    `KSQL_` is dropped, the rest lower-cased, `___` becomes `-`, `__` becomes `_` and `_` becomes `.`.
    So the variable is `KSQL_` + the property name upper-cased, with `-` → `___`, `_` → `__`, `.` → `_`.
    """
    if not property_name or property_name != property_name.strip():
        raise ValueError(f"not a property name: {property_name!r}")
    return "KSQL_" + property_name.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def property_for(env_var: str) -> str:
    """The server property a `KSQL_*` environment variable sets in the ksqlDB image (inverse of env_var_for)."""
    if not env_var.startswith("KSQL_") or len(env_var) == len("KSQL_"):
        raise ValueError(f"the ksqlDB image only reads variables that start with KSQL_, not {env_var!r}")
    rest = env_var[len("KSQL_"):].lower()
    out, i = [], 0
    while i < len(rest):
        if rest.startswith("___", i):
            out.append("-")
            i += 3
        elif rest.startswith("__", i):
            out.append("_")
            i += 2
        elif rest[i] == "_":
            out.append(".")
            i += 1
        else:
            out.append(rest[i])
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------- logs

class LogRecorder(logging.Handler):
    """Collect the log messages of one logger (e.g. kafka-python's producer) to show them in a lesson.

    `labkit.require_cluster()` silences kafka-python's logs; a recorder catches the ones a lesson wants to
    show, without the unrelated chatter. `stop()` detaches it and returns the messages; `contains` filters.

        >>> recorder = LogRecorder("kafka.producer")
        >>> logging.getLogger("kafka.producer.kafka").warning("Idempotence will be disabled ...")
        >>> recorder.stop()
        ['Idempotence will be disabled ...']
    """

    def __init__(self, logger: str, *, level: int = logging.WARNING, contains: str | None = None) -> None:
        super().__init__(level)
        self.logger = logging.getLogger(logger)
        self.contains = contains
        self.messages: list[str] = []
        self._old_level = self.logger.level
        self._old_propagate = self.logger.propagate
        self.logger.addHandler(self)
        if self.logger.getEffectiveLevel() > level:
            self.logger.setLevel(level)
        self.logger.propagate = False  # shown by the lesson, not also by Python's last-resort stderr handler

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.contains is None or self.contains in message:
            self.messages.append(message)

    def stop(self) -> list[str]:
        """Detach from the logger, restore its level; return what was recorded."""
        self.logger.removeHandler(self)
        self.logger.setLevel(self._old_level)
        self.logger.propagate = self._old_propagate
        return list(self.messages)
