"""Is this SQL known to only read? An allowlist: whatever is not known to be a read is a write.

Each dialect is read by its own rules, in its own module: PostgreSQL by its own parser
(``pglast`` embeds libpg_query), MySQL/MariaDB and SQLite by lexers that follow their
servers' rules and, where a session setting changes those rules, read the text every way it
could be read. A string the database could run as several statements is judged statement by
statement; a text that cannot be read with certainty is a write.

A verdict is one of ``READ``, ``WRITE``, ``TAKES_WRITE_LOCK`` (SQLite's BEGIN IMMEDIATE and
EXCLUSIVE) or, on MySQL/MariaDB, a :class:`Calls`: a read unless one of the functions it
calls is stored in the database (a stored function can change the session's settings).
"""

from __future__ import annotations

from dbtools.statements import mysql, postgresql, sqlite
from dbtools.statements.verdicts import (
    ENDS_TRANSACTION,
    READ,
    TAKES_WRITE_LOCK,
    WRITE,
    Calls,
    Verdict,
)

__all__ = [
    "commits",
    "discardable",
    "ENDS_TRANSACTION",
    "READ",
    "TAKES_WRITE_LOCK",
    "WRITE",
    "Calls",
    "Verdict",
    "judge",
]


def judge(sql: str, vendor: str, bound: bool = True) -> Verdict:
    """The verdict on ``sql`` as ``vendor`` would run it.

    ``bound`` says whether it is sent with parameters (even none): the drivers then read
    ``%s`` and ``%%`` in the text as placeholders and escapes, and without them they do not.
    """
    if vendor == "postgresql":
        return postgresql.judge(sql, bound)
    if vendor == "mysql":
        return mysql.judge(sql, bound)
    if vendor == "sqlite":
        return sqlite.judge(sql, bound)
    return WRITE  # a backend whose rules are unknown here: nothing is known to only read


def discardable(sql: str, vendor: str, bound: bool = True) -> bool:
    """Whether ``sql`` writes only what a rollback undoes (rows, not schema or settings)."""
    module = {"postgresql": postgresql, "mysql": mysql, "sqlite": sqlite}.get(vendor)
    return module is not None and module.discardable(sql, bound)


def commits(sql: str, vendor: str, bound: bool = True) -> bool:
    """Whether ``sql`` could end the transaction under way by committing it."""
    module = {"postgresql": postgresql, "mysql": mysql, "sqlite": sqlite}.get(vendor)
    return module is None or module.commits(sql, bound)
