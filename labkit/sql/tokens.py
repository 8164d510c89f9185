"""Tokenizer for ksqlDB SQL: words, quoted identifiers, literals and operators, each with its position.

Follows the lexer rules of ksqlDB 0.29's `SqlBase.g4`: keywords are case-insensitive, unquoted words are
upper-cased, back-quoted and double-quoted identifiers keep their case, strings use single quotes with
`''` as the escape, `${name}` is a variable reference, `--` and `/* */` are comments.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from labkit.sql.errors import SqlParseError

__all__ = [
    "KEYWORDS",
    "NON_RESERVED",
    "RESERVED",
    "Token",
    "TokenType",
    "excerpt",
    "syntax_error",
    "tokenize",
]


class TokenType(enum.Enum):
    """Kinds of token; the value is the name ksqlDB's error messages use for the kind."""

    WORD = "IDENTIFIER"  # an unquoted identifier or keyword
    QUOTED_IDENTIFIER = "QUOTED_IDENTIFIER"  # `back-quoted` or "double-quoted"
    DIGIT_IDENTIFIER = "DIGIT_IDENTIFIER"  # starts with a digit, e.g. 1ST_COLUMN
    STRING = "STRING"
    INTEGER = "INTEGER_VALUE"
    DECIMAL = "DECIMAL_VALUE"
    DOUBLE = "FLOATING_POINT_VALUE"
    VARIABLE = "VARIABLE"  # ${name}
    EQ = "'='"
    NEQ = "'<>'"
    LT = "'<'"
    LTE = "'<='"
    GT = "'>'"
    GTE = "'>='"
    PLUS = "'+'"
    MINUS = "'-'"
    STAR = "'*'"
    SLASH = "'/'"
    PERCENT = "'%'"
    CONCAT = "'||'"
    ASSIGN = "':='"
    ARROW = "'->'"
    LAMBDA = "'=>'"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    COMMA = "','"
    DOT = "'.'"
    SEMICOLON = "';'"
    EOF = "<EOF>"


# Every keyword token of the grammar (`'STRING'` included: it is an implicit token there).
KEYWORDS: frozenset[str] = frozenset("""
    EMIT CHANGES FINAL SELECT FROM AS ALL DISTINCT WHERE WITHIN WINDOW GROUP BY HAVING LIMIT AT OR AND IN
    NOT EXISTS BETWEEN LIKE ESCAPE IS NULL TRUE FALSE INTEGER DATE TIME TIMESTAMP INTERVAL YEAR MONTH DAY
    HOUR MINUTE SECOND MILLISECOND YEARS MONTHS DAYS HOURS MINUTES SECONDS MILLISECONDS ZONE TUMBLING
    HOPPING SIZE ADVANCE RETENTION GRACE PERIOD CASE WHEN THEN ELSE END JOIN FULL OUTER INNER LEFT RIGHT ON
    PARTITION STRUCT WITH VALUES CREATE TABLE TOPIC STREAM STREAMS INSERT DELETE INTO DESCRIBE EXTENDED
    PRINT EXPLAIN ANALYZE TYPE TYPES CAST SHOW LIST TABLES TOPICS QUERY QUERIES TERMINATE PAUSE RESUME LOAD
    COLUMNS COLUMN PARTITIONS FUNCTIONS FUNCTION DROP TO RENAME ARRAY MAP SET DEFINE UNDEFINE RESET
    SESSION SAMPLE EXPORT CATALOG PROPERTIES BEGINNING UNSET RUN SCRIPT DECIMAL KEY CONNECTOR CONNECTORS
    SINK SOURCE NAMESPACE MATERIALIZED VIEW PRIMARY REPLACE ASSERT ADD ALTER VARIABLES PLUGINS HEADERS
    HEADER SYSTEM TIMEOUT SCHEMA SUBJECT ID IF STRING
""".split())

# Keywords that may still be used as identifiers (the grammar's `nonReserved` rule).
NON_RESERVED: frozenset[str] = frozenset("""
    SHOW TABLES COLUMNS COLUMN PARTITIONS FUNCTIONS FUNCTION SESSION STRUCT MAP ARRAY PARTITION INTEGER
    DATE TIME TIMESTAMP INTERVAL ZONE STRING YEAR MONTH DAY HOUR MINUTE SECOND EXPLAIN ANALYZE TYPE TYPES
    SET RESET IF SOURCE SINK PRIMARY KEY EMIT CHANGES FINAL ESCAPE REPLACE ASSERT ALTER ADD HEADER HEADERS
    GRACE PERIOD DEFINE UNDEFINE VARIABLES PLUGINS SYSTEM TIMEOUT SCHEMA SUBJECT ID
""".split())

# Keywords that can only be used as identifiers when quoted.
RESERVED: frozenset[str] = KEYWORDS - NON_RESERVED


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its source text, its meaning and where it starts (1-based line and column)."""

    type: TokenType
    text: str  # exactly as written in the SQL
    value: str  # WORD: upper-cased; quoted identifier, string: unquoted; VARIABLE: the name
    line: int
    column: int
    start: int  # offset of the first character in the SQL text
    end: int  # offset just past the last character

    def is_word(self, *words: str) -> bool:
        """True if this is an unquoted word, and one of `words` when any are given."""
        return self.type is TokenType.WORD and (not words or self.value in words)

    @property
    def display(self) -> str:
        """The token as error messages show it."""
        return "<EOF>" if self.type is TokenType.EOF else self.text


_OPERATORS: tuple[tuple[str, TokenType], ...] = (
    ("<>", TokenType.NEQ), ("!=", TokenType.NEQ), ("<=", TokenType.LTE), (">=", TokenType.GTE),
    ("||", TokenType.CONCAT), (":=", TokenType.ASSIGN), ("->", TokenType.ARROW), ("=>", TokenType.LAMBDA),
    ("=", TokenType.EQ), ("<", TokenType.LT), (">", TokenType.GT), ("+", TokenType.PLUS),
    ("-", TokenType.MINUS), ("*", TokenType.STAR), ("/", TokenType.SLASH), ("%", TokenType.PERCENT),
    ("(", TokenType.LPAREN), (")", TokenType.RPAREN), ("[", TokenType.LBRACKET), ("]", TokenType.RBRACKET),
    (",", TokenType.COMMA), (".", TokenType.DOT), (";", TokenType.SEMICOLON),
)

_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_@]*")
_DIGIT_IDENTIFIER = re.compile(r"[0-9][A-Za-z0-9_@]+")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_@]*)\}")
# Longest number first: a float needs an exponent, a decimal needs a point.
_NUMBERS: tuple[tuple[re.Pattern[str], TokenType], ...] = (
    (re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[Ee][+-]?[0-9]+"), TokenType.DOUBLE),
    (re.compile(r"[0-9]+\.[0-9]*|\.[0-9]+"), TokenType.DECIMAL),
    (re.compile(r"[0-9]+"), TokenType.INTEGER),
)
_QUOTES = {"'": TokenType.STRING, "`": TokenType.QUOTED_IDENTIFIER, '"': TokenType.QUOTED_IDENTIFIER}


def excerpt(sql: str, line: int, column: int, length: int = 1) -> str:
    """The SQL line at `line` with `^` marks under `length` characters from `column` (both 1-based)."""
    lines = sql.split("\n")
    text = lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""
    length = max(1, min(length, len(text) - column + 1))
    indent = "".join(ch if ch == "\t" else " " for ch in text[: column - 1])
    return f"{text}\n{indent}{'^' * length}"


def syntax_error(sql: str, token: Token, message: str, stage: str = "syntax") -> SqlParseError:
    """A SqlParseError at `token`, with the offending line and the token underlined."""
    return SqlParseError(message, token.line, token.column,
                         excerpt(sql, token.line, token.column, token.end - token.start), stage=stage)


class _Scanner:
    """Walks the SQL text once, tracking line and column."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.tokens: list[Token] = []

    def error(self, start: int, length: int, message: str) -> SqlParseError:
        line = self.sql.count("\n", 0, start) + 1
        column = start - (self.sql.rfind("\n", 0, start) + 1) + 1
        return SqlParseError(message, line, column, excerpt(self.sql, line, column, length))

    def emit(self, type_: TokenType, end: int, value: str | None = None) -> None:
        text = self.sql[self.pos:end]
        self.tokens.append(Token(type_, text, text if value is None else value, self.line,
                                 self.pos - self.line_start + 1, self.pos, end))
        self.skip_to(end)

    def skip_to(self, end: int) -> None:
        newlines = self.sql.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.sql.rfind("\n", self.pos, end) + 1
        self.pos = end

    def quoted(self, quote: str) -> None:
        """A string or quoted identifier: ends at the first lone closing quote; doubled quotes escape."""
        i = self.pos + 1
        while True:
            i = self.sql.find(quote, i)
            if i < 0:
                what = "string literal" if quote == "'" else "quoted identifier"
                raise self.error(self.pos, 1, f"Syntax Error\nUnterminated {what} starting at {quote}")
            if self.sql.startswith(quote * 2, i):
                i += 2
                continue
            value = self.sql[self.pos + 1:i].replace(quote * 2, quote)
            self.emit(_QUOTES[quote], i + 1, value)
            return

    def number_or_digit_identifier(self) -> None:
        """Longest match wins; on a tie the number wins (`1E5` is a DOUBLE, `1E5X` an identifier)."""
        best_type, best_end = None, self.pos
        for pattern, type_ in _NUMBERS:
            m = pattern.match(self.sql, self.pos)
            if m and m.end() > best_end:
                best_type, best_end = type_, m.end()
        m = _DIGIT_IDENTIFIER.match(self.sql, self.pos)
        if m and m.end() > best_end:
            self.emit(TokenType.DIGIT_IDENTIFIER, m.end(), m.group().upper())
        else:
            assert best_type is not None
            self.emit(best_type, best_end)

    def run(self) -> list[Token]:
        sql = self.sql
        while self.pos < len(sql):
            ch = sql[self.pos]
            if ch.isspace():
                m = _WHITESPACE.match(sql, self.pos)
                assert m is not None
                self.skip_to(m.end())
            elif sql.startswith("--", self.pos):
                end = sql.find("\n", self.pos)
                self.skip_to(len(sql) if end < 0 else end + 1)
            elif sql.startswith("/*", self.pos):
                end = sql.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error(self.pos, 2, "Syntax Error\nUnterminated comment starting at /*")
                self.skip_to(end + 2)
            elif ch in _QUOTES:
                self.quoted(ch)
            elif ch.isascii() and (ch.isalpha() or ch == "_"):
                m = _WORD.match(sql, self.pos)
                assert m is not None
                self.emit(TokenType.WORD, m.end(), m.group().upper())
            elif ch.isdigit() and ch.isascii() or (ch == "." and sql[self.pos + 1:self.pos + 2].isdigit()):
                self.number_or_digit_identifier()
            elif ch == "$" and (m := _VARIABLE.match(sql, self.pos)):
                self.emit(TokenType.VARIABLE, m.end(), m.group(1))
            else:
                for text, type_ in _OPERATORS:
                    if sql.startswith(text, self.pos):
                        self.emit(type_, self.pos + len(text))
                        break
                else:
                    raise self.error(self.pos, 1, f"Syntax Error\nUnexpected character '{ch}'")
        self.tokens.append(Token(TokenType.EOF, "", "", self.line, self.pos - self.line_start + 1,
                                 self.pos, self.pos))
        return self.tokens


def tokenize(sql: str) -> list[Token]:
    """Split SQL text into tokens, ending with an EOF token; raises SqlParseError on bad characters.

    >>> [t.value for t in tokenize("select `Name` from s;")]
    ['SELECT', 'Name', 'FROM', 'S', ';', '']
    """
    return _Scanner(sql).run()
