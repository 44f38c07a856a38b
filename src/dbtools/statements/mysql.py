"""MySQL and MariaDB: lexed by the server's rules, every way the session's sql_mode allows.

``NO_BACKSLASH_ESCAPES`` and ``ANSI_QUOTES`` change where a string ends, and a session can
set them at any time, so the text is lexed with and without each: it is a read only if it
is one in all four readings. No parser for these dialects is exact, so what is in doubt is
a write: quotes inside a conditional comment, a comment inside a comment.
"""

from __future__ import annotations

from itertools import product

from dbtools.statements.lexing import Dialect, Token, statements
from dbtools.statements.verdicts import READ, UNREADABLE, WRITE, Calls, Verdict, bind, when_unsure
from dbtools.statements.wordrules import (
    SELECT_STARTS,
    TRANSACTION_STARTS,
    calls,
    first_word,
    has_sequence,
    locks_or_writes,
    opens_with_word,
    rows_only,
    steers,
    words,
)

READINGS = tuple(
    Dialect(
        backslash_escapes=backslash,
        ansi_quotes=ansi,
        hash_comments=True,
        dash_comment_needs_space=True,
        conditional_comments=True,
        variables=True,
    )
    for backslash, ansi in product((True, False), repeat=2)
)
# Settings that would let the session write again, or change how the server reads text.
GUARDED_SETTINGS = frozenset(
    {
        "TX_READ_ONLY",
        "TRANSACTION_READ_ONLY",
        "READ_ONLY",
        "SUPER_READ_ONLY",
        "SQL_MODE",  # kept as it was, so the four readings stay the only ones
        "PASSWORD",
        "STATEMENT",
        "GLOBAL",
        "PERSIST",
        "PERSIST_ONLY",
    }
)
# Character sets in which a backslash byte can end a multi-byte character: with one of
# them, the server would no longer read the text as the check did.
UNSAFE_CHARSETS = frozenset({"BIG5", "CP932", "GBK", "SJIS", "GB18030", "DEFAULT"})
WRITE_FUNCTIONS = frozenset({"NEXTVAL", "SETVAL"})
# Built-in functions (and words written like calls) that Django's MySQL backend and
# common queries use: an unqualified call of one of these is never a stored function.
_BUILT_IN_NAMES = """
    ABS ACOS ADDDATE ADDTIME AND ASCII ASIN ATAN ATAN2 AVG BIN BIT_AND BIT_COUNT BIT_LENGTH
    BIT_OR BIT_XOR CAST CEIL CEILING CHAR CHARACTER_LENGTH CHAR_LENGTH CHARSET COALESCE
    COLLATION CONCAT CONCAT_WS CONVERT CONVERT_TZ COS COT COUNT CRC32 CURDATE CURRENT_DATE
    CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURTIME DATABASE DATE DATE_ADD DATEDIFF
    DATE_FORMAT DATE_SUB DAY DAYNAME DAYOFMONTH DAYOFWEEK DAYOFYEAR DEGREES DISTINCT ELT EXP
    EXISTS EXTRACT FIELD FIND_IN_SET FLOOR FORMAT FROM_DAYS FROM_UNIXTIME GREATEST GROUP_CONCAT
    HEX HOUR IF IFNULL IN INSERT INSTR INTERVAL ISNULL JSON_ARRAY JSON_ARRAYAGG JSON_CONTAINS
    JSON_CONTAINS_PATH JSON_EXTRACT JSON_KEYS JSON_LENGTH JSON_OBJECT JSON_OBJECTAGG
    JSON_OVERLAPS JSON_QUOTE JSON_SEARCH JSON_TABLE JSON_TYPE JSON_UNQUOTE JSON_VALID
    JSON_VALUE LAST_DAY LAST_INSERT_ID LCASE LEAST LEFT LENGTH LIKE LN LOCATE LOG LOG10 LOG2
    LOWER LPAD LTRIM MAKEDATE MAKETIME MATCH MAX MD5 MICROSECOND MID MIN MINUTE MOD MONTH
    MONTHNAME NOT NOW NULLIF OCT OR ORD OVER PI POSITION POW POWER QUARTER RADIANS RAND REGEXP
    REGEXP_INSTR REGEXP_LIKE REGEXP_REPLACE REGEXP_SUBSTR REPEAT REPLACE REVERSE RIGHT ROUND
    ROW ROW_NUMBER RANK DENSE_RANK NTILE LAG LEAD FIRST_VALUE LAST_VALUE NTH_VALUE PERCENT_RANK
    CUME_DIST RPAD RTRIM SEC_TO_TIME SECOND SHA SHA1 SHA2 SIGN SIN SPACE SQRT STD STDDEV
    STDDEV_POP STDDEV_SAMP STRCMP STR_TO_DATE SUBDATE SUBSTR SUBSTRING SUBSTRING_INDEX SUBTIME
    SUM SYSDATE TAN TIME TIMEDIFF TIMESTAMP TIMESTAMPADD TIMESTAMPDIFF TIME_FORMAT TIME_TO_SEC
    TO_DAYS TO_SECONDS TRIM TRUNCATE UCASE UNHEX UNIX_TIMESTAMP UPPER USER UTC_DATE UTC_TIME
    UTC_TIMESTAMP UUID VALUES VARIANCE VAR_POP VAR_SAMP VERSION WEEK WEEKDAY WEEKOFYEAR YEAR
    YEARWEEK BINARY DECIMAL SIGNED UNSIGNED JSON_MERGE_PATCH JSON_MERGE_PRESERVE JSON_SET
    JSON_INSERT JSON_REPLACE JSON_REMOVE JSON_ARRAY_APPEND JSON_DEPTH FOUND_ROWS ROW_COUNT
    CONNECTION_ID SCHEMA SESSION_USER SYSTEM_USER BENCHMARK SLEEP GET_LOCK RELEASE_LOCK
    IS_FREE_LOCK IS_USED_LOCK INET_ATON INET_NTOA INET6_ATON INET6_NTOA UUID_SHORT LASTVAL
    WITHIN ALL ANY SOME USING ON AS
"""
# Reserved words, which no stored function can be named unquoted, before a parenthesis.
_RESERVED = """
    WHERE FROM JOIN INNER LEFT RIGHT OUTER CROSS NATURAL STRAIGHT_JOIN ON AND OR XOR NOT IN
    SELECT AS VALUES EXISTS UNION EXCEPT INTERSECT ALL HAVING BY GROUP ORDER WHEN THEN ELSE
    CASE END IS LIKE RLIKE REGEXP ESCAPE OVER PARTITION WINDOW ROWS RANGE INTERVAL USING
    LIMIT OFFSET DISTINCT WITH RECURSIVE LATERAL BETWEEN DIV MOD INTO SET KEY INDEX FOR
    TABLE NULL TRUE FALSE
"""
BUILT_IN = frozenset(_BUILT_IN_NAMES.split()) | frozenset(_RESERVED.split())
EXPLAIN_WORDS = frozenset({"EXPLAIN", "DESCRIBE", "DESC"})
EXPLAIN_OPTIONS = frozenset({"EXTENDED", "PARTITIONS", "FORMAT", "ANALYZE", "JSON", "TREE"})
WRITE_STARTS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


def _readings(sql: str, bound: bool) -> list[list[Token]]:
    """The statements of every reading of ``sql``; mysqlclient inlines each value as a literal."""
    text = bind(sql, "'0'") if bound else sql
    return [statement for reading in READINGS for statement in statements(text, reading)]


@when_unsure(UNREADABLE)
def judge(sql: str, bound: bool) -> Verdict:
    called: set[str] = set()
    for statement in _readings(sql, bound):
        verdict = _statement(statement)
        if verdict == WRITE:
            return WRITE
        if isinstance(verdict, Calls):
            called |= verdict.functions
    return Calls(frozenset(called)) if called else READ


def _statement(tokens: list[Token]) -> Verdict:
    if not tokens:
        return READ
    found = words(tokens)
    if not found or not opens_with_word(tokens):
        return WRITE
    first = found[0]
    if first in SELECT_STARTS:
        return _select(tokens, found)
    if first in ("SHOW", "HELP"):
        return READ
    if first in EXPLAIN_WORDS or first == "ANALYZE":
        return _explain(tokens, found)
    if first in ("CHECK", "CHECKSUM"):
        return READ if found[1:2] in (["TABLE"], ["TABLES"]) else WRITE
    if first == "HANDLER":
        return READ if {"OPEN", "READ", "CLOSE"} & set(found[1:3]) else WRITE
    if first in TRANSACTION_STARTS:
        return READ if steers(found) else WRITE
    if first == "SET":
        return _set(tokens, found)
    return WRITE


def _select(tokens: list[Token], found: list[str]) -> Verdict:
    if locks_or_writes(found):
        return WRITE
    stored: set[str] = set()
    for name, quoted_or_qualified in calls(tokens):
        if quoted_or_qualified or name in WRITE_FUNCTIONS:
            return WRITE  # a built-in is never quoted or qualified
        if name not in BUILT_IN:
            stored.add(name)
    return Calls(frozenset(stored)) if stored else READ


def _explain(tokens: list[Token], found: list[str]) -> Verdict:
    # EXPLAIN t describes a table; EXPLAIN ANALYZE and MariaDB's ANALYZE run the statement.
    rest = found[1:]
    while rest and rest[0] in EXPLAIN_OPTIONS:
        rest = rest[1:]
    if not rest:
        return WRITE
    if rest[0] in SELECT_STARTS:
        start = next(i for i, token in enumerate(tokens) if token == Token("word", rest[0]))
        return _select(tokens[start:], rest)
    if found[0] == "ANALYZE" or rest[0] in WRITE_STARTS:
        return WRITE  # ANALYZE TABLE updates statistics
    return READ


def _set_names(tokens: list[Token]) -> set[str]:
    """Every word and name a SET mentions, however it is spelt (quoted, @@session.…)."""
    names = set(words(tokens))
    for token in tokens:
        if token.kind in ("name", "var", "string"):
            names.update(part.upper() for part in token.text.split("."))
    return names


def _set(tokens: list[Token], found: list[str]) -> Verdict:
    names = _set_names(tokens)
    charset = names & {"NAMES", "CHARSET", "CHARACTER", "CHARACTER_SET_CLIENT"}
    if charset and names & UNSAFE_CHARSETS:
        return WRITE
    if names & GUARDED_SETTINGS or has_sequence(found, ("DEFAULT", "ROLE")):
        return WRITE
    return READ if steers(found) else WRITE


@when_unsure(False)
def discardable(sql: str, bound: bool) -> bool:
    """Rows only, in every reading (the tables' engines are the guard's to check)."""
    return rows_only(_readings(sql, bound), _statement)


@when_unsure(True)
def commits(sql: str, bound: bool) -> bool:
    # START TRANSACTION and BEGIN commit the transaction under way, and so does any DDL
    # (refused anyway) and turning autocommit back on.
    return any(
        first_word(statement) in ("COMMIT", "BEGIN", "START", "XA")
        or (first_word(statement) == "SET" and "AUTOCOMMIT" in _set_names(statement))
        for statement in _readings(sql, bound)
    )


@when_unsure(frozenset({"?"}))
def written_names(sql: str, bound: bool) -> frozenset[str]:
    """Every name in ``sql`` (upper case), to look for a table an engine cannot roll back."""
    return frozenset(
        token.text.upper()
        for statement in _readings(sql, bound)
        for token in statement
        if token.kind in ("word", "name")
    )
