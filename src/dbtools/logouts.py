"""Logging out during the window, and staying logged out after it.

A logout is a POST, and a POST is refused while a mode is on, so without this a visitor
could not log out until the window ended. A request to Django's ``LogoutView`` (or a view
derived from it, as Wagtail's is) or to the Django admin's logout runs instead, its writes
discarded like a GET's: the session cookie is cleared and the visitor sees themself logged
out. The session row cannot be deleted while writes are refused, so its key is remembered
in the runtime store: a replay of the same cookie is served logged out during the window,
in every process that shares the store, and ``dbtools off`` deletes the session once writes
are allowed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.views import LogoutView
from django.core.cache import caches
from django.http import HttpRequest
from django.urls import Resolver404, resolve

from dbtools.stores import CacheStore, FileStore, configured_store

logger = logging.getLogger("dbtools")

CACHE_PREFIX = "dbtools:logged-out"
# At most this many logouts are remembered in one window: beyond, a replay during the
# window is still served logged in until the session expires (each logout costs the
# visitor a CSRF token and a real session, so this bounds a flood, not a real site).
MOST_REMEMBERED = 100_000

_in_memory: set[str] = set()
_lock = threading.Lock()


def is_logout(request: HttpRequest) -> bool:
    """Whether ``request`` is for Django's logout view, one derived from it, or the admin's."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    view = match.func
    view_class = getattr(view, "view_class", None)
    if isinstance(view_class, type) and issubclass(view_class, LogoutView):
        return True
    # AdminSite wraps its bound ``logout`` method, and marks the wrapper with the site.
    site = getattr(view, "admin_site", None)
    return site is not None and getattr(view, "__wrapped__", None) == site.logout


def remember(session_key: str) -> None:
    """Note that the visitor holding ``session_key`` logged out while writes were refused.

    A store that cannot be written still lets the logout through: the cookie is cleared
    all the same, only a replay of it is not caught.
    """
    try:
        _note(session_key)
    except Exception as error:  # every cache backend fails in its own way
        logger.warning("Logout not remembered in the runtime store: %s", error)


def _note(session_key: str) -> None:
    store = configured_store()
    if isinstance(store, CacheStore):
        cache = caches[store.alias]
        if cache.add(_marker(session_key), 1, timeout=None):
            # incr is atomic on Redis and memcached: two processes never take one slot.
            cache.add(f"{CACHE_PREFIX}:count", 0, timeout=None)
            slot = cache.incr(f"{CACHE_PREFIX}:count")
            if slot <= MOST_REMEMBERED:
                cache.set(f"{CACHE_PREFIX}:{slot}", session_key, timeout=None)
    elif isinstance(store, FileStore):
        path = _file(store)
        # One short line appended in one write: lines from several processes never mix.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(session_key) + "\n").encode())
        finally:
            os.close(fd)
    else:
        with _lock:
            if len(_in_memory) < MOST_REMEMBERED:
                _in_memory.add(session_key)


def logged_out(session_key: str) -> bool:
    """Whether the visitor holding ``session_key`` logged out during this window."""
    store = configured_store()
    try:
        if isinstance(store, CacheStore):
            return caches[store.alias].get(_marker(session_key)) is not None
        if isinstance(store, FileStore):
            return session_key in _read_file(store)
    except Exception as error:  # a store that cannot be read serves the session as it is
        logger.warning("Cannot read the logouts of this window: %s", error)
        return False
    return session_key in _in_memory


def forget_all() -> list[str]:
    """The session keys of this window's logouts, forgotten by the store as they are taken."""
    store = configured_store()
    keys: list[str] = []
    if isinstance(store, CacheStore):
        cache = caches[store.alias]
        count = min(int(cache.get(f"{CACHE_PREFIX}:count") or 0), MOST_REMEMBERED)
        slots = [f"{CACHE_PREFIX}:{slot}" for slot in range(1, count + 1)]
        keys = [str(key) for key in cache.get_many(slots).values()]
        cache.delete_many([*slots, f"{CACHE_PREFIX}:count", *(_marker(key) for key in keys)])
    elif isinstance(store, FileStore):
        path = _file(store)
        keys = sorted(_read_file(store))
        path.unlink(missing_ok=True)
    else:
        with _lock:
            keys = sorted(_in_memory)
            _in_memory.clear()
    return keys


def end_window() -> int:
    """Delete the sessions of those who logged out during the window; how many there were.

    Called by ``dbtools off`` once writes are allowed again, so that a copy of a cookie
    taken before the logout no longer logs anyone in.
    """
    keys = forget_all()
    engine: Any = import_module(settings.SESSION_ENGINE)
    for key in keys:
        engine.SessionStore(session_key=key).delete()
    return len(keys)


def _marker(session_key: str) -> str:
    """The cache key noting one logout: a digest, since the cookie is whatever the client
    sent, and memcached refuses keys with spaces or over 250 characters."""
    return f"{CACHE_PREFIX}:key:{hashlib.sha256(session_key.encode()).hexdigest()}"


def _file(store: FileStore) -> Path:
    return store.path.with_name(store.path.name + ".logouts")


# (modification time, size) of the file last read, and the keys it held.
_file_seen: tuple[tuple[int, int], frozenset[str]] = ((0, -1), frozenset())


def _read_file(store: FileStore) -> frozenset[str]:
    global _file_seen
    path = _file(store)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return frozenset()
    seen = (stat.st_mtime_ns, stat.st_size)
    if seen != _file_seen[0]:
        lines = path.read_text(encoding="utf-8").splitlines()
        _file_seen = (seen, frozenset(json.loads(line) for line in lines if line))
    return _file_seen[1]
