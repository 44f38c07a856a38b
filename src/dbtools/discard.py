"""A safe request's side-effect writes: run, seen by the request itself, then rolled back.

While a mode is on, a GET, HEAD or OPTIONS request whose code writes (a search log, a hit
counter, a thumbnail row) is served rather than refused (``DBTOOLS_SAFE_REQUEST_WRITES =
"discard"``). Its first write on a connection begins a transaction there (or joins the one the
view opened), made writable for that transaction only; every commit in it becomes a rollback,
and when the response is ready the transaction is rolled back. Only writes a rollback undoes
are taken (see :func:`dbtools.statements.discardable`); everything else is still refused, and
the database's own read-only session holds for every other transaction and thread.
"""

from __future__ import annotations

import contextvars
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from dbtools import native

# The connection attribute naming the Discard whose writes it holds.
DISCARD_ATTR = "_dbtools_discard"


class Discard:
    """The writes of one safe request, per connection, until the response is ready."""

    def __init__(self) -> None:
        # Each connection written on, with the atomic block opened for it (None where the
        # write joined a transaction the view had opened).
        self.connections: dict[BaseDatabaseWrapper, Any] = {}

    def take(self, connection: BaseDatabaseWrapper) -> bool:
        """Make ``connection`` ready to run a write that will be discarded; whether it can."""
        if connection.get_autocommit():
            # No transaction would hold the write: one is opened, kept open until the end.
            opened = transaction.atomic(using=connection.alias)
            opened.__enter__()
            self.connections[connection] = opened
            setattr(connection, DISCARD_ATTR, self)
            if native.begin_discardable(connection, fresh=True):
                return True
            self._end(connection, opened)
            return False
        # Inside a transaction the view opened: it can write if it was begun writable.
        if not native.begin_discardable(connection, fresh=False):
            return False  # a transaction that already read as read-only cannot write
        self.connections.setdefault(connection, None)
        setattr(connection, DISCARD_ATTR, self)
        return True

    def end(self) -> None:
        """Roll back every write taken, and make each connection read-only again."""
        for connection, opened in list(self.connections.items()):
            self._end(connection, opened)

    def _end(self, connection: BaseDatabaseWrapper, opened: Any) -> None:
        self.connections.pop(connection, None)
        try:
            if opened is not None and connection.in_atomic_block:
                transaction.set_rollback(True, using=connection.alias)
                opened.__exit__(None, None, None)
            elif not connection.get_autocommit() and not connection.in_atomic_block:
                connection.rollback()
        finally:
            setattr(connection, DISCARD_ATTR, None)
            native.end_discardable(connection)


current: contextvars.ContextVar[Discard | None] = contextvars.ContextVar(
    "dbtools_discard", default=None
)


def discarding(connection: BaseDatabaseWrapper) -> Discard | None:
    """The Discard holding ``connection``'s writes now, if any."""
    held: Discard | None = getattr(connection, DISCARD_ATTR, None)
    return held
