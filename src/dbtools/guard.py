"""The database guard: while a mode is on, no write reaches a guarded database.

Two layers, both installed once on every connection:

1. a statement check: every cursor Django makes is of a guarded subclass of its usual
   class, which refuses every statement not known to only read, before it reaches the
   database (and before other code's execute wrappers see it);
2. the database's own read-only session (PostgreSQL ``default_transaction_read_only``,
   MySQL/MariaDB ``SET SESSION TRANSACTION READ ONLY``, SQLite ``PRAGMA query_only``),
   switched when a cursor is made and the mode differs from what the connection last
   applied. It stops what no statement check sees: functions with side effects, the raw
   driver connection, driver methods that skip Django's wrappers.

What was worked out is kept, per connection (and per cursor while a mode is on), under the
change token of ``dbtools.changes``: while no switch, setting or stored state has changed, a
query with no mode on costs one identity check when its cursor is made and one when it runs.
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
from django.db.backends.utils import CursorWrapper
from django.dispatch import receiver
from django.http import HttpRequest

from dbtools import changes
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
# Set on a request under which a write was refused; read by the middleware's after_view.
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


def _refuses(active: bool, alias: str) -> bool:
    """Whether writes to ``alias`` are refused here and now, given whether a mode is on."""
    return active and not _allowed.get() and alias in (_guarded_cache or _guarded())


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
        changes.note()


def _process_active() -> tuple[object, bool]:
    """The change token, then whether a mode is on in this process (worked out in full)."""
    token = changes.token  # read first: a change made meanwhile leaves it stale
    return token, current_state().active


# -- the statement check ------------------------------------------------------------------
#
# Every cursor Django makes for a guarded connection is of a subclass of the class it would
# have made, whose _execute_with_wrappers (the one path of execute() and executemany())
# checks the statement first. A connection found with no mode on remembers the change
# token it saw: while that token holds, the queries of all its cursors go straight
# through, and the first query after a switch flips (a cursor still held) is checked in
# full.


class GuardedCursor(CursorWrapper):
    """The cursor Django makes for a guarded connection (or a subclass of its own kind)."""

    # The change token under which this cursor's writes were found refused (the native
    # session already applied). Whether there is nothing to check (no mode on) is the
    # connection's to say: nothing is noted on the cursor in the common case.
    _dbtools_blocked: object = None

    def _execute_with_wrappers(
        self, sql: Any, params: Any, many: bool, executor: Callable[..., Any]
    ) -> Any:
        token = changes.token
        if self.db._dbtools_clear is not token:
            if self._dbtools_blocked is token and type(sql) is str and not _allowed.get():
                # A mode on and nothing changed: the statement alone is judged.
                verdict = self.db._dbtools_verdicts.get(sql) or _verdict(self.db, sql)
                if verdict is not READ:
                    sql = _judged(self.db, sql, verdict)
            else:
                sql = _check(self, sql)
        # Django's own body of this method (the same from 5.2 to 6.1), repeated rather
        # than called: a call would add a Python call to every query, which is the whole
        # cost of the guard while no mode is on.
        context = {"connection": self.db, "cursor": self}
        for wrapper in reversed(self.db.execute_wrappers):
            executor = functools.partial(wrapper, executor)
        try:
            return executor(sql, params, many, context)
        except DatabaseError as error:
            if is_read_only_refusal(error):
                note_refusal()
            raise

    def callproc(self, procname: Any, params: Any = None, kparams: Any = None) -> Any:
        # A procedure may write: the database's own read-only session is what stops it.
        if self.db._dbtools_clear is not changes.token:
            _settle(self)
        return super().callproc(procname, params, kparams)


def _check(cursor: GuardedCursor, sql: Any) -> Any:
    """The statement to run, or ReadOnlyError: the full check, for a cursor not known clear."""
    if not _settle(cursor):
        return sql
    connection: BaseDatabaseWrapper = cursor.db
    text = _text(sql, connection)
    verdict = _verdict(connection, text)
    return sql if verdict is READ else _judged(connection, text, verdict)


def _judged(connection: BaseDatabaseWrapper, text: str, verdict: str) -> str:
    """What runs instead of a statement that is not a plain read (or ReadOnlyError)."""
    if verdict is WRITE:
        _refuse(connection.alias, text)
    # PRAGMA query_only refuses the write lock that BEGIN IMMEDIATE/EXCLUSIVE take; a
    # deferred transaction reads the same, so atomic() keeps working in every
    # transaction_mode.
    return "BEGIN"


READ, WRITE, TAKES_WRITE_LOCK = "read", "write", "takes a write lock"
VERDICTS_KEPT = 4096
# The verdict on each statement text, per vendor: the ORM sends the same few statements
# over and over. Each connection holds its vendor's dict, one lookup away.
_verdicts: dict[str, dict[str, str]] = {}


def _verdict(connection: BaseDatabaseWrapper, text: str) -> str:
    verdicts: dict[str, str] = connection._dbtools_verdicts  # type: ignore[attr-defined]
    verdict = verdicts.get(text)
    if verdict is None:
        if len(verdicts) >= VERDICTS_KEPT:
            verdicts.clear()  # statements built with their values inlined never repeat
        verdict = verdicts[text] = _judge(text, connection.vendor)
    return verdict


def _judge(text: str, vendor: str) -> str:
    if not is_read(text, vendor):
        return WRITE
    if vendor == "sqlite" and SQLITE_WRITE_LOCK.match(text):
        return TAKES_WRITE_LOCK
    return READ


def _settle(cursor: GuardedCursor) -> bool:
    """Bring the connection's native session in line with the mode; whether writes are refused.

    Notes on the connection (and, for a refusal, on the cursor) the change token under which
    that was found, so that nothing needs working out again until the token changes.
    """
    connection: BaseDatabaseWrapper = cursor.db
    token, active = _process_active()
    blocked = _refuses(active, connection.alias)
    sync_native(connection, blocked)
    in_step = getattr(connection, NATIVE_ATTR, None) == (connection.connection, blocked)
    if blocked:
        cursor._dbtools_blocked = token
        if in_step:
            connection._dbtools_blocked = token  # type: ignore[attr-defined]
        return True
    cursor._dbtools_blocked = None
    if not active and in_step:
        connection._dbtools_clear = token  # type: ignore[attr-defined]
    return False


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


def sync_native(connection: BaseDatabaseWrapper, wanted: bool) -> None:
    """Make the connection's read-only session read-only or not, if it is not already."""
    raw = connection.connection
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
    """Make every cursor of ``connection`` a guarded one; calling it again changes nothing."""
    # A new driver connection is checked in full before it is trusted.
    connection._dbtools_clear = connection._dbtools_blocked = None  # type: ignore[attr-defined]
    connection._dbtools_verdicts = _verdicts.setdefault(connection.vendor, {})  # type: ignore[attr-defined]
    for name in ("make_cursor", "make_debug_cursor"):
        make = getattr(connection, name)
        if not getattr(make, "_dbtools", False):
            setattr(connection, name, _guarding(connection, make))


def _guarding(
    connection: BaseDatabaseWrapper, make: Callable[[Any], CursorWrapper]
) -> Callable[[Any], CursorWrapper]:
    # Django's plain cursor is made here directly, in place of the call to make_cursor:
    # no call is added to making a cursor. Any other kind (the debug cursor, a backend's
    # own) is made as usual and becomes the guarded subclass of its class.
    direct = getattr(make, "__func__", None) is BaseDatabaseWrapper.make_cursor

    def make_guarded_cursor(cursor: Any) -> CursorWrapper:
        if direct:
            wrapped: CursorWrapper = GuardedCursor(cursor, connection)
        else:
            wrapped = make(cursor)
            wrapped.__class__ = _guarded_class(type(wrapped))
        token = changes.token
        # With no mode on, nothing changed and the native session in step, nothing to do.
        if connection._dbtools_clear is not token:  # type: ignore[attr-defined]
            if connection._dbtools_blocked is token and not _allowed.get():  # type: ignore[attr-defined]
                # A mode on, nothing changed, the native session read-only: statements are
                # still judged one by one.
                wrapped._dbtools_blocked = token  # type: ignore[attr-defined]
            else:
                _settle(wrapped)  # type: ignore[arg-type]
        return wrapped

    make_guarded_cursor._dbtools = True  # type: ignore[attr-defined]
    return make_guarded_cursor


_guarded_classes: dict[type, type] = {}


def _guarded_class(cls: type) -> type:
    # The backend's own cursor class keeps its extras (PostgreSQL's debug cursor has copy()).
    guarded = _guarded_classes.get(cls)
    if guarded is None:
        if issubclass(cls, GuardedCursor):
            guarded = cls
        elif cls is CursorWrapper:
            guarded = GuardedCursor
        else:
            guarded = type(f"Guarded{cls.__name__}", (GuardedCursor, cls), {})
        _guarded_classes[cls] = guarded
    return guarded


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


def note_refusal(request: HttpRequest | None = None) -> None:
    """Remember that a write was refused while serving ``request`` (or the current one)."""
    if request is None:
        request = current_request.get()
    if request is not None:
        setattr(request, REFUSED_ATTR, True)
