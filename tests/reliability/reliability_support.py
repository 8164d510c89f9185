"""Helpers of the reliability tests: free ports, unique names, engine processes of a test's own."""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from labkit import config
from labkit.cluster.engine_process import EngineProcess


def free_port() -> int:
    """A TCP port nothing listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique_name(prefix: str = "REL") -> str:
    """An upper-case name no other test (or engineer) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8].upper()}"


def engine_settings(settings: config.Settings, run_dir: Path, **overrides: object) -> config.Settings:
    """Settings for an engine process of a test's own: run dir, port and service id."""
    return settings.with_overrides(run_dir=run_dir, ksql_url=f"http://127.0.0.1:{free_port()}",
                                   ksql_service_id=f"r{uuid.uuid4().hex[:8]}_", **overrides)


def drop_engine_topics(process: EngineProcess) -> None:
    """Delete the topics an engine of the tests kept for itself: command topic, processing log, changelogs."""
    from kafka import KafkaAdminClient

    service_id = process.settings.ksql_service_id
    admin = KafkaAdminClient(**process.settings.kafka_client_config(), client_id="reliability-cleanup")
    try:
        own = [t for t in admin.list_topics()
               if t.startswith(f"_confluent-ksql-{service_id}") or t == f"{service_id}ksql_processing_log"]
        if own:
            admin.delete_topics(own)
        groups = [g["group_id"] for g in admin.list_groups() if f"-{service_id}query_" in g["group_id"]]
        if groups:
            admin.delete_groups(groups)
    finally:
        admin.close()


class EngineFactory:
    """Starts engine processes of the test's own (optionally with extra environment) and stops them all."""

    def __init__(self, settings: config.Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.settings = settings
        self.tmp = tmp_path_factory
        self.started: list[EngineProcess] = []

    def start(self, *, env: dict[str, str] | None = None, process: EngineProcess | None = None,
              timeout: float = 120.0, **overrides: object) -> EngineProcess:
        """Start (or restart) an engine process; `env` is added to its environment only."""
        if process is None:
            process = EngineProcess(engine_settings(self.settings, self.tmp.mktemp("engine"), **overrides))
        if process not in self.started:
            self.started.append(process)  # even if it fails to start, its topics are cleaned up
        saved = {key: os.environ.get(key) for key in (env or {})}
        os.environ.update(env or {})  # EngineProcess.environment() copies os.environ when it starts
        try:
            process.up(timeout=timeout)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return process

    def stop_all(self) -> None:
        for process in self.started:
            try:
                process.down()
            finally:
                drop_engine_topics(process)


def delete_topics_containing(settings: config.Settings, fragment: str) -> list[str]:
    """Delete every topic whose name contains `fragment` (any case); returns their names."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="reliability-cleanup")
    try:
        doomed = [t for t in admin.list_topics() if fragment.lower() in t.lower()]
        if doomed:
            admin.delete_topics(doomed)
        return doomed
    finally:
        admin.close()
