"""Token cursor shared by the parsers: look-ahead, expectations, identifiers and ksqlDB-style errors.

Error messages follow ksqlDB's (`SyntaxErrorValidator`): "Syntax Error" then a detail line such as
"Expecting {',', ')'}" (only when three or fewer tokens were possible), "missing ')' at ','",
"Syntax error at or near 'X' at line 1:8", "Unknown statement 'SELEC'" / "Did you mean 'SELECT'?" or
"\"SIZE\" is a reserved keyword ...". Every error carries line, column and the line underlined.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NoReturn, TypeVar

from labkit.errors import SqlSyntaxError
from labkit.sql.ast import Position
from labkit.sql.tokens import RESERVED, Token, TokenType, syntax_error

__all__ = ["TokenCursor", "STATEMENT_KEYWORDS"]

T = TypeVar("T")

# The statement keywords ksqlDB suggests from when a statement starts with an unknown word.
STATEMENT_KEYWORDS = ("SELECT", "CREATE", "INSERT", "DESCRIBE", "PRINT", "EXPLAIN", "SHOW", "LIST",
                      "TERMINATE", "PAUSE", "RESUME", "DROP", "SET", "DEFINE", "UNDEFINE", "UNSET",
                      "ASSERT", "ALTER")

_CLOSERS = {TokenType.RPAREN: "')'", TokenType.RBRACKET: "']'"}
_SOURCE_NAME = re.compile(r"[a-zA-Z0-9_-]*")
_VARIABLE_TEXT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_@]*\}")


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class TokenCursor:
    """Position in a token list plus the helpers every grammar rule uses."""

    def __init__(self, sql: str, tokens: list[Token]) -> None:
        self.sql = sql
        self.tokens = tokens
        self.index = 0
        self.lambda_params: frozenset[str] = frozenset()
        self.furthest_error = -1  # token index of the furthest error raised, to pick among alternatives

    # ------------------------------------------------------------------------------------ looking

    @property
    def cur(self) -> Token:
        """The current token."""
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        """The token `ahead` places after the current one (EOF past the end)."""
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        """Consume and return the current token."""
        token = self.tokens[self.index]
        if token.type is not TokenType.EOF:
            self.index += 1
        return token

    def at(self, *types: TokenType) -> bool:
        """True if the current token is of one of `types`."""
        return self.cur.type in types

    def at_word(self, *words: str) -> bool:
        """True if the current token is the unquoted word (keyword) `words[0]` or another of `words`."""
        return self.cur.is_word(*words)

    def match(self, type_: TokenType) -> Token | None:
        """Consume the current token if it is of `type_`."""
        return self.advance() if self.cur.type is type_ else None

    def match_word(self, *words: str) -> Token | None:
        """Consume the current token if it is one of the unquoted `words`."""
        return self.advance() if self.cur.is_word(*words) else None

    def match_words(self, *words: str) -> bool:
        """Consume a sequence of words (e.g. IF NOT EXISTS) if the whole sequence is next."""
        if all(self.peek(i).is_word(w) for i, w in enumerate(words)):
            self.index += len(words)
            return True
        return False

    def expect(self, type_: TokenType, *others: str) -> Token:
        """Consume a token of `type_` or fail; `others` are further names for the expected set."""
        if self.cur.type is type_:
            return self.advance()
        return self.fail_expected([type_.value, *others])

    def expect_word(self, word: str, *others: str) -> Token:
        """Consume the keyword `word` or fail."""
        if self.cur.is_word(word):
            return self.advance()
        return self.fail_expected([f"'{word}'", *others])

    @staticmethod
    def position(token: Token) -> Position:
        """The node position of `token`."""
        return Position(token.line, token.column)

    def text_from(self, first: Token) -> str:
        """Source text from `first` up to the last consumed token."""
        last = self.tokens[self.index - 1] if self.index > 0 else first
        return self.sql[first.start:max(last.end, first.start)]

    # ---------------------------------------------------------------------------------- identifiers

    def at_identifier(self, ahead: int = 0) -> bool:
        """True if the token `ahead` can be an identifier (unreserved word, quoted, digit-led or ${var})."""
        token = self.peek(ahead)
        if token.type is TokenType.WORD:
            return token.value not in RESERVED
        return token.type in (TokenType.QUOTED_IDENTIFIER, TokenType.DIGIT_IDENTIFIER, TokenType.VARIABLE)

    def identifier(self) -> str:
        """Consume an identifier: unquoted upper-cased, quoted as written, `${var}` kept as text."""
        token = self.cur
        if self.at_identifier():
            self.advance()
            return token.text if token.type is TokenType.VARIABLE else token.value
        if token.type is TokenType.WORD:
            self.fail(token, f'"{token.text}" is a reserved keyword and it can\'t be used as an identifier. '
                             f"You can use it as an identifier by escaping it as `{token.value}`")
        return self.fail_expected(["IDENTIFIER", "QUOTED_IDENTIFIER", "BACKQUOTED_IDENTIFIER",
                                   "DIGIT_IDENTIFIER", "VARIABLE"])

    def source_name(self) -> str:
        """Consume a stream/table name: an identifier made of letters, digits, '_' or '-' only."""
        token = self.cur
        name = self.identifier()
        if not _SOURCE_NAME.fullmatch(name) and not _VARIABLE_TEXT.fullmatch(name):
            self.fail(token, f"Illegal argument at Line: {token.line}, Col: {token.column}. "
                             f"Source names may only contain alphanumeric values, '_' or '-'.", stage="plain")
        return name

    # --------------------------------------------------------------------------------------- errors

    def fail(self, token: Token, message: str, *, stage: str = "syntax") -> NoReturn:
        """Raise a SqlParseError at `token`; the "syntax" stage prefixes ksqlDB's "Syntax Error" line."""
        self.furthest_error = max(self.furthest_error, self.tokens.index(token)
                                  if token is not self.cur else self.index)
        raise syntax_error(self.sql, token, f"Syntax Error\n{message}" if stage == "syntax" else message,
                           stage)

    def fail_expected(self, expected: Iterable[str], token: Token | None = None) -> NoReturn:
        """Fail because the current token is none of `expected` (names as ksqlDB prints them)."""
        token = token or self.cur
        names = list(dict.fromkeys(expected))
        if token.type is TokenType.EOF and self._has_unclosed_bracket():
            self.fail(token, "Syntax error at or near \";\"\n'}', ']', or ')' is missing")
        if len(names) == 1 and token.type in (TokenType.COMMA, TokenType.SEMICOLON) \
                and names[0] in _CLOSERS.values():
            self.fail(token, f"missing {names[0]} at '{token.display}'")
        if len(names) <= 3:
            shown = names[0] if len(names) == 1 else "{" + ", ".join(names) + "}"
            self.fail(token, f"Expecting {shown}")
        self.fail(token, "")

    def fail_no_viable(self, token: Token | None = None) -> NoReturn:
        """Fail because no rule alternative fits the current token."""
        token = token or self.cur
        self.fail(token, f"Syntax error at or near '{token.display}' at line {token.line}:{token.column}")

    def fail_unknown_statement(self) -> NoReturn:
        """Fail at a statement that starts with no statement keyword, suggesting the closest one."""
        token = self.cur
        if token.type is TokenType.EOF:
            self.fail_no_viable(token)
        guess = min(STATEMENT_KEYWORDS, key=lambda kw: _levenshtein(kw, token.text.upper()))
        self.fail(token, f"Unknown statement '{token.display}'\nDid you mean '{guess}'?")

    def _has_unclosed_bracket(self) -> bool:
        depth = 0
        for token in self.tokens[:self.index]:
            if token.type in (TokenType.LPAREN, TokenType.LBRACKET):
                depth += 1
            elif token.type in (TokenType.RPAREN, TokenType.RBRACKET):
                depth -= 1
        return depth > 0

    # ---------------------------------------------------------------------------------- speculation

    def attempt(self, rule: Callable[[], T]) -> tuple[T | None, SqlSyntaxError | None, int]:
        """Run `rule`; on a syntax error rewind and return the error and how far it got."""
        start, params, furthest = self.index, self.lambda_params, self.furthest_error
        self.furthest_error = -1
        try:
            return rule(), None, self.index
        except SqlSyntaxError as error:
            reached = self.furthest_error
            self.index, self.lambda_params = start, params
            return None, error, reached
        finally:
            self.furthest_error = max(furthest, self.furthest_error)

    def first_of(self, *rules: Callable[[], T]) -> T:
        """The result of the first rule that parses; else raise the error that got furthest."""
        best: tuple[int, SqlSyntaxError] | None = None
        for rule in rules:
            result, error, reached = self.attempt(rule)
            if error is None:
                return result  # type: ignore[return-value]
            if best is None or reached > best[0]:
                best = (reached, error)
        assert best is not None
        self.furthest_error = max(self.furthest_error, best[0])
        raise best[1]
