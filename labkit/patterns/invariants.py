"""Invariant checks for the patterns, over records read back from the topics (no broker needed).

Each check returns a `Report` whose `.ok` says whether the invariant holds and whose `.problems` say where it
does not, in words a learner can follow ("k3: seq 1 after seq 6"). The checks are the lesson's claims:

    I1 no loss            every main-topic record is in the output or the error topic
    I2 per-key order      each key's events reach the output in seq order (first occurrences)
    I3 bounded retries    no event is tried more than max_attempts times; retries wait their delay
    I4 liveness           keys that never failed were never held back
    I5 store hygiene      the in-memory store equals the compacted redirect topic (empty at rest)
    I6 stop-on-error      committed offset = the failing record's, nothing at or past it processed
    I7 useful DLQ records error-topic records say where they came from, why, how often and when

Example:
    >>> check_key_order([]).ok
    True
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from labkit.patterns import headers as hdr
from labkit.patterns.clients import Message
from labkit.patterns.errors import InvariantViolation, PatternError
from labkit.patterns.events import decode_event
from labkit.patterns.faults import Attempt
from labkit.patterns.redirect_store import compacted_view

MAX_PROBLEMS_SHOWN = 10
CLOCK_TOLERANCE_S = 0.02


@dataclass(frozen=True)
class Report:
    """The result of one invariant check: ok, the problems found and a few counts."""

    name: str
    ok: bool
    problems: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if self.ok:
            return f"{self.name}: OK"
        shown = [f"  - {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        if len(self.problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"  … and {len(self.problems) - MAX_PROBLEMS_SHOWN} more")
        return "\n".join([f"{self.name}: FAILED"] + shown)

    __repr__ = __str__

    def raise_if_failed(self) -> "Report":
        """Raise InvariantViolation if the check failed; return the report otherwise."""
        if not self.ok:
            raise InvariantViolation(self)
        return self


def _report(name: str, problems: list[str], **metrics: Any) -> Report:
    return Report(name, not problems, tuple(problems), dict(sorted(metrics.items())))


def output_rows(output: Iterable[Message]) -> list[dict[str, Any]]:
    """The output topic's JSON documents (id, key, seq, attempt, via, result), in topic order."""
    rows = []
    for message in output:
        if message.value is None:
            raise PatternError(f"Output record at offset {message.offset} has a null value.")
        rows.append(json.loads(message.value))
    return rows


def _coordinates(message: Message) -> tuple[str, int, int]:
    return message.topic, message.partition, message.offset


def _event_ids(source: Iterable[Message]) -> dict[tuple[str, int, int], str | None]:
    """Source coordinates -> event id (None where the record cannot be decoded)."""
    ids: dict[tuple[str, int, int], str | None] = {}
    for message in source:
        try:
            ids[_coordinates(message)] = decode_event(message.key, message.value).id
        except PatternError:
            ids[_coordinates(message)] = None
    return ids


def check_no_loss(source: Sequence[Message], output: Sequence[Message],
                  dead_letters: Sequence[Message]) -> Report:
    """I1: every source record reached the output (by event id) or the error topic (by its origin headers)."""
    ids = _event_ids(source)
    output_ids = Counter(row["id"] for row in output_rows(output))
    dead_origins = Counter(hdr.origin(m.headers) for m in dead_letters)
    problems, missing = [], 0
    for coordinates, event_id in ids.items():
        if coordinates not in dead_origins and (event_id is None or event_id not in output_ids):
            missing += 1
            topic, partition, offset = coordinates
            problems.append(f"{event_id or 'an undecodable record'} ({topic}[{partition}]@{offset}) is in neither "
                            f"the output nor the error topic")
    known_ids = {i for i in ids.values() if i is not None}
    problems += [f"output has {i}, which is not in the source" for i in sorted(set(output_ids) - known_ids)]
    problems += [f"error topic has a record from {o}, which is not in the source"
                 for o in sorted(set(dead_origins) - set(ids), key=str)]
    duplicates = sum(n - 1 for n in output_ids.values()) + sum(n - 1 for n in dead_origins.values())
    return _report("I1 no loss", problems, source=len(ids), output=sum(output_ids.values()),
                   dead_lettered=sum(dead_origins.values()), missing=missing, duplicates=duplicates)


def key_sequences(output: Sequence[Message]) -> dict[str, list[int]]:
    """Each key's seq values in output order, first occurrence of each event only."""
    seen: set[str] = set()
    sequences: dict[str, list[int]] = defaultdict(list)
    for row in output_rows(output):
        if row["id"] not in seen:
            seen.add(row["id"])
            sequences[row["key"]].append(row["seq"])
    return dict(sorted(sequences.items()))


def check_key_order(output: Sequence[Message]) -> Report:
    """I2: for every key the seq values in the output increase (events dead-lettered on the way are gaps)."""
    problems = []
    sequences = key_sequences(output)
    for key, seqs in sequences.items():
        highest = 0
        for seq in seqs:
            if seq < highest:
                problems.append(f"{key}: seq {seq} after seq {highest}")
            highest = max(highest, seq)
    return _report("I2 per-key order", problems, keys=len(sequences), out_of_order=len(problems))


def check_bounded_retries(attempts: Mapping[str, int], *, max_attempts: int, output: Sequence[Message] = (),
                          dead_letters: Sequence[Message] = ()) -> Report:
    """I3: no event was tried more than `max_attempts` times (handler calls, output and error-topic counts)."""
    problems = [f"{event_id} was tried {n} times (limit {max_attempts})"
                for event_id, n in sorted(attempts.items()) if n > max_attempts]
    for row in output_rows(output):
        if row["attempt"] > max_attempts:
            problems.append(f"{row['id']} succeeded at attempt {row['attempt']} (limit {max_attempts})")
    for message in dead_letters:
        if hdr.attempts(message.headers) > max_attempts:
            problems.append(f"error-topic record from offset {message.headers.get(hdr.ORIGINAL_OFFSET)} "
                            f"says {hdr.attempts(message.headers)} attempts (limit {max_attempts})")
    return _report("I3 bounded retries", problems, max_attempts=max_attempts,
                   most_attempts=max(attempts.values(), default=0))


def check_retry_delays(log: Sequence[Attempt], *, delays: Sequence[float]) -> Report:
    """I3: the n-th retry of an event waited at least delays[n-1] seconds after the try before (last repeats)."""
    problems, last_call = [], {}
    retries: Counter[str] = Counter()
    for attempt in sorted(log, key=lambda a: a.at):
        if attempt.event_id in last_call:
            retries[attempt.event_id] += 1
            wanted = delays[min(retries[attempt.event_id], len(delays)) - 1]
            gap = attempt.at - last_call[attempt.event_id]
            if gap + CLOCK_TOLERANCE_S < wanted:
                problems.append(f"{attempt.event_id}: retry {retries[attempt.event_id]} came "
                                f"{gap:.3f} s after the previous try (delay {wanted} s)")
        last_call[attempt.event_id] = attempt.at
    return _report("I3 retry delays", problems, retries=sum(retries.values()))


def check_liveness(source: Sequence[Message], output: Sequence[Message], *, failing_keys: Iterable[str],
                   within: float | None = None) -> Report:
    """I4: events of keys that never failed went straight through the main app (and within `within` s)."""
    failing = set(failing_keys)
    produced = {}
    for message in source:
        try:
            event = decode_event(message.key, message.value)
        except PatternError:
            continue
        if event.key not in failing:
            produced[event.id] = message.timestamp_ms
    done = {}
    problems = []
    for message, row in zip(output, output_rows(output)):
        if row["id"] in produced and row["id"] not in done:
            done[row["id"]] = message.timestamp_ms
            if row["via"] != "main":
                problems.append(f"{row['id']} of a healthy key was held back (processed by the {row['via']} app)")
    problems += [f"{event_id} of a healthy key never reached the output" for event_id in sorted(set(produced) - set(done))]
    latencies = [(done[i] - produced[i]) / 1000 for i in done]
    if within is not None:
        problems += [f"{i} took {(done[i] - produced[i]) / 1000:.3f} s (bound {within} s)"
                     for i in sorted(done) if (done[i] - produced[i]) / 1000 > within]
    return _report("I4 liveness", problems, healthy_events=len(produced),
                   max_latency_s=round(max(latencies, default=0.0), 3))


def check_store_matches_redirect(store: Mapping[str, str], redirect: Sequence[Message], *,
                                 expect_empty: bool = True) -> Report:
    """I5: the in-memory store equals the compacted redirect topic, and (at rest) both are empty."""
    view = compacted_view((m.key, m.value) for m in redirect)
    problems = []
    for mid in sorted(set(view) | set(store)):
        if view.get(mid) != store.get(mid):
            problems.append(f"{mid}: store has {store.get(mid)!r}, redirect topic has {view.get(mid)!r}")
    if expect_empty and view:
        problems.append(f"{len(view)} id(s) still locked at rest: {', '.join(sorted(view)[:5])}")
    return _report("I5 store = compacted redirect topic", problems, in_store=len(store), in_topic=len(view),
                   redirect_records=len(redirect))


def check_stop_on_error(source: Sequence[Message], output: Sequence[Message], *, committed: int | None,
                        failing_offset: int) -> Report:
    """I6: the committed offset is the failing record's, nothing at or past it was output, all before it was."""
    problems = []
    if committed != failing_offset:
        problems.append(f"committed offset is {committed}, the failing record is at {failing_offset}")
    offset_of = {event_id: coordinates[2] for coordinates, event_id in _event_ids(source).items() if event_id}
    output_ids = {row["id"] for row in output_rows(output)}
    past = sorted(i for i in output_ids if offset_of.get(i, -1) >= failing_offset)
    problems += [f"{i} (offset {offset_of[i]}) was processed past the failing record" for i in past]
    before = sorted(i for i, offset in offset_of.items() if offset < failing_offset and i not in output_ids)
    problems += [f"{i} (offset {offset_of[i]}) before the failing record was not processed" for i in before]
    return _report("I6 stop-on-error", problems, committed=committed, failing_offset=failing_offset)


def check_dead_letter_headers(dead_letters: Sequence[Message], source: Sequence[Message] = ()) -> Report:
    """I7: every error-topic record names its origin, error class and message, attempts and time."""
    by_origin = {_coordinates(m): m for m in source}
    problems = []
    for message in dead_letters:
        where = f"error-topic record @{message.offset}"
        missing = [name for name in hdr.DEAD_LETTER_HEADERS if not message.headers.get(name)]
        if missing:
            problems.append(f"{where} lacks {', '.join(missing)}")
            continue
        if hdr.attempts(message.headers) < 1:
            problems.append(f"{where} says it was tried {message.headers[hdr.ATTEMPTS]} times")
        origin = hdr.origin(message.headers)
        if by_origin:
            original = by_origin.get(origin)
            if original is None:
                problems.append(f"{where} points at {origin}, which is not in the source")
            elif (original.key, original.value) != (message.key, message.value):
                problems.append(f"{where} does not carry the original key and value of {origin}")
    return _report("I7 useful error-topic records", problems, dead_lettered=len(dead_letters))


def reports_frame(reports: Iterable[Report]):
    """The reports as a pandas DataFrame: check, ok, problems (first one)."""
    import pandas as pd

    return pd.DataFrame([{"check": r.name, "ok": r.ok, "problems": len(r.problems),
                          "first problem": r.problems[0] if r.problems else ""} for r in reports])
