"""A lexer for MySQL/MariaDB and SQLite, following each server's own rules.

It cuts a text into statements of tokens, the way the server's lexer would (MySQL's
``sql/sql_lex.cc``, SQLite's ``tokenize.c``): quoted strings and names, comments and the
statement separator. Where a session setting changes those rules (MySQL's
``NO_BACKSLASH_ESCAPES`` and ``ANSI_QUOTES``), the caller lexes once per reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from dbtools.statements.verdicts import Unsure


class Token(NamedTuple):
    kind: str  # "word" (upper case), "name" (quoted), "string", "number", "var" or "op"
    text: str


@dataclass(frozen=True)
class Dialect:
    backslash_escapes: bool = False  # MySQL unless NO_BACKSLASH_ESCAPES
    ansi_quotes: bool = False  # "…" is a name, not a string (MySQL's ANSI_QUOTES; SQLite)
    hash_comments: bool = False  # MySQL: # to the end of the line
    dash_comment_needs_space: bool = False  # MySQL: "--1" is minus minus one
    bracket_names: bool = False  # SQLite: [name]
    conditional_comments: bool = False  # MySQL: /*! … */ runs its content
    variables: bool = False  # MySQL: @name, @@session.name


# ASCII only: both servers read any other character as part of a name, never as a space.
SPACE = frozenset(" \t\n\r\x0b\x0c")
WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def statements(sql: str, dialect: Dialect) -> list[list[Token]]:
    """The statements of ``sql``, each a list of tokens (an empty list for an empty one)."""
    out: list[list[Token]] = [[]]
    _lex(sql, dialect, out, inside_conditional=False)
    return out


def _lex(sql: str, dialect: Dialect, out: list[list[Token]], inside_conditional: bool) -> None:
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in SPACE:
            i += 1
        elif (ch == "#" and dialect.hash_comments) or (
            sql.startswith("--", i) and (not dialect.dash_comment_needs_space or _ends_dash(sql, i))
        ):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _comment(sql, i, dialect, out)
        elif ch == "'" or (ch == '"' and not dialect.ansi_quotes):
            i, text = _quoted(sql, i, ch, dialect.backslash_escapes)
            out[-1].append(Token("string", text))
        elif ch == "`" or ch == '"':
            i, text = _quoted(sql, i, ch, False)
            out[-1].append(Token("name", text))
        elif ch == "[" and dialect.bracket_names:
            end = sql.find("]", i + 1)
            if end < 0:
                raise Unsure("unterminated [name]")
            out[-1].append(Token("name", sql[i + 1 : end]))
            i = end + 1
        elif ch == "@" and dialect.variables:
            i = _variable(sql, i, dialect, out)
        elif ch in WORD_CHARS or ord(ch) > 127:
            start = i
            while i < n and (sql[i] in WORD_CHARS or ord(sql[i]) > 127):
                i += 1
            word = sql[start:i]
            kind = "number" if word[0].isdigit() else "word"
            out[-1].append(Token(kind, word.upper()))
        elif ch == ";":
            if inside_conditional:
                raise Unsure("a statement separator inside a conditional comment")
            out.append([])
            i += 1
        else:
            out[-1].append(Token("op", ch))
            i += 1


def _ends_dash(sql: str, i: int) -> bool:
    # MySQL: "--" starts a comment only before whitespace, a control character or the end.
    return i + 2 >= len(sql) or sql[i + 2] in SPACE or ord(sql[i + 2]) < 32


def _comment(sql: str, i: int, dialect: Dialect, out: list[list[Token]]) -> int:
    end = sql.find("*/", i + 2)
    if end < 0:
        raise Unsure("unterminated comment")
    body_start = i + 2
    if dialect.conditional_comments and sql.startswith(("/*!", "/*M!"), i):
        # Run by the server if its version is high enough, skipped to the first "*/"
        # otherwise: only content that both readings end at the same place is judged.
        body_start = sql.index("!", i) + 1
        digits = 0
        while digits < 6 and body_start < end and sql[body_start].isdigit():
            body_start += 1
            digits += 1
        body = sql[body_start:end]
        if any(marker in body for marker in ("'", '"', "`", "/*", "#", "--")):
            raise Unsure("quotes or comments inside a conditional comment")
        _lex(body, dialect, out, inside_conditional=True)
        return end + 2
    if "/*" in sql[body_start:end]:
        raise Unsure("a comment inside a comment")  # some servers nest, some do not
    return end + 2


def _quoted(sql: str, start: int, quote: str, escapes: bool) -> tuple[int, str]:
    i, n = start + 1, len(sql)
    parts: list[str] = []
    while i < n:
        ch = sql[i]
        if escapes and ch == "\\":
            parts.append(sql[i : i + 2])
            i += 2
        elif ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                parts.append(quote)
                i += 2
            else:
                return i + 1, "".join(parts)
        else:
            parts.append(ch)
            i += 1
    raise Unsure("unterminated quoted text")


def _variable(sql: str, i: int, dialect: Dialect, out: list[list[Token]]) -> int:
    # @name, @'name', @@name, @@session.name, @@GLOBAL.`name`: kept as one token whose
    # text holds its parts, so a setting's name is seen however it is spelt.
    n = len(sql)
    i += 2 if sql.startswith("@@", i) else 1
    parts: list[str] = []
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            i, text = _quoted(sql, i, ch, dialect.backslash_escapes and ch != "`")
            parts.append(text)
        elif ch in WORD_CHARS or ord(ch) > 127:
            start = i
            while i < n and (sql[i] in WORD_CHARS or ord(sql[i]) > 127):
                i += 1
            parts.append(sql[start:i])
        else:
            break
        if i < n and sql[i] == ".":
            i += 1
        else:
            break
    out[-1].append(Token("var", ".".join(parts).upper()))
    return i
