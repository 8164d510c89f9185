"""labkit.sql.tokens: ksqlDB's lexer rules, token positions, and errors for text it cannot read."""
import pytest

from labkit.errors import SqlSyntaxError
from labkit.sql import TokenType, tokenize
from labkit.sql.tokens import KEYWORDS, NON_RESERVED, RESERVED


def kinds(sql):
    return [(t.type, t.value) for t in tokenize(sql)[:-1]]


def test_keywords_and_identifiers_are_upper_cased():
    assert kinds("select Name from users") == [
        (TokenType.WORD, "SELECT"), (TokenType.WORD, "NAME"), (TokenType.WORD, "FROM"),
        (TokenType.WORD, "USERS")]


def test_token_text_keeps_the_original_spelling():
    token = tokenize("sElEcT")[0]
    assert token.text == "sElEcT" and token.value == "SELECT"


def test_back_quoted_identifier_keeps_case_and_unescapes_doubled_quotes():
    assert kinds("`mixedCase` `a``b` `with space`") == [
        (TokenType.QUOTED_IDENTIFIER, "mixedCase"), (TokenType.QUOTED_IDENTIFIER, "a`b"),
        (TokenType.QUOTED_IDENTIFIER, "with space")]


def test_double_quoted_text_is_an_identifier_not_a_string():
    assert kinds('"Name" "a""b"') == [(TokenType.QUOTED_IDENTIFIER, "Name"),
                                      (TokenType.QUOTED_IDENTIFIER, 'a"b')]


def test_string_literal_unescapes_doubled_single_quotes():
    assert kinds("'it''s' '' 'a\nb'") == [(TokenType.STRING, "it's"), (TokenType.STRING, ""),
                                          (TokenType.STRING, "a\nb")]


@pytest.mark.parametrize("text, kind", [
    ("0", TokenType.INTEGER), ("42", TokenType.INTEGER), ("1.5", TokenType.DECIMAL),
    ("1.", TokenType.DECIMAL), (".5", TokenType.DECIMAL), ("1e5", TokenType.DOUBLE),
    ("1E5", TokenType.DOUBLE), ("1.5e-3", TokenType.DOUBLE), (".5E+2", TokenType.DOUBLE),
    ("1.e2", TokenType.DOUBLE), ("1abc", TokenType.DIGIT_IDENTIFIER), ("1_000", TokenType.DIGIT_IDENTIFIER),
    ("1e5x", TokenType.DIGIT_IDENTIFIER), ("1e", TokenType.DIGIT_IDENTIFIER),
])
def test_numbers_and_digit_identifiers_take_the_longest_match(text, kind):
    tokens = tokenize(text)
    assert len(tokens) == 2 and tokens[0].type is kind and tokens[0].text == text


def test_decimal_followed_by_word_splits():
    assert kinds("1.5abc") == [(TokenType.DECIMAL, "1.5"), (TokenType.WORD, "ABC")]


@pytest.mark.parametrize("text, kind", [
    ("=", TokenType.EQ), ("<>", TokenType.NEQ), ("!=", TokenType.NEQ), ("<", TokenType.LT),
    ("<=", TokenType.LTE), (">", TokenType.GT), (">=", TokenType.GTE), ("+", TokenType.PLUS),
    ("-", TokenType.MINUS), ("*", TokenType.STAR), ("/", TokenType.SLASH), ("%", TokenType.PERCENT),
    ("||", TokenType.CONCAT), (":=", TokenType.ASSIGN), ("->", TokenType.ARROW), ("=>", TokenType.LAMBDA),
    ("(", TokenType.LPAREN), (")", TokenType.RPAREN), ("[", TokenType.LBRACKET), ("]", TokenType.RBRACKET),
    (",", TokenType.COMMA), (".", TokenType.DOT), (";", TokenType.SEMICOLON),
])
def test_operators(text, kind):
    assert tokenize(text)[0].type is kind


def test_variable_reference():
    assert kinds("${my_var} ${x1}") == [(TokenType.VARIABLE, "my_var"), (TokenType.VARIABLE, "x1")]


def test_comments_are_skipped():
    sql = "-- leading comment\nSELECT /* inline\n comment */ a --@directive\n FROM s -- trailing"
    assert [v for _, v in kinds(sql)] == ["SELECT", "A", "FROM", "S"]


def test_positions_are_one_based_line_and_column():
    tokens = tokenize("SELECT a,\n  b\nFROM s;")
    assert [(t.text, t.line, t.column) for t in tokens[:-1]] == [
        ("SELECT", 1, 1), ("a", 1, 8), (",", 1, 9), ("b", 2, 3), ("FROM", 3, 1), ("s", 3, 6), (";", 3, 7)]
    eof = tokens[-1]
    assert eof.type is TokenType.EOF and (eof.line, eof.column) == (3, 8)


def test_positions_after_multi_line_string_and_comment():
    tokens = tokenize("'a\nb' /* x\ny */ c")
    assert (tokens[1].line, tokens[1].column) == (3, 6)


def test_offsets_slice_the_source_text():
    sql = "SELECT `a b`, 'x''y' FROM s"
    assert [sql[t.start:t.end] for t in tokenize(sql)[:-1]] == ["SELECT", "`a b`", ",", "'x''y'", "FROM", "s"]


@pytest.mark.parametrize("sql, line, column, needle", [
    ("SELECT 'abc", 1, 8, "Unterminated string literal"),
    ("SELECT `abc", 1, 8, "Unterminated quoted identifier"),
    ('SELECT "abc', 1, 8, "Unterminated quoted identifier"),
    ("SELECT a /* never closed", 1, 10, "Unterminated comment"),
    ("SELECT #", 1, 8, "Unexpected character '#'"),
    ("SELECT a\n  FROM s ?", 2, 10, "Unexpected character '?'"),
    ("SELECT $x", 1, 8, "Unexpected character '$'"),
])
def test_unreadable_text_raises_with_position(sql, line, column, needle):
    with pytest.raises(SqlSyntaxError) as info:
        tokenize(sql)
    assert (info.value.line, info.value.column) == (line, column)
    assert needle in info.value.message
    assert info.value.excerpt.splitlines()[-1].startswith(" " * (column - 1) + "^")


def test_keyword_tables_follow_the_grammar():
    assert {"SELECT", "FROM", "SIZE", "TOPIC", "DECIMAL"} <= RESERVED
    assert {"KEY", "ID", "TIMESTAMP", "DATE", "STRING", "SESSION", "EMIT", "PARTITION"} <= NON_RESERVED
    assert NON_RESERVED <= KEYWORDS and not (RESERVED & NON_RESERVED)
    assert not {"USER", "NAME", "JOB", "VALUE", "COUNT"} & KEYWORDS
