"""The database's own read-only session: what stops what no statement check can see.

Per backend, two things: ``hold`` brings a connection in line with the mode (read-only
while writes are refused, back to the server's own default when not), and, while writes
are refused, ``before``/``after`` run around each statement Django sends, to keep the
session read-only whatever the last statement did (a function that changed a setting, a
rollback to a savepoint that undid it) and to begin each transaction read-only where no
session setting lasts (a transaction pooler).

- SQLite: ``PRAGMA query_only``, which holds inside a transaction too.
- MySQL/MariaDB: ``SET SESSION TRANSACTION READ ONLY``, which holds from the next
  transaction on; a transaction begun before it stays writable, and a stored function can
  set the session writable again, so the statement check refuses, while writes are
  refused, every call of a stored function and every procedure.
- PostgreSQL: ``default_transaction_read_only`` for the session, which the server reports
  back after every statement (so a change is seen without a query), and
  ``SET TRANSACTION READ ONLY`` for a transaction already under way. Behind PgBouncer, where
  a session setting lands on whichever server connection was free, every transaction is
  begun read-only instead, and nothing is set for the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

# What was last applied, per Django connection: the raw driver connection it was applied
# on (a reconnect, or a connection handed over by a pool, starts afresh) and the mode.
APPLIED_ATTR = "_dbtools_native"
# PostgreSQL: whether the server connection is behind a pooler, per raw connection.
POOLED_ATTR = "_dbtools_pooled"
# PostgreSQL: the raw connection whose current transaction was made read-only.
TRANSACTION_ATTR = "_dbtools_transaction"
# PostgreSQL: the raw connection on which the read-only default was reset inside a
# transaction (which may yet roll back).
PENDING_ATTR = "_dbtools_pending"
# MySQL/MariaDB: the names of the functions stored in the current database.
STORED_FUNCTIONS_ATTR = "_dbtools_stored_functions"
LASTING_TABLES_ATTR = "_dbtools_lasting_tables"

LOCK_TIMEOUT = 2  # seconds a discarded write may wait on a lock before it is refused
PG_IDLE, PG_INTRANS, PG_INERROR = 0, 2, 3  # libpq's PQTRANS_IDLE, _INTRANS, _INERROR


def run(raw: Any, *statements: str) -> list[Any]:
    """Run ``statements`` on the raw driver connection; the last one's rows."""
    cursor = raw.cursor()
    rows: list[Any] = []
    try:
        for statement in statements:
            cursor.execute(statement)
            rows = list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()
    return rows


def _applied(connection: BaseDatabaseWrapper, raw: Any) -> bool | None:
    applied = getattr(connection, APPLIED_ATTR, None)
    return applied[1] if applied is not None and applied[0] is raw else None


def _record(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    setattr(connection, APPLIED_ATTR, (raw, read_only))


def in_step(connection: BaseDatabaseWrapper, read_only: bool) -> bool:
    """Whether nothing needs doing on ``connection`` until the mode changes."""
    raw = connection.connection
    if connection.vendor == "postgresql" and raw is not None:
        if read_only:
            return True  # kept read-only around each statement (pg_before, pg_after)
        return (
            _pg_read_only(connection, raw) is False
            and getattr(connection, PENDING_ATTR, None) is not raw
        )
    return _applied(connection, raw) == read_only


def hold(connection: BaseDatabaseWrapper, read_only: bool) -> None:
    """Make the connection's session read-only, or back to the server's default."""
    raw = connection.connection
    if raw is None:
        return
    holder = HOLDERS.get(connection.vendor)
    if holder is not None:
        holder(connection, raw, read_only)


# -- SQLite ----------------------------------------------------------------------------


def _hold_sqlite(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    applied = _applied(connection, raw)
    if applied == read_only or (applied is None and not read_only):
        _record(connection, raw, read_only)  # a new connection is writable
        return
    run(raw, f"PRAGMA query_only = {1 if read_only else 0}")
    _record(connection, raw, read_only)


# -- MySQL / MariaDB -----------------------------------------------------------------------


def _hold_mysql(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    applied = _applied(connection, raw)
    if applied == read_only or (applied is None and not read_only):
        _record(connection, raw, read_only)
        return
    # Going off returns to the server's default rather than forcing read-write, so a
    # read-only server setting made by a DBA still holds.
    if read_only:
        run(raw, "SET SESSION TRANSACTION READ ONLY")
        # Read outside a transaction only: reading information_schema inside one would
        # leave its later savepoints refused (a table of an engine without them was read).
        outside = connection.get_autocommit() and not connection.in_atomic_block
        stored = _names(raw, STORED_FUNCTIONS) if outside else None
        lasting = _names(raw, LASTING_TABLES) if outside else None
        setattr(connection, STORED_FUNCTIONS_ATTR, stored)
        setattr(connection, LASTING_TABLES_ATTR, lasting)
    else:
        mariadb = getattr(connection, "mysql_is_mariadb", False)
        old = mariadb and getattr(connection, "mysql_version", (0,)) < (11, 1)
        run(raw, f"SET SESSION {'tx_read_only' if old else 'transaction_read_only'} = DEFAULT")
    _record(connection, raw, read_only)


def _names(raw: Any, query: str) -> frozenset[str]:
    """The first column of ``query``'s rows, in upper case."""
    return frozenset(str(row[0]).upper() for row in run(raw, query))


# Functions a SELECT could call here that are not built in: those stored in this database.
STORED_FUNCTIONS = (
    "SELECT ROUTINE_NAME FROM information_schema.ROUTINES "
    "WHERE ROUTINE_TYPE = 'FUNCTION' AND ROUTINE_SCHEMA = DATABASE()"
)
# Tables (and views) here whose writes no rollback undoes: MyISAM, Aria, MEMORY…
LASTING_TABLES = (
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
    "AND (ENGINE IS NULL OR ENGINE <> 'InnoDB')"
)


def lasting_tables(connection: BaseDatabaseWrapper) -> frozenset[str] | None:
    """MySQL/MariaDB tables no rollback undoes, or None where they could not be read."""
    names: frozenset[str] | None = getattr(connection, LASTING_TABLES_ATTR, None)
    return names


def stored_functions(connection: BaseDatabaseWrapper) -> frozenset[str] | None:
    """The functions stored in the current database, or None where they could not be read."""
    names: frozenset[str] | None = getattr(connection, STORED_FUNCTIONS_ATTR, None)
    return names


# -- PostgreSQL ------------------------------------------------------------------------------

SET_READ_ONLY = "SET SESSION default_transaction_read_only = on"
# Back to whatever the server, database or role says, so a DBA's setting keeps holding.
RESET_READ_ONLY = "RESET default_transaction_read_only"


def _pg_read_only(connection: BaseDatabaseWrapper, raw: Any) -> bool | None:
    """Whether the session is read-only by default, as the server last reported it."""
    reported = raw.info.parameter_status("default_transaction_read_only")
    if reported is None:  # not reported by this server: what was applied
        return _applied(connection, raw)
    if isinstance(reported, bytes):
        reported = reported.decode()
    return bool(reported == "on")


def pg_conforming(raw: Any) -> bool:
    """Whether strings are read as the standard says (backslashes are plain characters)."""
    reported = raw.info.parameter_status("standard_conforming_strings")
    return reported in (None, "on", b"on")


def pg_pooled(connection: BaseDatabaseWrapper, raw: Any) -> bool:
    """Whether a pooler (PgBouncer) sits between: its backend PID is not the server's."""
    known = getattr(connection, POOLED_ATTR, None)
    if known is not None and known[0] is raw:
        return known[1] is True
    status = raw.info.transaction_status
    if status == PG_INERROR:
        return True  # nothing can be asked: nothing is set for the session either
    ask = _pg_outside_transaction if status == PG_IDLE else run
    pooled = bool(ask(raw, "SELECT pg_backend_pid()")[0][0] != raw.info.backend_pid)
    setattr(connection, POOLED_ATTR, (raw, pooled))
    return pooled


def _pg_outside_transaction(raw: Any, statement: str) -> list[Any]:
    # With autocommit off, psycopg would begin a transaction first, and a SET made in it
    # would last only as long as it.
    if raw.autocommit:
        return run(raw, statement)
    raw.autocommit = True
    try:
        return run(raw, statement)
    finally:
        raw.autocommit = False


def _hold_postgresql(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    if read_only:
        if raw.info.transaction_status == PG_INTRANS:
            pg_hold_transaction(connection, raw)
        if pg_pooled(connection, raw):
            return  # nothing lasts in a pooled session: each transaction is begun read-only
        if not _pg_read_only(connection, raw):
            _pg_set_read_only(connection, raw)
        return
    setattr(connection, TRANSACTION_ATTR, None)
    # Still read-only: made so by dbtools (here, or on a pooled connection another thread
    # had), or by the server's own default, which the RESET leaves as it is.
    if _pg_read_only(connection, raw) and _applied(connection, raw) is not False:
        lasting = _pg_set(connection, raw, RESET_READ_ONLY)
        if lasting:
            _record(connection, raw, False)
        # Reset inside a transaction, it is undone if the transaction rolls back: looked
        # at again at each cursor until it is done outside one.
        setattr(connection, PENDING_ATTR, None if lasting else raw)
    elif raw.info.transaction_status == PG_IDLE:
        setattr(connection, PENDING_ATTR, None)


def _pg_set(connection: BaseDatabaseWrapper, raw: Any, statement: str) -> bool:
    """Set a session default; whether it lasts (it was set outside a transaction)."""
    if raw.info.transaction_status == PG_IDLE:
        _pg_outside_transaction(raw, statement)
        return True
    # Inside a transaction it lasts only if the transaction commits: the server's report
    # says whether it did, and it is set again if not.
    run(raw, statement)
    return False


def _pg_set_read_only(connection: BaseDatabaseWrapper, raw: Any) -> None:
    _pg_set(connection, raw, SET_READ_ONLY)
    _record(connection, raw, True)  # so that going off resets it, whoever set it last


def pg_hold_transaction(connection: BaseDatabaseWrapper, raw: Any) -> None:
    """Make the transaction under way read-only (a transaction can always become so)."""
    held = getattr(connection, TRANSACTION_ATTR, None)
    if held is not raw and held != (raw, DISCARDING):
        run(raw, "SET TRANSACTION READ ONLY")
        setattr(connection, TRANSACTION_ATTR, raw)


def pg_before(connection: BaseDatabaseWrapper, raw: Any, discarding: bool = False) -> bool:
    """Before a statement, writes refused: make it run read-only; whether to commit after.

    In a safe request whose writes are discarded, a transaction about to begin is begun
    writable instead (every commit in it becomes a rollback).
    """
    status = raw.info.transaction_status
    if status == PG_INERROR:
        return False  # nothing runs until the rollback, this statement neither
    pooled = pg_pooled(connection, raw)
    if not pooled and not _pg_read_only(connection, raw):
        _pg_set_read_only(connection, raw)
    if status == PG_IDLE:
        setattr(connection, TRANSACTION_ATTR, None)
        if discarding and not raw.autocommit:
            pg_begin_writable(connection, raw)
            return False
        if not pooled:
            return False  # the session's default makes the next transaction read-only
        if raw.autocommit:
            run(raw, "BEGIN READ ONLY")
            return True
        # psycopg begins the transaction before this, so it is the transaction's first
        run(raw, "SET TRANSACTION READ ONLY")
        setattr(connection, TRANSACTION_ATTR, raw)
        return False
    if status == PG_INTRANS:
        pg_hold_transaction(connection, raw)
    return False


def pg_after(connection: BaseDatabaseWrapper, raw: Any, ends: bool, commit: bool) -> None:
    """After a statement, writes refused: end what ``pg_before`` began, see what changed."""
    if commit:
        run(raw, "COMMIT" if raw.info.transaction_status == PG_INTRANS else "ROLLBACK")
        return
    # A rollback to a savepoint undoes a SET TRANSACTION READ ONLY made after it (the
    # writable transaction of discarded writes stays so).
    if ends and getattr(connection, TRANSACTION_ATTR, None) != (raw, DISCARDING):
        setattr(connection, TRANSACTION_ATTR, None)
        if raw.info.transaction_status == PG_INTRANS:
            pg_hold_transaction(connection, raw)  # at once, before the raw connection writes
    # A function the statement called may have set the session writable (set_config):
    # made read-only again at once, before the raw connection can write.
    status = raw.info.transaction_status
    if (
        status in (PG_IDLE, PG_INTRANS)
        and not pg_pooled(connection, raw)
        and not _pg_read_only(connection, raw)
    ):
        _pg_set_read_only(connection, raw)


# -- a safe request's discarded writes ------------------------------------------------------
#
# The transaction that holds them is writable for itself only; the session stays read-only.

DISCARDING = "discarding"  # TRANSACTION_ATTR of a PostgreSQL transaction begun writable
# MySQL/MariaDB: the raw connection whose current (or next) transaction was made writable.
WRITABLE_NEXT_ATTR = "_dbtools_writable_next"


def begin_discardable(connection: BaseDatabaseWrapper, fresh: bool) -> bool:
    """Make the transaction about to begin (``fresh``) or under way writable; whether it is."""
    raw = connection.connection
    if connection.vendor == "sqlite":
        if _applied(connection, raw) is not False:
            run(raw, "PRAGMA query_only = 0")
            _record(connection, raw, False)
        return True
    if connection.vendor == "mysql":
        if fresh:
            mysql_next_transaction_writable(connection)
        return getattr(connection, WRITABLE_NEXT_ATTR, None) is raw
    if connection.vendor == "postgresql":
        if getattr(connection, TRANSACTION_ATTR, None) == (raw, DISCARDING):
            return True
        if raw.info.transaction_status != PG_IDLE:
            return False
        pg_begin_writable(connection, raw)
        return True
    return False


def mysql_next_transaction_writable(connection: BaseDatabaseWrapper) -> None:
    """The transaction about to begin is writable (for itself only; the session stays so)."""
    raw = connection.connection
    run(
        raw,
        "SET TRANSACTION READ WRITE",
        f"SET SESSION innodb_lock_wait_timeout = {LOCK_TIMEOUT}",
    )
    setattr(connection, WRITABLE_NEXT_ATTR, raw)


def pg_begin_writable(connection: BaseDatabaseWrapper, raw: Any) -> None:
    # psycopg begins the transaction before this, which is then its first statement.
    run(raw, "SET TRANSACTION READ WRITE", f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}s'")
    setattr(connection, TRANSACTION_ATTR, (raw, DISCARDING))


def end_discardable(connection: BaseDatabaseWrapper) -> None:
    """After the rollback: the connection read-only again, as the mode wants it."""
    raw = connection.connection
    if raw is None:
        return
    if connection.vendor == "sqlite":
        run(raw, "PRAGMA query_only = 1")
        _record(connection, raw, True)
    elif connection.vendor == "mysql" and getattr(connection, WRITABLE_NEXT_ATTR, None):
        setattr(connection, WRITABLE_NEXT_ATTR, None)
        run(raw, "SET SESSION innodb_lock_wait_timeout = DEFAULT")
    elif connection.vendor == "postgresql":
        setattr(connection, TRANSACTION_ATTR, None)


HOLDERS: dict[str, Callable[[BaseDatabaseWrapper, Any, bool], None]] = {
    "sqlite": _hold_sqlite,
    "mysql": _hold_mysql,
    "postgresql": _hold_postgresql,
}
