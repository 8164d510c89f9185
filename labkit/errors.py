"""Typed errors for labkit: one base class, messages a learner can act on.

Every error labkit raises on purpose derives from `LabkitError`, so the `labkit` command can print the
message (never a traceback) and notebooks can catch one type.
"""
from __future__ import annotations


class LabkitError(Exception):
    """Base of every error labkit raises on purpose."""


class ConfigError(LabkitError):
    """A setting (LABKIT_* variable or argument) has a value labkit cannot use."""


class ClusterError(LabkitError):
    """The local cluster could not be started, stopped or reached."""


class ToolMissingError(ClusterError):
    """A program labkit needs (java, mvn, docker) is not installed."""


class PortInUseError(ClusterError):
    """A port labkit wants to listen on is already taken by another program."""

    def __init__(self, port: int, what: str) -> None:
        self.port = port
        self.what = what
        super().__init__(
            f"Port {port} ({what}) is already in use by another program. "
            f"Stop that program, or run `labkit down` if it is an earlier labkit cluster."
        )


class NodeStartError(ClusterError):
    """A Kafka node exited or did not become ready; carries the tail of its log."""

    def __init__(self, node_id: int, reason: str, log_path: str, log_tail: str) -> None:
        self.node_id = node_id
        self.log_path = log_path
        self.log_tail = log_tail
        super().__init__(
            f"Kafka node {node_id} {reason}.\n"
            f"Last lines of its log:\n{log_tail}\n"
            f"Full log: {log_path}"
        )


class SqlSyntaxError(LabkitError):
    """A SQL statement could not be parsed; carries the position and an underlined excerpt."""

    def __init__(self, message: str, line: int, column: int, excerpt: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.excerpt = excerpt
        text = f"line {line}:{column}: {message}"
        if excerpt:
            text += "\n" + excerpt
        super().__init__(text)


class KsqlError(LabkitError):
    """An error answered by a ksqlDB server (or the embedded engine), in ksqlDB's error shape."""

    def __init__(self, error_code: int, message: str, statement_text: str | None = None) -> None:
        self.error_code = error_code
        self.message = message
        self.statement_text = statement_text
        text = f"[{error_code}] {message}"
        if statement_text:
            text += f"\nStatement: {statement_text}"
        super().__init__(text)
