"""Is this SQL known to only read? An allowlist: whatever is not known to be a read is a write.

The text is lexed just enough to be sure: string literals, quoted names and comments are
set aside so that a keyword inside them neither blocks a read nor hides a write, and every
statement of a multi-statement string is judged on its own.
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")

# Statements that only read, or only steer transactions.
READ_STARTS = frozenset(
    {"SELECT", "VALUES", "TABLE", "SHOW", "DESCRIBE", "DESC", "FETCH", "MOVE", "CLOSE"}
)
TRANSACTION_STARTS = frozenset(
    {"BEGIN", "START", "COMMIT", "END", "ABORT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
)
# Words that make a read statement write, lock for writing, or change data on the side.
# (INSERT always comes with INTO there; REPLACE, INSERT and TRUNCATE alone are also the
# names of string and number functions, so they are not listed.)
WRITE_WORDS = frozenset({"INTO", "UPDATE", "DELETE", "MERGE", "OUTFILE", "DUMPFILE", "LOCK"})
# Functions that write although called from a SELECT.
WRITE_FUNCTIONS = frozenset(
    {
        "NEXTVAL",
        "SETVAL",
        "SET_CONFIG",
        "LO_IMPORT",
        "LO_EXPORT",
        "LO_UNLINK",
        "LO_CREATE",
        "LO_CREAT",
        "LO_FROM_BYTEA",
        "LO_PUT",
        "LO_TRUNCATE",
        "PG_FILE_WRITE",
        "DBLINK_EXEC",
        "LOAD_EXTENSION",
        "WRITEFILE",
    }
)
# Settings that would let a session write again.
READ_ONLY_SETTINGS = frozenset(
    {
        "DEFAULT_TRANSACTION_READ_ONLY",
        "TRANSACTION_READ_ONLY",
        "TX_READ_ONLY",
        "READ_ONLY",
        "SUPER_READ_ONLY",
        "QUERY_ONLY",
    }
)
# SQLite pragmas that take an argument only to report on it.
READ_PRAGMAS = frozenset(
    {
        "TABLE_INFO",
        "TABLE_XINFO",
        "INDEX_LIST",
        "INDEX_INFO",
        "INDEX_XINFO",
        "FOREIGN_KEY_LIST",
        "FOREIGN_KEY_CHECK",
        "INTEGRITY_CHECK",
        "QUICK_CHECK",
        "TABLE_LIST",
    }
)
# SQLite pragmas that do work even without an argument.
ACTING_PRAGMAS = frozenset({"OPTIMIZE", "WAL_CHECKPOINT", "INCREMENTAL_VACUUM", "SHRINK_MEMORY"})


class Unsure(Exception):
    """The text could not be read with certainty: it counts as a write."""


def is_read(sql: str, vendor: str = "") -> bool:
    """Whether every statement in ``sql`` only reads or steers a transaction."""
    try:
        return _is_read(sql, vendor == "mysql")
    except Unsure:
        return False


@lru_cache(maxsize=4096)
def _is_read(sql: str, mysql: bool) -> bool:
    return all(_statement_reads(s, mysql) for s in _statements(sql, mysql))


def _statements(sql: str, backslash_escapes: bool) -> list[str]:
    """The statements in ``sql`` with literals, quoted names and comments replaced by blanks."""
    out: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i) or ch == "#" and backslash_escapes:
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            current.append(" ")
        elif ch == "/" and sql.startswith("/*", i):
            if sql.startswith(("/*!", "/*M!", "/*+"), i):
                raise Unsure("MySQL runs the text of /*! ... */ comments")
            end = sql.find("*/", i + 2)
            if end < 0:
                raise Unsure("unterminated comment")
            i = end + 2
            current.append(" ")
        elif ch in "'\"`":
            escapes = backslash_escapes or (ch == "'" and i > 0 and sql[i - 1] in "eE")
            i = _skip_quoted(sql, i, ch, escapes)
            current.append(" 0 " if ch == "'" else " q ")
        elif ch == "$":
            match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if match:
                tag = match.group(0)
                end = sql.find(tag, i + len(tag))
                if end < 0:
                    raise Unsure("unterminated dollar-quoted string")
                i = end + len(tag)
                current.append(" 0 ")
            else:
                current.append(ch)
                i += 1
        elif ch == ";":
            out.append("".join(current))
            current = []
            i += 1
        else:
            current.append(ch)
            i += 1
    out.append("".join(current))
    return [s for s in out if s.strip()] or [""]


def _skip_quoted(sql: str, start: int, quote: str, escapes: bool) -> int:
    i, n = start + 1, len(sql)
    while i < n:
        ch = sql[i]
        if escapes and ch == "\\":
            i += 2
        elif ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    raise Unsure("unterminated quoted text")


def _statement_reads(statement: str, mysql: bool) -> bool:
    words = [w.upper() for w in WORD.findall(statement)]
    if not words:
        return not statement.strip(" \t\r\n()")
    first = words[0]
    if first in READ_STARTS or first == "WITH":
        return _select_reads(words, statement)
    if first == "EXPLAIN":
        return _explain_reads(words, statement, mysql)
    if first in TRANSACTION_STARTS:
        # START TRANSACTION READ WRITE or BEGIN ... READ WRITE would undo a read-only session.
        return not _has_sequence(words, ("READ", "WRITE"))
    if first == "SET":
        return _set_reads(words)
    if first == "PRAGMA":
        return _pragma_reads(words, statement)
    return False


def _select_reads(words: list[str], statement: str) -> bool:
    # Row locks (FOR UPDATE, FOR SHARE, FOR NO KEY UPDATE, FOR KEY SHARE, LOCK IN SHARE
    # MODE) announce a write; sequences move even inside a read.
    if any(w in WRITE_WORDS for w in words):
        return False
    for sequence in (("FOR", "SHARE"), ("FOR", "NO"), ("FOR", "KEY"), ("NEXT", "VALUE", "FOR")):
        if _has_sequence(words, sequence):
            return False
    return not _calls_write_function(statement)


EXPLAIN_OPTIONS = frozenset(
    {
        "ANALYZE",
        "ANALYSE",
        "VERBOSE",
        "FORMAT",
        "JSON",
        "TEXT",
        "XML",
        "YAML",
        "TRADITIONAL",
        "TREE",
        "TRUE",
        "FALSE",
        "OFF",
        "ON",
        "BUFFERS",
        "COSTS",
        "SETTINGS",
        "WAL",
        "TIMING",
        "SUMMARY",
        "EXTENDED",
        "PARTITIONS",
        "GENERIC_PLAN",
        "MEMORY",
        "SERIALIZE",
        "QUERY",
        "PLAN",
        "FOR",
    }
)


def _explain_reads(words: list[str], statement: str, mysql: bool) -> bool:
    # EXPLAIN only plans a statement; EXPLAIN ANALYZE runs it, so it is judged like it.
    # MySQL and MariaDB refuse even the plan of a write in a read-only transaction.
    if "ANALYZE" not in words and "ANALYSE" not in words and not mysql:
        return True
    body = words[1:]
    while body and body[0] in EXPLAIN_OPTIONS:
        body = body[1:]
    if not body or (body[0] not in READ_STARTS and body[0] != "WITH"):
        return False
    return _select_reads(body, statement)


def _set_reads(words: list[str]) -> bool:
    if any(w in READ_ONLY_SETTINGS for w in words):
        return False
    return not (_has_sequence(words, ("READ", "WRITE")) or "GLOBAL" in words or "PERSIST" in words)


def _pragma_reads(words: list[str], statement: str) -> bool:
    # PRAGMA [schema.]name reads a value; "= value" or "(value)" sets it, except for the
    # pragmas that only take a table or index to report on.
    match = PRAGMA_NAME.match(statement)
    if match is None:
        return False
    name = match.group(1).upper()
    if "=" in statement or name in ACTING_PRAGMAS:
        return False
    if "(" in statement:
        return name in READ_PRAGMAS
    return True


PRAGMA_NAME = re.compile(r"\s*PRAGMA\s+(?:\w+\s*\.\s*)?(\w+)", re.IGNORECASE)


def _has_sequence(words: list[str], sequence: tuple[str, ...]) -> bool:
    size = len(sequence)
    return any(tuple(words[i : i + size]) == sequence for i in range(len(words) - size + 1))


def _calls_write_function(statement: str) -> bool:
    return any(
        match.group(1).upper() in WRITE_FUNCTIONS
        for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_$]*)\s*\(", statement)
    )
