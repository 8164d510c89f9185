"""Throughput of each error-handling pattern beside a plain consumer on the same topic, and what a retry costs.

Run: `.venv/bin/python bench/patterns.py [--events 20000] [--rounds 3] [--latency-events 300]` (cluster up).
Creates topics named bench-patterns-<run>-…, deletes them at the end; never touches other topics.

Part 1, throughput. One source topic holds N events; every contender reads all of it in its own consumer group,
in the same run, and writes one output record per event: the peer is a plain consume-process-produce loop
(decode, handler, send, one flush and one commit per batch) with no error handling. Throughput is measured
between the first and the last handler call, so group joins and start-up are not counted. Every row's handler
goes through a FaultInjector (with no rules where the row has no faults), so the rows differ only by pattern. The ratio is
pattern / plain (1.00 = no overhead). Rows with faults: "dead-letter 1% bad" (1 % poison events),
"ordered 5% held" (one key of 20 fails its first call and, with no retry app running, stays locked, so each
of its records is redirected: a lock write acknowledged before the retry write); each contender runs `--rounds` times in rotated order after one warm-up
run, and the median is reported.

Part 2, latency of a retry. Events are produced at a steady pace while the main app and the retry app run;
every tenth event fails its first attempt. Latency = output record time - source record time, by how the event got
there: direct (main app), retried (failed once, then succeeded in the retry app) and, for ordered retry, held
back (redirected behind a failed event of its key). "extra per retry" = median(retried) - median(direct): the
retry topic's hop plus the configured delay.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka.structs import OffsetAndMetadata  # noqa: E402

from labkit import quiet_client_logs  # noqa: E402
from labkit.config import settings as load_settings  # noqa: E402
from labkit.patterns import (  # noqa: E402
    DeadLetterConsumer, FaultInjector, OrderedMainApp, OrderedRetryApp, PatternTopics, RetryApp,
    RetryingConsumer, StopOnErrorConsumer, make_events)
from labkit.patterns import clients  # noqa: E402
from labkit.patterns.events import decode_event, output_value  # noqa: E402
from labkit.topics import admin_client  # noqa: E402


class Clock:
    """Wraps a handler and records when it was first and last called."""

    def __init__(self, handler: Callable = lambda event, attempt: {}) -> None:
        self.handler, self.first, self.last, self.calls = handler, 0.0, 0.0, 0
        self.lock = threading.Lock()

    def __call__(self, event, attempt):
        now = time.perf_counter()
        with self.lock:
            if not self.calls:
                self.first = now
            self.last, self.calls = now, self.calls + 1
        return self.handler(event, attempt)

    def rate(self) -> float:
        return (self.calls - 1) / (self.last - self.first) if self.calls > 1 and self.last > self.first else 0.0


def plain_consumer(source: str, output: str, group: str, count: int, clock: Clock) -> None:
    """The peer: consume, decode, process, produce; one flush and one commit per batch; no error handling."""
    settings = load_settings()
    producer = clients.producer(settings)
    consumer = clients.consumer(settings, group_id=group)
    try:
        clients.subscribe(consumer, [source])
        done = 0
        while done < count:
            batch = consumer.poll(timeout_ms=200)
            futures, commits = [], {}
            for tp, records in batch.items():
                for record in records:
                    event = decode_event(record.key, record.value)
                    futures.append(producer.send(output, key=record.key,
                                                 value=output_value(event, clock(event, 1), attempt=1, via="main")))
                    commits[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
                done += len(records)
            if commits:
                producer.flush()
                clients.check_sent(futures)
                consumer.commit(commits)
    finally:
        consumer.close()
        producer.close()


def throughput(prefix: str, count: int, rounds: int) -> dict[str, list[float]]:
    """Records per second of each contender over the same source topic, `rounds` times in rotated order."""
    source = PatternTopics(f"{prefix}-source").create()
    events = make_events(keys=tuple(f"k{n}" for n in range(1, 21)), per_key=count // 20, seed=1)
    clients.produce_events(source.main, events)
    wiring = dict(source=source.main)
    # fresh injectors per run: a key's failure budget must not be used up by an earlier round
    faults: dict[str, Callable[[], FaultInjector]] = {
        "dead-letter 1% bad": lambda: FaultInjector().poison(*(e.id for e in events[::100])),  # 1 % poison
        "ordered 5% held": lambda: FaultInjector().fail_key("k7", times=1),  # k7 locked; no retry app runs
    }
    contenders: dict[str, Callable[[PatternTopics, Clock], object]] = {
        "plain": lambda t, c: None,
        "stop-on-error": lambda t, c: StopOnErrorConsumer(
            output=t.output, group_id=t.group("main"), handler=c, **wiring),
        "dead-letter": lambda t, c: DeadLetterConsumer(
            output=t.output, error_topic=t.error, group_id=t.group("main"), handler=c, **wiring),
        "dead-letter 1% bad": lambda t, c: DeadLetterConsumer(
            output=t.output, error_topic=t.error, group_id=t.group("main"), handler=c, **wiring),
        "retry-topic": lambda t, c: RetryingConsumer(
            output=t.output, error_topic=t.error, policy=t.retry_policy(delays=(1.0,)), group_id=t.group("main"),
            handler=c, **wiring),
        "ordered-retry": lambda t, c: OrderedMainApp(
            output=t.output, error_topic=t.error, retry_topic=t.retry, redirect_topic=t.redirect,
            group_id=t.group("main"), retry_group_id=t.group("retry"), handler=c, **wiring),
        "ordered 5% held": lambda t, c: OrderedMainApp(
            output=t.output, error_topic=t.error, retry_topic=t.retry, redirect_topic=t.redirect,
            group_id=t.group("main"), retry_group_id=t.group("retry"), handler=c, **wiring),
    }

    def run(name: str, round_no: int) -> float:
        topics = PatternTopics(f"{prefix}-{re.sub('[^a-z0-9]+', '-', name)}-{round_no}").create()
        injector = faults[name]() if name in faults else FaultInjector()  # every row pays the injector's cost
        clock = Clock(injector.wrap(lambda event, attempt: {}))
        app = contenders[name](topics, clock)
        if app is None:
            plain_consumer(source.main, topics.output, topics.group("plain"), len(events), clock)
        else:
            app.run(count=len(events), timeout=600)
        topics.delete()
        return clock.rate()

    run("plain", 0)  # warm-up: first connections, page cache, the broker's own warm-up; not reported
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_no in range(1, rounds + 1):
        shift = (round_no - 1) % len(names)
        for name in names[shift:] + names[:shift]:
            rates[name].append(run(name, round_no))
    source.delete()
    return rates


def latencies(topics: PatternTopics, skip: set[str]) -> dict[str, list[float]]:
    """Per-event latency (s) from the source record to its first output record, by how the event got there:
    "direct" (main app), "retried" (a failed event, tried again), "held back" (ordered retry: redirected behind
    a failed event of its key, first tried by the retry app). Events in `skip` (the warm-up) are left out."""
    produced = {json.loads(m.value)["id"]: m.timestamp_ms for m in clients.read_topic(topics.main)}
    groups: dict[str, list[float]] = {"direct": [], "retried": [], "held back": []}
    seen = set(skip)
    for message in clients.read_topic(topics.output):
        row = json.loads(message.value)
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        group = "direct" if row["via"] == "main" else "retried" if row["attempt"] > 1 else "held back"
        groups[group].append((message.timestamp_ms - produced[row["id"]]) / 1000)
    return groups


def retry_latency(prefix: str, count: int, delay: float, ordered: bool) -> dict[str, list[float]]:
    """Run main and retry app live while events arrive at a steady pace; every tenth event fails once.

    The first tenth of the events warms the clients up (metadata of every topic, connections) and is not
    measured.
    """
    name = f"{'ordered' if ordered else 'retry'}-{int(delay * 1000)}ms"
    topics = PatternTopics(f"{prefix}-{name}").create()
    keys = tuple(f"k{n}" for n in range(1, 31))
    events = make_events(keys=keys, per_key=max(1, count // len(keys)), seed=3)
    faults = FaultInjector()
    for event in events[::10]:
        faults.fail_event(event.id, times=1)
    handler = faults.wrap(lambda event, attempt: {})
    if ordered:
        main = OrderedMainApp.for_topics(topics, handler=handler, retry_delay=delay, poll_timeout=0.05)
        retry = OrderedRetryApp.for_topics(topics, handler=handler, retry_delay=delay, poll_timeout=0.05)
    else:
        policy = topics.retry_policy(delays=(delay,), max_attempts=3)
        main = RetryingConsumer.for_topics(topics, policy, handler=handler, poll_timeout=0.05)
        retry = RetryApp.for_topics(topics, policy, handler=handler, poll_timeout=0.05)
    producer = clients.producer()
    try:
        with retry, main:
            time.sleep(1.0)  # let both join their groups before the first event
            for event in events:  # paced on purpose: each event's timestamp is its send time
                producer.send(topics.main, key=event.key.encode(), value=event.encode())
                producer.flush()
                time.sleep(0.005)
            clients.wait_until(lambda: topics.read().settled(), timeout=120, what="all events")
    finally:
        producer.close()
    result = latencies(topics, skip={e.id for e in events[: len(events) // 10]})
    topics.delete()
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events in the throughput source topic")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender (median reported)")
    parser.add_argument("--latency-events", type=int, default=300, help="events per latency run")
    args = parser.parse_args()
    quiet_client_logs()
    prefix = f"bench-patterns-{uuid.uuid4().hex[:6]}"
    print(f"cpus={os.cpu_count()}  events={args.events}  rounds={args.rounds}  "
          f"bootstrap={load_settings().bootstrap_servers}\n")
    try:
        rates = throughput(prefix, args.events, args.rounds)
        plain = median(rates["plain"])
        print("throughput (median of rounds; the peer is a plain consume-process-produce loop, same topic, same run)")
        print(f"{'pattern':<19} {'records/s':>10} {'vs plain':>9}   rounds")
        for name, values in rates.items():
            print(f"{name:<19} {median(values):>10.0f} {median(values) / plain:>9.2f}   "
                  + " ".join(f"{v:.0f}" for v in values))
        print(f"\nretry latency, seconds ({args.latency_events} events paced 5 ms apart; every tenth event fails "
              f"once; the first tenth is warm-up)")
        print(f"{'pattern':<14} {'delay':>5} {'direct p50':>10} {'p95':>6} {'retried p50':>11} {'p95':>6} "
              f"{'held back p50':>13} {'extra per retry':>15}")
        for ordered in (False, True):
            for delay in (0.0, 0.5):
                groups = retry_latency(prefix, args.latency_events, delay, ordered)
                direct, retried, held = groups["direct"], groups["retried"], groups["held back"]
                print(f"{'ordered-retry' if ordered else 'retry-topic':<14} {delay:>5.1f} {median(direct):>10.3f} "
                      f"{percentile(direct, 0.95):>6.3f} {median(retried):>11.3f} {percentile(retried, 0.95):>6.3f} "
                      f"{(f'{median(held):.3f}' if held else '-'):>13} {median(retried) - median(direct):>15.3f}")
    finally:
        with admin_client() as admin:
            leftovers = [t for t in admin.list_topics() if t.startswith(prefix)]
            if leftovers:
                admin.delete_topics(leftovers)


if __name__ == "__main__":
    main()
