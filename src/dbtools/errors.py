"""What a blocked write raises, and how the database's own refusals are recognised."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from django.db import DatabaseError
from django.db import Error as DjangoDatabaseError


class ReadOnlyError(DatabaseError):
    """A write was blocked because the site is in a read-only mode.

    The message names the database alias and the start of the statement, never its
    parameters, so it is safe to log.
    """

    def __init__(self, alias: str, sql: str) -> None:
        self.alias = alias
        self.statement = statement_start(sql)
        super().__init__(
            f"Write blocked on database {alias!r}: the site is read-only. "
            f"Statement: {self.statement}"
        )


def statement_start(sql: object, limit: int = 80) -> str:
    text = " ".join(str(sql).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_connection_lost(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database connection was lost."""
    return any(CONNECTION_LOST.match(cause) for cause in _chain(error))


@dataclass(frozen=True)
class DriverErrors:
    """How each driver says one thing: a SQLSTATE, a MySQL error number, or words."""

    sqlstates: frozenset[str]
    errnos: frozenset[int]
    texts: tuple[str, ...]
    sqlite_codes: frozenset[int] = frozenset()

    def match(self, error: BaseException) -> bool:
        """Whether ``error`` is a database error that says this, by its code where it has one.

        Only database errors (Django's and the drivers' own) are read: a view's
        KeyError(2013) or a message that happens to contain the words is not one.
        """
        if not is_database_error(error):
            return False
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if sqlstate is not None:
            return sqlstate in self.sqlstates
        code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
        if code is not None:
            return code & 0xFF in self.sqlite_codes  # the primary result code
        args = getattr(error, "args", ())
        if args and type(args[0]) is int:  # MySQL's errno, which Django's errors keep
            return args[0] in self.errnos
        text = str(error).lower()
        return any(marker in text for marker in self.texts)


# PostgreSQL: read_only_sql_transaction. MySQL/MariaDB: 1792 (statement in a READ ONLY
# transaction), 1290 (server running with --read-only). SQLite: query_only or a file
# opened read-only.
READ_ONLY = DriverErrors(
    frozenset({"25006"}),
    frozenset({1792, 1290}),
    ("attempt to write a readonly database",),
    frozenset({8}),  # SQLITE_READONLY
)
# The connection went away under a query: a server-side kill, a failover, a restart.
# PostgreSQL: admin_shutdown and the like (57P0x), the server closing the socket;
# MySQL/MariaDB: 2006 server gone away, 2013 lost connection, 1927 connection killed,
# 4031 disconnected by the server.
CONNECTION_LOST = DriverErrors(
    frozenset({"57P01", "57P02", "57P03"}),
    frozenset({2006, 2013, 1927, 4031}),
    (
        "server closed the connection",
        "terminating connection",
        "the connection is closed",
        "connection already closed",
        "consuming input failed",
    ),
)


DRIVER_PACKAGES = frozenset({"psycopg", "psycopg2", "MySQLdb", "sqlite3", "_sqlite3"})


def is_database_error(error: BaseException) -> bool:
    """An error raised by Django's database layer or by a database driver."""
    if isinstance(error, (DjangoDatabaseError, sqlite3.Error)):
        return True
    return any(
        cls.__module__.split(".")[0] in DRIVER_PACKAGES and cls.__name__ == "Error"
        for cls in type(error).__mro__
    )


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_read_only_refusal(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database refused a write as read-only."""
    return any(
        isinstance(cause, ReadOnlyError) or READ_ONLY.match(cause) for cause in _chain(error)
    )


# A lock waited on too long: PostgreSQL lock_not_available (lock_timeout), MySQL/MariaDB
# 1205 (innodb_lock_wait_timeout); SQLite's busy timeout.
LOCK_TIMEOUT = DriverErrors(
    frozenset({"55P03"}), frozenset({1205}), ("database is locked",), frozenset({5})
)
