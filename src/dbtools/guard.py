"""The database guard: while a mode is on, no write reaches a guarded database.

Two layers, both installed once on every connection:

1. a statement check (an execute wrapper) that refuses every statement not known to only
   read, before it reaches the database;
2. the database's own read-only session (PostgreSQL ``default_transaction_read_only``,
   MySQL/MariaDB ``SET SESSION TRANSACTION READ ONLY``, SQLite ``PRAGMA query_only``),
   switched when a cursor is made and the mode differs from what the connection last
   applied. It stops what no statement check sees: functions with side effects, the raw
   driver connection, driver methods that skip Django's wrappers.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.core.signals import setting_changed
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.creation import BaseDatabaseCreation
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpRequest

from dbtools.conf import conf
from dbtools.current import current_state
from dbtools.errors import ReadOnlyError, is_read_only_refusal
from dbtools.sql import is_read

logger = logging.getLogger("dbtools")

F = TypeVar("F", bound=Callable[..., Any])

_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("dbtools_allowed", default=False)
# The request being served in this thread or task, for logs and for the response phase.
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "dbtools_request", default=None
)
REFUSED_ATTR = "_dbtools_refused"

SQLITE_WRITE_LOCK = re.compile(r"\s*BEGIN\s+(IMMEDIATE|EXCLUSIVE)\b", re.IGNORECASE)

# What the native layer last applied, per Django connection: the raw driver connection it
# was applied on (a reconnect starts afresh) and whether it was read-only.
NATIVE_ATTR = "_dbtools_native"
PENDING_ATTR = "_dbtools_pending"


class writes_allowed:  # noqa: N801 - used like a function, as contextlib's helpers are
    """Let the current thread or task write while a mode is on.

    Use it as ``with dbtools.writes_allowed():`` or as a decorator (sync or async) around
    the migration script or maintenance command that must write. The previous state is
    restored on exit, nested or not. Other threads and tasks stay blocked.
    """

    def __init__(self) -> None:
        self._tokens: list[contextvars.Token[bool]] = []

    def __enter__(self) -> None:
        self._tokens.append(_allowed.set(True))

    def __exit__(self, *exc_info: object) -> None:
        _allowed.reset(self._tokens.pop())

    def __call__(self, function: F) -> F:
        if iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_inner(*args: Any, **kwargs: Any) -> Any:
                with writes_allowed():
                    return await function(*args, **kwargs)

            return async_inner  # type: ignore[return-value]

        @functools.wraps(function)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with writes_allowed():
                return function(*args, **kwargs)

        return inner  # type: ignore[return-value]


def blocking(alias: str) -> bool:
    """Whether writes to ``alias`` are refused here and now (asked on every query)."""
    return current_state().active and not _allowed.get() and alias in (_guarded_cache or _guarded())


_guarded_cache: frozenset[str] | None = None


def _guarded() -> frozenset[str]:
    global _guarded_cache
    if _guarded_cache is None:
        aliases = conf.guarded_aliases
        _guarded_cache = frozenset(connections.settings if aliases is None else aliases)
    return _guarded_cache


@receiver(setting_changed)
def _forget_guarded(*, setting: str, **kwargs: object) -> None:
    global _guarded_cache
    if setting in ("DBTOOLS_DATABASES", "DATABASES"):
        _guarded_cache = None


# -- the statement check ------------------------------------------------------------------


def check_statement(
    execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    connection: BaseDatabaseWrapper = context["connection"]
    if blocking(connection.alias):
        text = _text(sql, connection)
        if not is_read(text, connection.vendor):
            _refuse(connection.alias, text)
        if connection.vendor == "sqlite" and SQLITE_WRITE_LOCK.match(text):
            # PRAGMA query_only refuses the write lock that BEGIN IMMEDIATE/EXCLUSIVE take;
            # a deferred transaction reads the same, so atomic() keeps working in every
            # transaction_mode.
            sql = "BEGIN"
    try:
        return execute(sql, params, many, context)
    except DatabaseError as error:
        if is_read_only_refusal(error):
            note_refusal()
        raise


def _text(sql: Any, connection: BaseDatabaseWrapper) -> str:
    if isinstance(sql, str):
        return sql
    if isinstance(sql, bytes):
        return sql.decode("utf-8", "replace")
    as_string = getattr(sql, "as_string", None)  # psycopg's sql.SQL and sql.Composed
    if as_string is not None:
        try:
            return str(as_string(connection.connection))
        except Exception:  # a composition no connection can render is not a known read
            return "?"
    return "?"


def _refuse(alias: str, sql: str) -> None:
    error = ReadOnlyError(alias, sql)
    request = current_request.get()
    logger.warning(
        "Blocked a write on database %r%s: %s",
        alias,
        f" (request {request.path})" if request is not None else "",
        error.statement,
    )
    note_refusal()
    raise error


# -- the database's own read-only session --------------------------------------------------


def sync_native(connection: BaseDatabaseWrapper) -> None:
    """Make the connection's read-only session match the mode, if it does not already."""
    raw = connection.connection
    wanted = blocking(connection.alias)
    applied = getattr(connection, NATIVE_ATTR, None)
    if applied is not None and applied[0] is raw:
        if applied[1] == wanted:
            return
    elif not wanted:
        _record(connection, raw, False)  # a new connection is read-write until told otherwise
        return
    apply = NATIVE_APPLIERS.get(connection.vendor)
    if apply is not None and raw is not None:
        apply(connection, raw, wanted)


def _run_raw(raw: Any, *statements: str) -> None:
    cursor = raw.cursor()
    try:
        for statement in statements:
            cursor.execute(statement)
    finally:
        cursor.close()


def _record(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    setattr(connection, NATIVE_ATTR, (raw, read_only))


def _apply_sqlite(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    _run_raw(raw, f"PRAGMA query_only = {1 if read_only else 0}")
    _record(connection, raw, read_only)


def _apply_mysql(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    # Takes effect from the next transaction; in autocommit, the next statement. Going off
    # returns to the server's default rather than forcing read-write, so a read-only server
    # setting made by a DBA (SET GLOBAL ...) still holds.
    if read_only:
        statement = "SET SESSION TRANSACTION READ ONLY"
    else:
        mariadb = getattr(connection, "mysql_is_mariadb", False)
        old = mariadb and getattr(connection, "mysql_version", (0,)) < (11, 1)
        statement = f"SET SESSION {'tx_read_only' if old else 'transaction_read_only'} = DEFAULT"
    _run_raw(raw, statement)
    _record(connection, raw, read_only)


PG_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction begun on the server


def _apply_postgresql(connection: BaseDatabaseWrapper, raw: Any, read_only: bool) -> None:
    # Going off is a RESET, back to whatever the server, database or role says, so that a
    # DBA's ALTER SYSTEM/DATABASE ... default_transaction_read_only keeps holding.
    setting = (
        "SET SESSION default_transaction_read_only = on"
        if read_only
        else "RESET default_transaction_read_only"
    )
    if raw.info.transaction_status == PG_IDLE:
        # No transaction has begun, even if Django opened an atomic block: set it outside
        # one, so that it lasts and the transaction about to begin starts in the new mode.
        if raw.autocommit:
            _run_raw(raw, setting)
        else:
            raw.autocommit = True
            try:
                _run_raw(raw, setting)
            finally:
                raw.autocommit = False
        _record(connection, raw, read_only)
        return
    # Inside a transaction a SET lasts only if the transaction commits; a transaction
    # already under way can become read-only, never read-write again.
    pending = getattr(connection, PENDING_ATTR, None)
    if pending is not None and pending[1] == read_only and pending[0] in _callbacks(connection):
        return
    _run_raw(raw, setting, *(["SET TRANSACTION READ ONLY"] if read_only else []))
    if not connection.in_atomic_block:
        return  # manual transaction management: checked again on the next cursor

    def committed() -> None:
        _record(connection, raw, read_only)

    transaction.on_commit(committed, using=connection.alias)
    setattr(connection, PENDING_ATTR, (committed, read_only))


def _callbacks(connection: BaseDatabaseWrapper) -> list[Callable[[], None]]:
    return [entry[1] for entry in connection.run_on_commit]


NATIVE_APPLIERS: dict[str, Callable[[BaseDatabaseWrapper, Any, bool], None]] = {
    "sqlite": _apply_sqlite,
    "mysql": _apply_mysql,
    "postgresql": _apply_postgresql,
}


# -- installing ----------------------------------------------------------------------------


@receiver(connection_created)
def install(connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """Put both layers on ``connection``; calling it again changes nothing."""
    if check_statement not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, check_statement)
    if not getattr(connection.create_cursor, "_dbtools", False):
        create_cursor = connection.create_cursor

        def create_guarded_cursor(name: Any = None) -> Any:
            cursor = create_cursor(name)
            sync_native(connection)
            return cursor

        create_guarded_cursor._dbtools = True  # type: ignore[attr-defined]
        connection.create_cursor = create_guarded_cursor  # type: ignore[method-assign]


def install_everywhere() -> None:
    for connection in connections.all(initialized_only=True):
        install(connection)
    for name in ("create_test_db", "clone_test_db", "destroy_test_db"):
        _allow_writes_in(BaseDatabaseCreation, name)


def _allow_writes_in(cls: type, name: str) -> None:
    # Test databases are made and migrated whatever mode the settings under test turn on.
    method = getattr(cls, name)
    if not getattr(method, "_dbtools", False):
        wrapped = writes_allowed()(method)
        wrapped._dbtools = True
        setattr(cls, name, wrapped)


# -- the request in progress ----------------------------------------------------------------


def note_refusal() -> None:
    """Remember that a write was refused while serving the current request, if any."""
    request = current_request.get()
    if request is not None:
        setattr(request, REFUSED_ATTR, True)


def refused_during(request: HttpRequest) -> bool:
    return getattr(request, REFUSED_ATTR, False)
