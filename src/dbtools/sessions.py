"""A session that reads like the real one and never writes anything anywhere."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import SessionBase


class FrozenSession(SessionBase):
    """Holds the visitor's session data in memory for one request.

    Reads come from the real session (``source``); changes made by view code, login,
    logout, messages or CSRF rotation stay in memory. Once sealed, SessionMiddleware
    sees a session with nothing to save and no cookie to set or delete.
    """

    def __init__(self, source: SessionBase | None = None) -> None:
        super().__init__(session_key=source.session_key if source is not None else None)
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
        if self._source is None:
            return {}
        return dict(self._source.items())

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
        if self._source is None:
            return {}
        return dict(await self._source.aitems())

    async def aexists(self, session_key: str) -> bool:
        return self.exists(session_key)

    async def acreate(self) -> None:
        self.create()

    async def asave(self, must_create: bool = False) -> None:
        pass

    async def adelete(self, session_key: str | None = None) -> None:
        pass
