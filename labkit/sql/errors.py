"""The error labkit.sql raises: a SqlSyntaxError that also knows how ksqlDB words the same failure."""
from __future__ import annotations

from labkit.errors import SqlSyntaxError

__all__ = ["SqlParseError"]


class SqlParseError(SqlSyntaxError):
    """A statement labkit.sql cannot parse, or one ksqlDB rejects while building its syntax tree.

    `stage` says where ksqlDB 0.29 fails and so how it words the error (`ksql_message`):
    "syntax" (grammar: "line L:C: Syntax Error\\n..."), "located" (a literal while preparing:
    "Failed to prepare statement: line L:C+1: ...", ksqlDB's column is one past the real one there),
    "prepare" ("Failed to prepare statement: ...") or "plain" (the message alone).
    """

    def __init__(self, message: str, line: int, column: int, excerpt: str = "", *,
                 stage: str = "syntax") -> None:
        super().__init__(message, line, column, excerpt)
        self.stage = stage

    @property
    def ksql_message(self) -> str:
        """The error text ksqlDB 0.29 gives for the same failure (before any "Statement: ..." suffix)."""
        if self.stage == "syntax":
            return f"line {self.line}:{self.column}: {self.message}"
        if self.stage == "located":
            return f"Failed to prepare statement: line {self.line}:{self.column + 1}: {self.message}"
        if self.stage == "prepare":
            return f"Failed to prepare statement: {self.message}"
        return self.message
