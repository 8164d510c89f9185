"""The live engine on the embedded cluster: CSAS throughput beside Quix Streams, push and pull query latency.

Run: `.venv/bin/python bench/engine.py [--rows 50000] [--samples 200]` with the cluster up (`labkit up`).
Starts its own engine process (`python -m labkit.server`) on a free port with a service id of its own, so the
workbook's engine on 8088 is not disturbed, and stops it at the end.

1. Throughput: the same N JSON records are read by a CSAS doing a filter and a projection
   (`SELECT ID, UCASE(NAME) AS NAME, AMOUNT FROM S WHERE AMOUNT >= 10`, from the earliest offset) and by a
   Quix Streams application doing the same filter and projection on the same topic; rows/s = input records
   over the time until the last output record is in the output topic. Goal: engine >= 1.0x Quix Streams.
   Stateful, on one pair of topics (USERS: 1,000 users, ORDERS: N orders keyed by user, event times 1 ms apart):
   a stream-table join (`ORDERS JOIN USERS`, CSAS) beside Quix's `join_asof` of the orders on the users, and a
   TUMBLING (10 s) COUNT per user (CTAS, EMIT CHANGES: one output per order) beside Quix's
   `tumbling_window(10 s).count().current()`; same measure. Both sides keep their state in changelog topics.
   Beside each rate, the CPU time (user + system, all threads) each side spent per 1,000 input records over
   the same interval: the engine process's, and this process's during the Quix run less the watcher thread's.
   On a busy shared machine wall-clock rates swing with the load; CPU per record is the steadier comparison.
2. Push latency: a push query over /query-stream; one record produced at a time with acks=all; the time from
   before `send` to the row arriving at the client. Goal: p50 <= 20 ms.
3. Pull latency over /query-stream, whole answer read: `SELECT * FROM <stream of 10 rows>;` (a scan of the
   topic) and `SELECT * FROM <CTAS table> WHERE ID = 5;` (a key lookup in the table's state). Goal: p50 <= 5 ms.
`--parts csas,stateful,push,pull` runs a subset.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
import requests
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from labkit import config
from labkit.cluster.engine_process import EngineProcess
from labkit.ksql import KsqlClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CpuMeter:
    """CPU seconds (user + system, all threads) a process has used; `read()` twice and subtract."""

    def __init__(self, pid: int | None = None) -> None:
        self.process = psutil.Process(pid)

    def read(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system


def per_k(cpu_seconds: float, rows: int) -> float:
    """CPU milliseconds per 1,000 input records."""
    return cpu_seconds * 1000 / rows * 1000


def end_total(consumer: KafkaConsumer, topic: str) -> int:
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    return sum(consumer.end_offsets(partitions).values()) if partitions else 0


def wait_for_count(settings: config.Settings, topic: str, wanted: int, timeout: float) -> float:
    """Block until `topic` holds `wanted` records; returns the monotonic time it was seen."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=None)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            consumer.topics()  # fresh metadata: the output topic may have been created meanwhile
            if end_total(consumer, topic) >= wanted:
                return time.monotonic()
            time.sleep(0.02)
        raise SystemExit(f"{topic} did not reach {wanted} records within {timeout:.0f} s")
    finally:
        consumer.close()


def produce_input(settings: config.Settings, topic: str, rows: int) -> int:
    """N records {"NAME", "AMOUNT"} keyed by an INT id; returns how many pass the filter AMOUNT >= 10."""
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="bench-engine")
    try:
        admin.create_topics([NewTopic(topic, 2, 3)])
    finally:
        admin.close()
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=20, batch_size=512 * 1024)
    passing = 0
    for i in range(rows):
        amount = i % 20
        passing += amount >= 10
        producer.send(topic, key=i.to_bytes(4, "big"), value=json.dumps({"NAME": f"user{i % 1000}", "AMOUNT": amount}).encode())
    producer.flush()
    producer.close()
    return passing


def engine_throughput(client: KsqlClient, settings: config.Settings, source: str, rows: int, passing: int,
                      tag: str, cpu: CpuMeter) -> tuple[float, float]:
    """Rows/s of the CSAS, and the engine's CPU seconds meanwhile."""
    client.execute(f"CREATE STREAM BENCH_IN_{tag} (ID INT KEY, NAME STRING, AMOUNT INT) WITH (KAFKA_TOPIC='{source}', "
                   "VALUE_FORMAT='JSON');")
    started, cpu_started = time.monotonic(), cpu.read()
    client.execute(f"CREATE STREAM BENCH_OUT_{tag} AS SELECT ID, UCASE(NAME) AS NAME, AMOUNT FROM BENCH_IN_{tag} "
                   "WHERE AMOUNT >= 10;", properties={"auto.offset.reset": "earliest"})
    finished = wait_for_count(settings, f"BENCH_OUT_{tag}", passing, timeout=600)
    return rows / (finished - started), cpu.read() - cpu_started


def quix_throughput(settings: config.Settings, source: str, rows: int, passing: int,
                    tag: str) -> tuple[float, float] | None:
    """Rows/s of the Quix Streams filter/projection, and its CPU seconds (this process, less the watcher)."""
    try:
        from quixstreams import Application
    except ImportError:
        print("Quix Streams is not installed (pip install quixstreams): no peer figure.")
        return None
    import logging

    out = f"bench_quix_out_{tag}"
    state_dir = tempfile.mkdtemp(prefix="bench-quix-")
    app = Application(broker_address=settings.bootstrap_servers, consumer_group=f"bench-quix-{tag}",
                      auto_offset_reset="earliest", state_dir=state_dir, loglevel=logging.WARNING,
                      use_changelog_topics=False)
    input_topic = app.topic(source, key_deserializer="bytes", value_deserializer="json")
    output_topic = app.topic(out, key_serializer="bytes", value_serializer="json")
    sdf = app.dataframe(input_topic)
    sdf = sdf[sdf["AMOUNT"] >= 10]
    sdf = sdf.apply(lambda value: {"NAME": value["NAME"].upper(), "AMOUNT": value["AMOUNT"]})
    sdf.to_topic(output_topic)
    cpu = CpuMeter()
    started, cpu_started = time.monotonic(), cpu.read()
    done: dict[str, float] = {}

    def watch() -> None:
        done["at"] = wait_for_count(settings, out, passing, timeout=600)
        done["watcher_cpu"] = time.thread_time()
        app.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    app.run()
    watcher.join()
    return rows / (done["at"] - started), cpu.read() - cpu_started - done["watcher_cpu"]


USERS = 1000


def create_join_topics(settings: config.Settings, users: str, orders: str) -> int:
    """Both topics (2 partitions each), and the USERS (key: INT uid, {"NAME"}); returns the orders' base time."""
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="bench-engine")
    try:
        admin.create_topics([NewTopic(users, 2, 3), NewTopic(orders, 2, 3)])
    finally:
        admin.close()
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=20)
    base = int(time.time() * 1000) - 600_000
    for uid in range(USERS):
        producer.send(users, key=uid.to_bytes(4, "big"), value=json.dumps({"NAME": f"user{uid}"}).encode(),
                      timestamp_ms=base - 1000)
    producer.flush()
    producer.close()
    return base


def produce_orders(settings: config.Settings, orders: str, rows: int, base: int) -> None:
    """ORDERS (key: INT uid, {"OID", "AMT"}), event times 1 ms apart, all after every user."""
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=20, batch_size=512 * 1024)
    for i in range(rows):
        uid = i % USERS
        producer.send(orders, key=uid.to_bytes(4, "big"), value=json.dumps({"OID": i, "AMT": i % 50}).encode(),
                      timestamp_ms=base + i)
    producer.flush()
    producer.close()


def engine_stateful_throughput(client: KsqlClient, settings: config.Settings, users: str, orders: str, rows: int,
                               base: int, tag: str, cpu: CpuMeter) -> tuple[tuple[float, float], tuple[float, float]]:
    """(Rows/s, engine CPU seconds) of the stream-table join CSAS and of the tumbling-count CTAS, each run alone.

    The join query starts on the USERS alone and the orders are produced while it runs (timed from the first
    send): started over both topics already full, it drops the orders it reads before their user (the engine
    does not hold back a topic's records until the other topic's older records are fetched, as Kafka Streams'
    max.task.idle.ms does). The count reads the orders already there, from the earliest offset.
    """
    client.execute(f"CREATE TABLE BENCH_USERS_{tag} (UID INT PRIMARY KEY, NAME STRING) WITH (KAFKA_TOPIC='{users}', "
                   "VALUE_FORMAT='JSON');")
    client.execute(f"CREATE STREAM BENCH_ORDERS_{tag} (UID INT KEY, OID INT, AMT INT) WITH (KAFKA_TOPIC='{orders}', "
                   "VALUE_FORMAT='JSON');")
    earliest = {"auto.offset.reset": "earliest"}
    started = time.monotonic()
    client.execute(f"CREATE STREAM BENCH_JOINED_{tag} AS SELECT O.UID AS UID, O.OID AS OID, O.AMT AS AMT, "
                   f"U.NAME AS NAME FROM BENCH_ORDERS_{tag} O JOIN BENCH_USERS_{tag} U ON O.UID = U.UID;",
                   properties=earliest)
    time.sleep(3)  # the table side is read
    started, cpu_started = time.monotonic(), cpu.read()
    produce_orders(settings, orders, rows, base)
    join_rate = rows / (wait_for_count(settings, f"BENCH_JOINED_{tag}", rows, timeout=600) - started)
    join_cpu = cpu.read() - cpu_started
    started, cpu_started = time.monotonic(), cpu.read()
    client.execute(f"CREATE TABLE BENCH_COUNTS_{tag} AS SELECT UID, COUNT(*) AS C FROM BENCH_ORDERS_{tag} "
                   "WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY UID EMIT CHANGES;", properties=earliest)
    count_rate = rows / (wait_for_count(settings, f"BENCH_COUNTS_{tag}", rows, timeout=600) - started)
    return (join_rate, join_cpu), (count_rate, cpu.read() - cpu_started)


def _run_quix(settings: config.Settings, build, out: str, wanted: int, rows: int, tag: str) -> tuple[float, float]:
    """Run a Quix Streams application built by `build(app)` until `out` holds `wanted` records; rows/s and CPU s."""
    import logging

    from quixstreams import Application

    app = Application(broker_address=settings.bootstrap_servers, consumer_group=f"bench-quix-{tag}",
                      auto_offset_reset="earliest", state_dir=tempfile.mkdtemp(prefix="bench-quix-"),
                      loglevel=logging.WARNING, use_changelog_topics=True)
    build(app)
    cpu = CpuMeter()
    started, cpu_started = time.monotonic(), cpu.read()
    done: dict[str, float] = {}

    def watch() -> None:
        done["at"] = wait_for_count(settings, out, wanted, timeout=600)
        done["watcher_cpu"] = time.thread_time()
        app.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    app.run()
    watcher.join()
    return rows / (done["at"] - started), cpu.read() - cpu_started - done["watcher_cpu"]


def quix_stateful_throughput(settings: config.Settings, users: str, orders: str, rows: int,
                             tag: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
    try:
        import quixstreams  # noqa: F401
    except ImportError:
        print("Quix Streams is not installed (pip install quixstreams): no peer figure.")
        return None
    join_out, count_out = f"bench_quix_joined_{tag}", f"bench_quix_counts_{tag}"

    def join(app) -> None:  # the latest user (by event time) of each order's key: a stream-table join
        orders_sdf = app.dataframe(app.topic(orders, key_deserializer="bytes", value_deserializer="json"))
        users_sdf = app.dataframe(app.topic(users, key_deserializer="bytes", value_deserializer="json"))
        joined = orders_sdf.join_asof(users_sdf, how="inner")
        joined.to_topic(app.topic(join_out, key_serializer="bytes", value_serializer="json"))

    def count(app) -> None:
        sdf = app.dataframe(app.topic(orders, key_deserializer="bytes", value_deserializer="json"))
        sdf = sdf.tumbling_window(10_000).count().current()
        sdf.to_topic(app.topic(count_out, key_serializer="bytes", value_serializer="json"))

    return (_run_quix(settings, join, join_out, rows, rows, f"join-{tag}"),
            _run_quix(settings, count, count_out, rows, rows, f"count-{tag}"))


def report_pair(what: str, peer: str, rows: int, engine: tuple[float, float],
                quix: tuple[float, float] | None) -> None:
    """Print the engine's and Quix Streams' rate and CPU per 1k records, with both ratios."""
    rate, cpu = engine
    print(f"engine {what}: {rate:,.0f} rows/s, {per_k(cpu, rows):.0f} ms CPU per 1k records", flush=True)
    if quix is None:
        return
    quix_rate, quix_cpu = quix
    print(f"Quix Streams {peer}: {quix_rate:,.0f} rows/s, {per_k(quix_cpu, rows):.0f} ms CPU per 1k records  "
          f"(engine/Quix = {rate / quix_rate:.2f}x, goal >= 1.0x; CPU per record Quix/engine = "
          f"{quix_cpu / cpu:.2f}x)", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def push_latency(client: KsqlClient, settings: config.Settings, tag: str, samples: int) -> list[float]:
    name = f"BENCH_PUSH_{tag}"
    client.execute(f"CREATE STREAM {name} (ID INT KEY, SENT BIGINT) WITH (KAFKA_TOPIC='{name}', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=0)
    latencies = []
    with client.push(f"SELECT ID FROM {name} EMIT CHANGES;", as_dict=False, timeout=300) as rows:
        iterator = iter(rows)
        for i in range(samples + 10):
            sent = time.perf_counter()
            producer.send(name, key=i.to_bytes(4, "big"), value=json.dumps({"SENT": i}).encode())
            row = next(iterator)
            assert row == [i], row
            if i >= 10:  # the first rows warm up connections
                latencies.append((time.perf_counter() - sent) * 1000)
    producer.close()
    return latencies


def pull_latency(url: str, client: KsqlClient, tag: str, samples: int) -> list[float]:
    name = f"BENCH_PULL_{tag}"
    client.execute(f"CREATE STREAM {name} (ID INT KEY, V STRING) WITH (KAFKA_TOPIC='{name}', PARTITIONS=1, "
                   "VALUE_FORMAT='JSON');")
    client.insert(name, [{"ID": i, "V": f"v{i}"} for i in range(10)])
    session = requests.Session()
    body = json.dumps({"sql": f"SELECT * FROM {name};", "properties": {}})
    latencies = []
    for i in range(samples + 10):
        started = time.perf_counter()
        response = session.post(url + "/query-stream", data=body, headers={"Accept": "application/vnd.ksqlapi.delimited.v1"})
        lines = response.text.strip().splitlines()
        elapsed = (time.perf_counter() - started) * 1000
        assert len(lines) == 11, lines
        if i >= 10:
            latencies.append(elapsed)
    session.close()
    return latencies


def table_pull_latency(url: str, client: KsqlClient, tag: str, samples: int) -> list[float]:
    """A key lookup on a materialized table (CTAS), the classic pull query; one row per answer."""
    stream, table = f"BENCH_PULL_{tag}", f"BENCH_PULL_T_{tag}"
    client.execute(f"CREATE TABLE {table} AS SELECT ID, LATEST_BY_OFFSET(V) AS V FROM {stream} GROUP BY ID;",
                   properties={"auto.offset.reset": "earliest"})
    deadline = time.monotonic() + 60
    session = requests.Session()
    body = json.dumps({"sql": f"SELECT * FROM {table} WHERE ID = 5;", "properties": {}})
    headers = {"Accept": "application/vnd.ksqlapi.delimited.v1"}
    while len(session.post(url + "/query-stream", data=body, headers=headers).text.strip().splitlines()) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{table} did not materialize key 5 within 60 s")
        time.sleep(0.1)
    latencies = []
    for i in range(samples + 10):
        started = time.perf_counter()
        response = session.post(url + "/query-stream", data=body, headers=headers)
        lines = response.text.strip().splitlines()
        elapsed = (time.perf_counter() - started) * 1000
        assert len(lines) == 2 and json.loads(lines[1]) == [5, "v5"], lines
        if i >= 10:
            latencies.append(elapsed)
    session.close()
    return latencies


PARTS = ("csas", "stateful", "push", "pull")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated subset of {', '.join(PARTS)} (default: all)")
    args = parser.parse_args(argv)
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if not parts or parts - set(PARTS):
        parser.error(f"--parts takes a comma-separated subset of {', '.join(PARTS)}")
    tag = uuid.uuid4().hex[:6].upper()
    base = config.settings()
    settings = base.with_overrides(run_dir=Path(tempfile.mkdtemp(prefix="bench-engine-")),
                                   ksql_url=f"http://127.0.0.1:{free_port()}", ksql_service_id=f"bench{tag.lower()}_")
    engine = EngineProcess(settings)
    engine.up(timeout=120)
    try:
        with KsqlClient(settings.ksql_url, timeout=60) as client:
            engine_cpu = CpuMeter(engine.pid())
            if "csas" in parts:
                source = f"bench_in_{tag.lower()}"
                print(f"Producing {args.rows} records to {source}…", flush=True)
                passing = produce_input(settings, source, args.rows)
                csas = engine_throughput(client, settings, source, args.rows, passing, tag, engine_cpu)
                quix = quix_throughput(settings, source, args.rows, passing, tag.lower())
                report_pair("CSAS filter/projection", "filter/projection", args.rows, csas, quix)
            if "stateful" in parts:
                users, orders = f"bench_users_{tag.lower()}", f"bench_orders_{tag.lower()}"
                print(f"Producing {USERS} users to {users}, then {args.rows} orders to {orders}…", flush=True)
                base = create_join_topics(settings, users, orders)
                join, count = engine_stateful_throughput(client, settings, users, orders, args.rows, base, tag,
                                                         engine_cpu)
                quix_stateful = quix_stateful_throughput(settings, users, orders, args.rows, tag.lower())
                report_pair("CSAS stream-table join", "join_asof (stream-table join)", args.rows, join,
                            quix_stateful[0] if quix_stateful else None)
                report_pair("CTAS tumbling-window count", "tumbling_window().count().current()", args.rows, count,
                            quix_stateful[1] if quix_stateful else None)
            if "push" in parts:
                push = push_latency(client, settings, tag, args.samples)
                print(f"push query latency (produce → row on /query-stream): p50 {statistics.median(push):.1f} ms, "
                      f"p99 {percentile(push, 0.99):.1f} ms  (goal p50 <= 20 ms)", flush=True)
            if "pull" in parts:
                pull = pull_latency(settings.ksql_url, client, tag, args.samples)
                print(f"pull query latency (stream of 10 rows, a scan): p50 {statistics.median(pull):.1f} ms, "
                      f"p99 {percentile(pull, 0.99):.1f} ms  (goal p50 <= 5 ms)", flush=True)
                lookup = table_pull_latency(settings.ksql_url, client, tag, args.samples)
                print(f"pull query latency (key lookup on a CTAS table): p50 {statistics.median(lookup):.1f} ms, "
                      f"p99 {percentile(lookup, 0.99):.1f} ms  (goal p50 <= 5 ms)", flush=True)
    finally:
        engine.down()
        drop_topics(settings, tag)
    return 0


def drop_topics(settings: config.Settings, tag: str) -> None:
    """Delete the run's topics: inputs, outputs, the engine's command topic, processing log and changelogs."""
    service_id = settings.ksql_service_id
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="bench-engine-cleanup")
    try:
        mine = [t for t in admin.list_topics() if tag.lower() in t.lower() or t.startswith(f"_confluent-ksql-{service_id}")
                or t == f"{service_id}ksql_processing_log"]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
