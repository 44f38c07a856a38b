"""A session that reads like the real one and never writes anything anywhere."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieSession

from dbtools import changes

# While a mode is on nothing can write a session, so what one was read as is kept, and the
# visitor's next requests to this process skip the session query: the database is spared
# a read per request when it is busiest. Kept under one change token (a mode turned off, or
# changed, starts afresh), for at most KEPT_SECONDS (a session that expires, or that someone
# deletes by hand meanwhile, is seen that much later), and for at most KEPT_SESSIONS visitors.
KEPT_SECONDS = 60.0
KEPT_SESSIONS = 10_000
# (session class, key) -> (kept until, on time.monotonic(); the data). Each request gets
# its own copy, so that a view changing a list in its session in place changes nothing the
# next request reads: a copy of the dict when every value is a scalar (a logged-in
# visitor's usual session), else decoded from what the session's own serializer wrote.
Kept = dict[tuple[type[SessionBase], str], tuple[float, dict[str, Any] | bytes]]
_kept: Kept = {}
_kept_under: object = None
_SCALARS = frozenset({str, int, float, bool, type(None)})


class FrozenSession(SessionBase):
    """Holds the visitor's session data in memory for one request.

    Reads come from the real session (``source``); changes made by view code, login,
    logout, messages or CSRF rotation stay in memory. Once sealed, SessionMiddleware
    sees a session with nothing to save and no cookie to set or delete.
    """

    def __init__(self, source: SessionBase | None = None) -> None:
        if source is None:
            super().__init__()
        else:
            # SessionBase.__init__ (the same from Django 5.2 to 6.1) less its import of the
            # serializer by its dotted path: the source has it already, and this runs on
            # every request served read-only.
            # Set past SessionBase's property: the source validated its key already.
            self._SessionBase__session_key = source._SessionBase__session_key  # type: ignore[attr-defined]
            self.accessed = False
            self.serializer = source.serializer
        self._source = source
        self._sealed = False

    # SessionMiddleware saves when ``modified`` is true: it never is, whatever is assigned.
    @property
    def modified(self) -> bool:
        return False

    @modified.setter
    def modified(self, value: bool) -> None:
        pass

    def seal(self) -> None:
        self._sealed = True

    def is_empty(self) -> bool:
        return self._sealed or super().is_empty()

    def load(self) -> dict[str, Any]:
        source = self._source
        if source is None:
            return {}
        data = kept(source)
        if data is None:
            data = dict(source.items())
            keep(source, data)
        return data

    def exists(self, session_key: str) -> bool:
        return session_key == self.session_key

    def create(self) -> None:
        self._session_key = None

    def save(self, must_create: bool = False) -> None:
        pass

    def delete(self, session_key: str | None = None) -> None:
        pass

    @classmethod
    def clear_expired(cls) -> None:
        pass

    async def aload(self) -> dict[str, Any]:
        source = self._source
        if source is None:
            return {}
        data = kept(source)
        if data is None:
            data = dict(await source.aitems())
            keep(source, data)
        return data

    async def aexists(self, session_key: str) -> bool:
        return self.exists(session_key)

    async def acreate(self) -> None:
        self.create()

    async def asave(self, must_create: bool = False) -> None:
        pass

    async def adelete(self, session_key: str | None = None) -> None:
        pass


def kept(source: SessionBase) -> dict[str, Any] | None:
    """A fresh copy of what ``source`` was read as earlier in this mode, if kept."""
    key = source.session_key
    found = _store().get((type(source), key)) if key else None
    if found is None or found[0] < time.monotonic():
        return None
    data = found[1]
    if isinstance(data, dict):
        return dict(data)
    return source.serializer().loads(data)  # type: ignore[no-any-return]


def keep(source: SessionBase, data: dict[str, Any]) -> None:
    """Keep what a visitor's session was read as, for their next requests in this mode."""
    key = source.session_key
    # No session, an unknown or expired key, or a session held in its own cookie (read
    # without a query, and its key as long as its data): nothing to spare.
    if not key or not data or isinstance(source, CookieSession):
        return
    held: dict[str, Any] | bytes
    if _SCALARS.issuperset(map(type, data.values())):
        held = dict(data)
    else:
        try:
            held = source.serializer().dumps(data)
        except (TypeError, ValueError):
            # A cache-backed session is pickled by the cache, not written by its serializer,
            # and may hold what that serializer cannot write: it is read every time.
            return
    store = _store()
    if len(store) >= KEPT_SESSIONS:
        store.clear()
    store[(type(source), key)] = (time.monotonic() + KEPT_SECONDS, held)


def _store() -> Kept:
    """The sessions kept in this mode: a change of mode, or of any switch, empties it."""
    global _kept_under
    if _kept_under is not changes.token:
        _kept.clear()
        _kept_under = changes.token
    return _kept
