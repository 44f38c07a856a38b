"""SQLite: lexed by its own rules (no backslash escapes, "…", `…` and […] names)."""

from __future__ import annotations

from dbtools.statements.lexing import Dialect, Token, statements
from dbtools.statements.verdicts import (
    READ,
    TAKES_WRITE_LOCK,
    UNREADABLE,
    WRITE,
    Verdict,
    bind,
    when_unsure,
)
from dbtools.statements.wordrules import (
    SELECT_STARTS,
    TRANSACTION_STARTS,
    calls,
    first_word,
    locks_or_writes,
    opens_with_word,
    rows_only,
    steers,
    words,
)

SQLITE = Dialect(ansi_quotes=True, bracket_names=True)
WRITE_FUNCTIONS = frozenset({"LOAD_EXTENSION", "WRITEFILE", "FTS3_TOKENIZER"})
# Pragmas that take a table or index only to report on it.
REPORTING_PRAGMAS = frozenset(
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
# Pragmas whose setting changes how this connection reads or checks, never the file and
# never whether it may write (unlike query_only, journal_mode or writable_schema).
CONNECTION_PRAGMAS = frozenset(
    {
        "FOREIGN_KEYS",
        "DEFER_FOREIGN_KEYS",
        "BUSY_TIMEOUT",
        "CACHE_SIZE",
        "CASE_SENSITIVE_LIKE",
        "RECURSIVE_TRIGGERS",
        "REVERSE_UNORDERED_SELECTS",
        "TEMP_STORE",
        "THREADS",
        "AUTOMATIC_INDEX",
        "ANALYSIS_LIMIT",
        "MMAP_SIZE",
        "SOFT_HEAP_LIMIT",
        "HARD_HEAP_LIMIT",
        "LEGACY_ALTER_TABLE",
    }
)
# Pragmas that do work even without an argument.
ACTING_PRAGMAS = frozenset({"OPTIMIZE", "WAL_CHECKPOINT", "INCREMENTAL_VACUUM", "SHRINK_MEMORY"})


def _statements(sql: str, bound: bool) -> list[list[Token]]:
    # Django's SQLite backend turns %s into ? and %% into %.
    return statements(bind(sql, "?") if bound else sql, SQLITE)


@when_unsure(UNREADABLE)
def judge(sql: str, bound: bool) -> Verdict:
    verdicts = [_statement(statement) for statement in _statements(sql, bound)]
    if WRITE in verdicts:
        return WRITE
    return TAKES_WRITE_LOCK if TAKES_WRITE_LOCK in verdicts else READ


def _statement(tokens: list[Token]) -> Verdict:
    if not tokens:
        return READ
    found = words(tokens)
    if not found or not opens_with_word(tokens):
        return WRITE
    first = found[0]
    if first == "EXPLAIN":
        return READ  # SQLite's EXPLAIN compiles the statement and never runs it
    if first in SELECT_STARTS:
        if locks_or_writes(found):
            return WRITE
        if any(name in WRITE_FUNCTIONS for name, _ in calls(tokens)):
            return WRITE
        return READ
    if first in TRANSACTION_STARTS:
        if first == "BEGIN" and found[1:2] in (["IMMEDIATE"], ["EXCLUSIVE"]):
            return TAKES_WRITE_LOCK
        return READ if steers(found) else WRITE
    if first == "PRAGMA":
        return _pragma(tokens[1:])
    return WRITE


def _pragma(tokens: list[Token]) -> Verdict:
    # PRAGMA [schema.]name [= value | (value)]; the name may be quoted.
    if len(tokens) >= 2 and tokens[1] == Token("op", "."):
        tokens = tokens[2:]
    if not tokens or tokens[0].kind not in ("word", "name", "string"):
        return WRITE
    name = tokens[0].text.upper()
    argument = tokens[1:]
    if not argument:
        return WRITE if name in ACTING_PRAGMAS else READ
    if argument[0] not in (Token("op", "="), Token("op", "(")):
        return WRITE
    return READ if name in REPORTING_PRAGMAS or name in CONNECTION_PRAGMAS else WRITE


@when_unsure(False)
def discardable(sql: str, bound: bool) -> bool:
    return rows_only(_statements(sql, bound), _statement)


@when_unsure(True)
def commits(sql: str, bound: bool) -> bool:
    return any(first_word(statement) in ("COMMIT", "END") for statement in _statements(sql, bound))
