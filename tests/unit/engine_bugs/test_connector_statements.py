"""Connector statements answer as ksqlDB 0.29 does when nothing listens at ksql.connect.url."""
from __future__ import annotations

import socket

import pytest

from labkit.engine.engine import KsqlEngine
from labkit.engine.server_adapter import ServerEngine
from labkit.engine.topics import InMemoryTopicStore
from labkit.server.protocol import StatementError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on exit: nothing listens there


@pytest.mark.parametrize("statement", ["SHOW CONNECTORS;", "LIST SOURCE CONNECTORS;", "DESCRIBE CONNECTOR c;",
                                       "DROP CONNECTOR c;"])
def test_connector_statement_without_connect_cluster_is_a_server_error(statement: str) -> None:
    port = _closed_port()
    server = ServerEngine(KsqlEngine(InMemoryTopicStore(), {"ksql.connect.url": f"http://127.0.0.1:{port}"})).start()
    with pytest.raises(StatementError) as caught:
        server.execute(statement, properties={}, variables={})
    assert caught.value.error_code == 50000
    assert caught.value.message.startswith(
        "io.confluent.ksql.util.KsqlServerException: org.apache.hc.client5.http.HttpHostConnectException: "
        f"Connect to http://127.0.0.1:{port} [127.0.0.1/127.0.0.1] failed: Connection refused\n")
    assert caught.value.message.endswith("Caused by: Could not connect to the server. Please check the server "
                                         "details are\n\tcorrect and that the server is running.")
