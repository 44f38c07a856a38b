"""Noticing a change of the two switches in ``os.environ``, at no cost per request.

The switches may be set as environment variables, and a process (a test, a shell, a
management command) may change them while it runs. Comparing them on every request and
every query would cost two lookups each time; instead, the mapping behind ``os.environ``
is given a subclass that replaces the change token when either switch is set or removed.
Every change made through ``os.environ`` (``monkeypatch.setenv``, ``mock.patch.dict``,
``os.environ.pop``, ``os.environ.clear``) goes through it.
"""

from __future__ import annotations

import os
from typing import Any

from dbtools import changes

NAMES = ("READ_ONLY_MODE", "GET_ONLY_MODE")


class _WatchedMapping(dict[Any, Any]):
    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if key in _keys:
            changes.note()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        if key in _keys:
            changes.note()


# How os.environ keys its mapping: bytes on POSIX, upper-case text on Windows.
_keys = frozenset([*NAMES, *(name.encode() for name in NAMES)])


def watch() -> bool:
    """Put the watched mapping behind ``os.environ`` (and ``os.environb``); whether it is."""
    data = getattr(os.environ, "_data", None)
    if isinstance(data, _WatchedMapping):
        return True
    if type(data) is not dict:
        return False
    watched = _WatchedMapping(data)
    # Both views share one mapping; a write through either must reach the other.
    for view in (os.environ, getattr(os, "environb", None)):
        if view is not None and getattr(view, "_data", None) is data:
            setattr(view, "_data", watched)  # noqa: B010 - a private attribute of os
    changes.note()
    return True
