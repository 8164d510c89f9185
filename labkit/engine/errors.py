"""Errors of the engine core, worded as ksqlDB 0.29 words them.

`KsqlStatementError` is what a failed statement raises out of the engine (error code 40001 unless
said otherwise, with the statement text). Inside the engine, the analyzer, compiler and planner raise
the lighter `EngineError` subclasses with ksqlDB's message only; `labkit.engine.engine` attaches the
statement text when the statement fails.
"""
from __future__ import annotations

from labkit.errors import KsqlError, LabkitError

__all__ = [
    "KsqlStatementError", "EngineError", "TypeCheckError", "CodegenError", "UnknownColumnError",
    "UnknownSourceError", "NotSupportedError", "ProcessingError",
]


class KsqlStatementError(KsqlError):
    """A statement failed (ksqlDB's KsqlStatementException): error code, message and statement text."""

    def __init__(self, message: str, statement_text: str | None = None, error_code: int = 40001) -> None:
        super().__init__(error_code, message, statement_text)
        self.entities: list[dict] = []  # entities of the statements of the same request that ran before


class EngineError(LabkitError):
    """A statement cannot run; `message` is ksqlDB's text (the engine adds the statement)."""

    error_code = 40001

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class TypeCheckError(EngineError):
    """An expression is ill-typed (ksqlDB's ExpressionTypeManager stage: no prefix)."""


class CodegenError(EngineError):
    """An expression cannot be compiled (ksqlDB's code generation stage: 'Invalid Select: ...')."""


class UnknownColumnError(EngineError):
    """A column reference names no column of the sources."""


class UnknownSourceError(EngineError):
    """A statement names a stream or table that does not exist."""


class NotSupportedError(EngineError):
    """A valid ksqlDB statement that labkit's engine does not implement yet."""


class ProcessingError(LabkitError):
    """A record failed while a query processed it (ksqlDB logs it to the processing log and moves on)."""
