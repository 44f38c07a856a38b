"""The database guard: while a mode is on, no write reaches a guarded database.

Two layers, both installed on every connection of a guarded alias:

1. a statement check: each connection becomes an instance of a guarded subclass of its
   class, whose cursors refuse every statement not known to only read
   (:mod:`dbtools.statements`), before it reaches the database and before other code's
   execute wrappers see it. The driver methods that run SQL of their own (SQLite's
   ``executescript``, psycopg's ``copy`` and ``stream``, psycopg2's ``copy_*``,
   ``callproc``) are checked too;
2. the database's own read-only session (:mod:`dbtools.native`), which stops what no
   statement check sees: functions with side effects, the raw driver connection.

What was worked out is kept, per connection (and per cursor while a mode is on), under the
change token of ``dbtools.changes``: while no switch, setting or stored state has changed, a
query with no mode on costs one identity check when its cursor is made and one when it runs.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from django.core.signals import request_started, setting_changed
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.backends.utils import CursorWrapper
from django.dispatch import receiver

from dbtools import changes, discard, native
from dbtools.conf import conf
from dbtools.current import current_state
from dbtools.errors import LOCK_TIMEOUT, ReadOnlyError, is_read_only_refusal
from dbtools.permission import allowed, writes_allowed
from dbtools.requests import LOGGED_ATTR, current_request, note_refusal
from dbtools.statements import (
    READ,
    TAKES_WRITE_LOCK,
    WRITE,
    Calls,
    Verdict,
    commits,
    discardable,
    judge,
)
from dbtools.statements.mysql import written_names
from dbtools.statements.postgresql import judge_unconforming
from dbtools.statements.verdicts import ENDS_TRANSACTION

logger = logging.getLogger("dbtools")

__all__ = ["GuardedCursor", "install", "install_everywhere", "writes_allowed"]


def _refuses(active: bool, alias: str) -> bool:
    """Whether writes to ``alias`` are refused here and now, given whether a mode is on."""
    return active and not allowed() and alias in (_guarded_cache or _guarded())


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


# -- the statement check ------------------------------------------------------------------
#
# A connection found with no mode on remembers the change token it saw: while that token
# holds, the queries of all its cursors go straight through, and the first query after a
# switch flips (a cursor still held) is checked in full.


class _RunsSQL:
    """A driver method that runs the SQL it is given: checked like ``execute`` while not clear.

    ``statement`` says where the SQL is among the arguments and whether it is sent bound;
    None means the method always writes (psycopg2's ``copy_from``).
    """

    def __init__(self, statement: Callable[..., tuple[Any, bool]] | None) -> None:
        self.statement = statement

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, cursor: GuardedCursor | None, owner: type) -> Any:
        if cursor is None:
            return self
        # The wrapper's own method where it has one (PostgreSQL's debug cursor logs copy()).
        method = getattr(super(GuardedCursor, cursor), self.name, None)
        if method is None:
            method = getattr(cursor.cursor, self.name)
        if cursor.db._dbtools_clear is changes.token:
            return method
        return functools.partial(self._call, cursor, method)

    def _call(
        self, cursor: GuardedCursor, method: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        if self.statement is None:
            if _settle(cursor) and not allowed():
                _refuse(cursor.db.alias, f"{self.name}()")
            return method(*args, **kw)
        sql, bound = self.statement(*args, **kw)
        return _guarded_call(cursor, sql, bound, lambda _checked: method(*args, **kw))


def _sql_and_params(sql: Any, params: Any = None, *args: Any, **kw: Any) -> tuple[Any, bool]:
    return sql, params is not None


def _first(sql: Any, *args: Any, **kw: Any) -> tuple[Any, bool]:
    return sql, False


def _table_out(file: Any, table: Any, *args: Any, **kw: Any) -> tuple[Any, bool]:
    return f"COPY {table} TO STDOUT", False


class GuardedCursor(CursorWrapper):
    """The cursor Django makes for a guarded connection (or a subclass of its own kind)."""

    # The change token under which this cursor's writes were found refused (the native
    # session already applied). Whether there is nothing to check (no mode on) is the
    # connection's to say: nothing is noted on the cursor in the common case.
    _dbtools_blocked: object = None

    def _execute_with_wrappers(
        self, sql: Any, params: Any, many: bool, executor: Callable[..., Any]
    ) -> Any:
        if self.db._dbtools_clear is not changes.token and not _known_read(
            self, sql, params is not None
        ):
            return _guarded_call(
                self,
                sql,
                params is not None,
                lambda checked: _run_noting_refusal(self, checked, params, many, executor),
            )
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
        # A MySQL stored procedure may set the session writable again before it writes;
        # PostgreSQL runs it as a function, in a transaction the database keeps read-only.
        if (
            self.db.vendor == "mysql"
            and self.db._dbtools_clear is not changes.token
            and _settle(self)
            and not allowed()
        ):
            _refuse(self.db.alias, f"CALL {procname}")
        return super().callproc(procname, params, kparams)

    executescript = _RunsSQL(_first)  # SQLite
    copy = _RunsSQL(_sql_and_params)  # psycopg
    stream = _RunsSQL(_sql_and_params)
    copy_expert = _RunsSQL(_first)  # psycopg2
    copy_to = _RunsSQL(_table_out)
    copy_from = _RunsSQL(None)
    _query = _RunsSQL(_first)  # mysqlclient


def _run_noting_refusal(
    cursor: GuardedCursor, sql: Any, params: Any, many: bool, executor: Callable[..., Any]
) -> Any:
    try:
        return CursorWrapper._execute_with_wrappers(  # type: ignore[attr-defined]
            cursor, sql, params, many, executor
        )
    except DatabaseError as error:
        if is_read_only_refusal(error):
            note_refusal()
        raise


def _known_read(cursor: GuardedCursor, sql: Any, bound: bool) -> bool:
    """Whether ``sql`` is a statement judged a plain read before, on a connection held read-only.

    Then it runs as if no mode were on, in one call instead of _guarded_call's five: the
    reads a page makes are most of its queries. Not on PostgreSQL, whose session is checked
    around each statement, nor while the thread may write or a discarded write is held.
    """
    connection: BaseDatabaseWrapper = cursor.db
    token = changes.token
    if (
        cursor._dbtools_blocked is not token
        or connection._dbtools_blocked is not token  # type: ignore[attr-defined]
        or connection.vendor == "postgresql"
        or type(sql) is not str
        or getattr(connection, discard.DISCARD_ATTR, None) is not None
        or allowed()
    ):
        return False
    verdicts = _verdicts.get((connection.vendor, bound))
    return verdicts is not None and verdicts.get(sql) is READ


def _guarded_call(cursor: GuardedCursor, sql: Any, bound: bool, run: Callable[[Any], Any]) -> Any:
    """Run ``run(sql)`` if writes are not refused, or if ``sql`` only reads; else refuse."""
    connection: BaseDatabaseWrapper = cursor.db
    token = changes.token
    held = cursor._dbtools_blocked is token and connection._dbtools_blocked is token  # type: ignore[attr-defined]
    # Allowed to write: the settle lifts the native session's read-only setting.
    if (not held or allowed()) and not _settle(cursor):
        return run(sql)
    text = _text(sql, connection)
    verdict = _verdict(connection, text, bound)
    if verdict is not READ or discard.discarding(connection) is not None:
        sql = _judged(connection, sql, text, verdict, bound)
    if connection.vendor != "postgresql":
        if discard.discarding(connection) is None:
            return run(sql)  # no lock of a discarded write's to wait on
        return _lock_wait_refused(connection, text, run, sql)
    raw = connection.connection
    commit = native.pg_before(connection, raw, discard.current.get() is not None)
    try:
        return _lock_wait_refused(connection, text, run, sql)
    finally:
        native.pg_after(connection, raw, verdict is ENDS_TRANSACTION, commit)


def _discards(connection: BaseDatabaseWrapper, text: str, bound: bool) -> bool:
    """Whether a write may run because the safe request making it will have it rolled back."""
    taking = discard.current.get()
    if taking is None or not discardable(text, connection.vendor, bound):
        return False
    if connection.vendor == "mysql":
        lasting = native.lasting_tables(connection)
        if lasting is None or lasting & written_names(text, bound):
            return False  # a table of an engine without transactions, or not known yet
    return taking.take(connection)


def _lock_wait_refused(
    connection: BaseDatabaseWrapper, text: str, run: Callable[[Any], Any], sql: Any
) -> Any:
    # A discarded write that waited too long on a lock is answered with the refusal.
    try:
        return run(sql)
    except DatabaseError as error:
        if discard.discarding(connection) is not None and LOCK_TIMEOUT.match(error):
            _refuse(connection.alias, text)
        raise


def _judged(
    connection: BaseDatabaseWrapper, sql: Any, text: str, verdict: Verdict, bound: bool
) -> Any:
    """What runs instead of a statement that is not a plain read (or ReadOnlyError)."""
    if discard.discarding(connection) is not None and commits(text, connection.vendor, bound):
        _refuse(connection.alias, text)  # it would keep the writes a safe request made
    if verdict is WRITE:
        if not _discards(connection, text, bound):
            _refuse(connection.alias, text)
        return sql
    if isinstance(verdict, Calls):
        stored = native.stored_functions(connection)
        # Not yet known which functions are stored: any not built in may be one.
        if stored is None or verdict.functions & stored:
            _refuse(connection.alias, text)
    if verdict is TAKES_WRITE_LOCK:
        # PRAGMA query_only refuses the write lock that BEGIN IMMEDIATE/EXCLUSIVE take; a
        # deferred transaction reads the same, so atomic() keeps working in every
        # transaction_mode.
        return "BEGIN"
    return sql


VERDICTS_KEPT = 4096
# The verdict on each statement text, per vendor and per way of sending it (with
# parameters or without): the ORM sends the same few statements over and over.
_verdicts: dict[tuple[str, bool], dict[str, Verdict]] = {}


def _verdict(connection: BaseDatabaseWrapper, text: str, bound: bool) -> Verdict:
    if connection.vendor == "postgresql" and not native.pg_conforming(connection.connection):
        return judge_unconforming(text, bound)
    verdicts = _verdicts.get((connection.vendor, bound))
    if verdicts is None:
        verdicts = _verdicts[connection.vendor, bound] = {}
    verdict = verdicts.get(text)
    if verdict is None:
        if len(verdicts) >= VERDICTS_KEPT:
            verdicts.clear()  # statements built with their values inlined never repeat
        verdict = verdicts[text] = judge(text, connection.vendor, bound)
    return verdict


def _settle(cursor: GuardedCursor) -> bool:
    """Bring the connection's native session in line with the mode; whether writes are refused.

    Notes on the connection (and, for a refusal, on the cursor) the change token under which
    that was found, so that nothing needs working out again until the token changes.
    """
    connection: BaseDatabaseWrapper = cursor.db
    token, blocked = _settle_connection(connection)
    cursor._dbtools_blocked = token if blocked else None
    return blocked


def _settle_connection(connection: BaseDatabaseWrapper) -> tuple[object, bool]:
    """The change token, and whether writes are refused: the native session brought in line."""
    token = changes.token  # read first: a change made meanwhile leaves it stale
    active = current_state().active
    blocked = _refuses(active, connection.alias)
    native.hold(connection, blocked)
    if native.in_step(connection, blocked):
        if blocked:
            connection._dbtools_blocked = token  # type: ignore[attr-defined]
        elif not active:
            connection._dbtools_clear = token  # type: ignore[attr-defined]
    return token, blocked


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
    if request is not None:
        setattr(request, LOGGED_ATTR, True)
    raise error


# -- installing ----------------------------------------------------------------------------


def _make_guarded_cursor(connection: BaseDatabaseWrapper, wrapped: CursorWrapper) -> CursorWrapper:
    token = changes.token
    # With no mode on, nothing changed and the native session in step, nothing to do.
    if connection._dbtools_clear is not token:  # type: ignore[attr-defined]
        if connection._dbtools_blocked is token and not allowed():  # type: ignore[attr-defined]
            # A mode on, nothing changed, the native session read-only: statements are
            # still judged one by one.
            wrapped._dbtools_blocked = token  # type: ignore[attr-defined]
        else:
            _settle(wrapped)  # type: ignore[arg-type]
    return wrapped


def _guarded_wrapper_class(cls: type[BaseDatabaseWrapper]) -> type[BaseDatabaseWrapper]:
    """A subclass of a backend's DatabaseWrapper whose cursors are guarded ones.

    A subclass rather than attributes set on the instance, so that a copy of a connection
    (``copy.copy``, as Django's own tests make) makes cursors of its own.
    """
    guarded = _wrapper_classes.get(cls)
    if guarded is not None:
        return guarded
    # Django's plain cursor is made here directly, in place of the call to make_cursor:
    # no call is added to making a cursor. Any other kind (the debug cursor, a backend's
    # own) is made as usual and becomes the guarded subclass of its class.
    direct = cls.make_cursor is BaseDatabaseWrapper.make_cursor

    def make_cursor(self: BaseDatabaseWrapper, cursor: Any) -> CursorWrapper:
        if direct:
            return _make_guarded_cursor(self, GuardedCursor(cursor, self))
        made = super(guarded, self).make_cursor(cursor)  # type: ignore[arg-type]
        made.__class__ = _guarded_cursor_class(type(made))
        return _make_guarded_cursor(self, made)

    def make_debug_cursor(self: BaseDatabaseWrapper, cursor: Any) -> CursorWrapper:
        made = super(guarded, self).make_debug_cursor(cursor)  # type: ignore[arg-type]
        made.__class__ = _guarded_cursor_class(type(made))
        return _make_guarded_cursor(self, made)

    def _rollback(self: BaseDatabaseWrapper) -> None:
        super(guarded, self)._rollback()  # type: ignore[arg-type]
        # A read-only default set inside the transaction went with it: set again at once,
        # before the raw connection can write.
        if self.vendor == "postgresql" and self._dbtools_blocked is changes.token:  # type: ignore[attr-defined]
            native.hold(self, True)

    def commit(self: BaseDatabaseWrapper) -> None:
        # A safe request's writes are never kept: its transactions end in a rollback.
        if discard.discarding(self) is not None:
            self.rollback()
        else:
            super(guarded, self).commit()  # type: ignore[arg-type]

    def on_commit(self: BaseDatabaseWrapper, func: Any, robust: bool = False) -> None:
        # Outside a transaction Django runs the callback at once; after a discarded write
        # it follows a write that was never kept, so it never runs.
        if not self.in_atomic_block and discard.discarding(self) is not None:
            return
        super(guarded, self).on_commit(func, robust)  # type: ignore[arg-type]

    def _set_autocommit(self: BaseDatabaseWrapper, autocommit: bool) -> None:
        super(guarded, self)._set_autocommit(autocommit)  # type: ignore[arg-type]
        if discard.current.get() is None or self._dbtools_blocked is not changes.token:  # type: ignore[attr-defined]
            return
        if autocommit:
            # Back in autocommit, nothing would roll a write back: read-only again.
            if discard.discarding(self) is not None:
                native.end_discardable(self)
        elif self.vendor == "mysql":
            # A transaction a safe request opens (atomic(), get_or_create) may hold its
            # discarded writes: begun writable, for itself only.
            native.mysql_next_transaction_writable(self)

    guarded = type(
        cls.__name__,
        (cls,),
        {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "make_cursor": make_cursor,
            "make_debug_cursor": make_debug_cursor,
            "_rollback": _rollback,
            "commit": commit,
            "on_commit": on_commit,
            "_set_autocommit": _set_autocommit,
            "_dbtools_guarded": True,
            # Until the connection is made and judged: nothing known.
            "_dbtools_clear": None,
            "_dbtools_blocked": None,
        },
    )
    _wrapper_classes[cls] = _wrapper_classes[guarded] = guarded
    return guarded


_wrapper_classes: dict[type, type[BaseDatabaseWrapper]] = {}


@receiver(connection_created)
def install(connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """Make every cursor of ``connection`` a guarded one; calling it again changes nothing.

    A connection just made (or just taken from a pool, whose last user may have left it
    read-only) is brought in line with the mode at once, before any code can reach the
    raw driver connection.
    """
    connection._dbtools_clear = connection._dbtools_blocked = None  # type: ignore[attr-defined]
    if not getattr(connection, "_dbtools_guarded", False):
        connection.__class__ = _guarded_wrapper_class(type(connection))
    if connection.connection is not None:
        _settle_connection(connection)


_guarded_cursor_classes: dict[type, type] = {}


def _guarded_cursor_class(cls: type) -> type:
    # The backend's own cursor class keeps its extras (PostgreSQL's debug cursor has copy()).
    guarded = _guarded_cursor_classes.get(cls)
    if guarded is None:
        if issubclass(cls, GuardedCursor):
            guarded = cls
        elif cls is CursorWrapper:
            guarded = GuardedCursor
        else:
            guarded = type(f"Guarded{cls.__name__}", (GuardedCursor, cls), {})
        _guarded_cursor_classes[cls] = guarded
    return guarded


@receiver(request_started)
def settle_open_connections(**kwargs: object) -> None:
    """At each request, bring this thread's open connections in line with the mode.

    So that a switch reaches even the raw driver connection of a connection kept open
    (``CONN_MAX_AGE``) from the start of the next request, not only at its next cursor.
    """
    token = changes.token
    # Nothing changed since this thread last settled its connections: every connection it
    # opened since then was settled at its first cursor, under this same token.
    if _settled.token is token:
        return
    for connection in connections.all(initialized_only=True):
        if (
            connection.connection is not None
            and getattr(connection, "_dbtools_clear", token) is not token
            and connection._dbtools_blocked is not token  # type: ignore[attr-defined]
        ):
            _settle_connection(connection)
    _settled.token = token


class _Settled(threading.local):
    token: object = None


_settled = _Settled()


def install_everywhere() -> None:
    for connection in connections.all(initialized_only=True):
        install(connection)
    _allow_test_machinery()


def _allow_test_machinery() -> None:
    # Test databases are made, flushed and filled from fixtures whatever mode the settings
    # under test turn on; the tests' own writes are still refused. The callers of
    # create_test_db are wrapped, not create_test_db itself, so that the warnings it
    # raises still point at their caller.
    from django.core.management.commands import loaddata
    from django.test import TestCase, TransactionTestCase, runner, utils

    for module, name in (
        (utils, "setup_databases"),
        (utils, "teardown_databases"),
        (runner, "_setup_databases"),
        (runner, "_teardown_databases"),
    ):
        _allow_writes_in(module, name)
    for name in ("_fixture_setup", "_fixture_teardown", "_reset_sequences"):
        _allow_writes_in(TransactionTestCase, name)
    # TestCase loads its fixtures in setUpClass, next to setUpTestData (the test's own
    # writes, still refused): only the loaddata it calls there is let through.
    for name in ("setUpClass", "_fixture_setup"):
        _mark_fixture_loading(TestCase, name)
    _allow_writes_in(loaddata.Command, "handle", only_if=_loading_fixtures.get)


_loading_fixtures: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "dbtools_loading_fixtures", default=False
)


def _allow_writes_in(owner: Any, name: str, only_if: Callable[[], bool] = lambda: True) -> None:
    def allowing(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if not only_if():
                return function(*args, **kwargs)
            with writes_allowed():
                return function(*args, **kwargs)

        return inner

    _wrap(owner, name, allowing)


def _mark_fixture_loading(owner: Any, name: str) -> None:
    def marking(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def inner(*args: Any, **kwargs: Any) -> Any:
            token = _loading_fixtures.set(True)
            try:
                return function(*args, **kwargs)
            finally:
                _loading_fixtures.reset(token)

        return inner

    _wrap(owner, name, marking)


def _wrap(
    owner: Any, name: str, wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    """Replace ``owner.name`` by ``wrapper(owner.name)`` once, a classmethod if it was one."""
    found = inspect.getattr_static(owner, name, None)
    if found is None:
        return
    kind: Callable[[Any], Any] | None = None
    if isinstance(found, (classmethod, staticmethod)):
        kind, found = type(found), found.__func__
    if getattr(found, "_dbtools", False):
        return
    wrapped: Any = wrapper(found)
    wrapped._dbtools = True
    setattr(owner, name, kind(wrapped) if kind is not None else wrapped)
