"""Variable substitution: `${name}` references replaced by DEFINEd values before a statement runs.

ksqlDB parses a script first, then substitutes each statement's variables just before executing it
(so a DEFINE earlier in the same script applies). References outside strings are replaced by the raw
value (an identifier or a literal such as `'text'`, `42` or `true`); references inside a string literal
are replaced by the value with its single quotes doubled. Unknown names are left as they are.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from labkit.sql.tokens import TokenType, tokenize

__all__ = ["substitute_variables"]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_@]*)\}")


def substitute_variables(sql: str, variables: Mapping[str, str]) -> str:
    """Replace `${name}` references in `sql` with `variables[name]`.

    >>> substitute_variables("SELECT * FROM ${src} WHERE name = '${who}';", {"src": "users", "who": "O'Neil"})
    "SELECT * FROM users WHERE name = 'O''Neil';"
    """
    if "${" not in sql:
        return sql
    parts: list[str] = []
    position = 0
    for token in tokenize(sql):
        if token.type is TokenType.VARIABLE and token.value in variables:
            replacement = variables[token.value]
        elif token.type is TokenType.STRING and "${" in token.text:
            replacement = _REFERENCE.sub(
                lambda m: variables[m[1]].replace("'", "''") if m[1] in variables else m[0], token.text)
        else:
            continue
        parts.append(sql[position:token.start])
        parts.append(replacement)
        position = token.end
    parts.append(sql[position:])
    return "".join(parts)
