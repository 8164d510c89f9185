"""The processing log: records a query could not deserialize or evaluate, logged and skipped.

ksqlDB writes one entry per failure (logger `processing.<queryId>.<step>`): type 0 deserialization
error, 1 record processing error, 2 production error, 3 serialization error. Entries are kept in a
bounded in-memory buffer and, when a sink is attached (the processing-log topic), written there as the
JSON rows of the KSQL_PROCESSING_LOG stream. Logging never raises into the query.
"""
from __future__ import annotations

import base64
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["ProcessingLog", "StepLogger", "LogEntry", "PROCESSING_LOG_SCHEMA", "DESERIALIZATION_ERROR",
           "RECORD_PROCESSING_ERROR", "PRODUCTION_ERROR", "SERIALIZATION_ERROR"]

DESERIALIZATION_ERROR, RECORD_PROCESSING_ERROR, PRODUCTION_ERROR, SERIALIZATION_ERROR = 0, 1, 2, 3

PROCESSING_LOG_SCHEMA = (
    "LOGGER STRING, LEVEL STRING, TIME BIGINT, MESSAGE STRUCT<TYPE INT, "
    "DESERIALIZATIONERROR STRUCT<TARGET STRING, ERRORMESSAGE STRING, RECORDB64 STRING, "
    "CAUSE ARRAY<STRING>, `topic` STRING>, "
    "RECORDPROCESSINGERROR STRUCT<ERRORMESSAGE STRING, RECORD STRING, CAUSE ARRAY<STRING>>, "
    "PRODUCTIONERROR STRUCT<ERRORMESSAGE STRING>, "
    "SERIALIZATIONERROR STRUCT<TARGET STRING, ERRORMESSAGE STRING, RECORD STRING, CAUSE ARRAY<STRING>, "
    "`topic` STRING>>"
)
"""Value columns of the KSQL_PROCESSING_LOG stream."""

_log = logging.getLogger("labkit.engine.processing")


@dataclass(frozen=True)
class LogEntry:
    """One processing-log entry."""

    logger: str
    type: int
    message: str
    causes: tuple[str, ...]
    time: int
    topic: str = ""
    target: str = ""
    record: bytes | None = None

    def as_row(self, include_rows: bool = False) -> dict[str, Any]:
        """The KSQL_PROCESSING_LOG value (JSON object) for this entry."""
        message: dict[str, Any] = {"TYPE": self.type, "DESERIALIZATIONERROR": None, "RECORDPROCESSINGERROR": None,
                                   "PRODUCTIONERROR": None, "SERIALIZATIONERROR": None}
        record_b64 = base64.b64encode(self.record).decode() if include_rows and self.record is not None else None
        if self.type == DESERIALIZATION_ERROR:
            message["DESERIALIZATIONERROR"] = {"TARGET": self.target, "ERRORMESSAGE": self.message,
                                               "RECORDB64": record_b64, "CAUSE": list(self.causes),
                                               "topic": self.topic}
        elif self.type == SERIALIZATION_ERROR:
            message["SERIALIZATIONERROR"] = {"TARGET": self.target, "ERRORMESSAGE": self.message, "RECORD": None,
                                             "CAUSE": list(self.causes), "topic": self.topic}
        elif self.type == PRODUCTION_ERROR:
            message["PRODUCTIONERROR"] = {"ERRORMESSAGE": self.message}
        else:
            message["RECORDPROCESSINGERROR"] = {"ERRORMESSAGE": self.message, "RECORD": None,
                                                "CAUSE": list(self.causes)}
        return {"LOGGER": self.logger, "LEVEL": "ERROR", "TIME": self.time, "MESSAGE": message}


def _causes(error: BaseException | None) -> tuple[str, ...]:
    causes: list[str] = []
    seen = 0
    while error is not None and seen < 10:
        extra = getattr(error, "causes", None)
        if extra:
            causes.extend(str(c) for c in extra)
        else:
            causes.append(str(error) or type(error).__name__)
        error = error.__cause__
        seen += 1
    return tuple(causes)


class ProcessingLog:
    """Collects processing errors of every query; `sink(entry)` (if set) writes them to the log topic."""

    def __init__(self, capacity: int = 1000, clock: Callable[[], float] = time.time) -> None:
        self.entries: deque[LogEntry] = deque(maxlen=capacity)
        self.sink: Callable[[LogEntry], None] | None = None
        self._clock = clock

    def log(self, logger: str, kind: int, message: str, error: BaseException | None = None, *,
            topic: str = "", target: str = "", record: bytes | None = None) -> None:
        """Record one failure; never raises."""
        entry = LogEntry(logger, kind, message, _causes(error), int(self._clock() * 1000), topic, target, record)
        self.entries.append(entry)
        _log.debug("%s: %s %s", logger, message, entry.causes)
        if self.sink is not None:
            try:
                self.sink(entry)
            except Exception:  # noqa: BLE001 - the log must not break the query; report and go on
                _log.exception("could not write a processing-log entry")

    def logger(self, name: str) -> "StepLogger":
        """A logger for one step (`processing.<queryId>.<step>`)."""
        return StepLogger(self, name)

    def messages(self) -> list[str]:
        """Messages of the buffered entries (tests)."""
        return [e.message for e in self.entries]


class StepLogger:
    """A step's view of the processing log; `error()` matches compile.ProcessingLogger."""

    def __init__(self, log: ProcessingLog, name: str) -> None:
        self._log = log
        self.name = name

    def error(self, message: str, cause: BaseException | None = None) -> None:
        self._log.log(self.name, RECORD_PROCESSING_ERROR, message, cause)

    def deserialization_error(self, message: str, cause: BaseException | None, *, topic: str, target: str,
                              record: bytes | None) -> None:
        self._log.log(self.name, DESERIALIZATION_ERROR, message, cause, topic=topic, target=target, record=record)

    def serialization_error(self, message: str, cause: BaseException | None, *, topic: str, target: str) -> None:
        self._log.log(self.name, SERIALIZATION_ERROR, message, cause, topic=topic, target=target)


def entry_json(entry: LogEntry) -> bytes:
    """The JSON value bytes of an entry."""
    return json.dumps(entry.as_row()).encode()
