"""Cutover with no restart: an alias of DATABASES served by another alias's settings.

``dbtools cutover --to new`` stores a route (``default`` → ``new``) beside the mode. Each
process takes it up from the store, as it takes up the mode, and from then on
``connections["default"]`` (and ``django.db.connection``, and everything that uses them) is
made from the settings of ``new``, whatever its engine: each thread's old connection is closed
and replaced at its next lookup of the alias, once no atomic block holds it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import connections
from django.db.utils import ConnectionHandler

from dbtools.state import State

logger = logging.getLogger("dbtools")

# Each routed alias's own settings, as configured, kept to go back to.
_configured: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


class RoutedConnectionHandler(ConnectionHandler):
    """Django's connection handler, which drops a thread's connection made before a switch."""

    def __getitem__(self, alias: str) -> Any:
        connection = super().__getitem__(alias)
        if connection.settings_dict is not self.settings.get(alias, connection.settings_dict):
            if connection.in_atomic_block:
                return connection  # switched once the transaction under way has ended
            connection.close()
            delattr(self._connections, alias)  # type: ignore[attr-defined]
            connection = super().__getitem__(alias)
        return connection


def follow(state: State) -> None:
    """Point each routed alias at its target's settings, and every other back at its own."""
    wanted = dict(state.route)
    settings = connections.settings
    with _lock:
        for alias in set(_configured) | set(wanted):
            if alias not in settings:
                continue
            own = _configured.setdefault(alias, settings[alias])
            to = wanted.get(alias, alias)
            if to not in settings and to not in _configured:
                logger.error(
                    "Cutover route %s → %s: no alias %r here; not followed.", alias, to, to
                )
                continue
            chosen = own if to == alias else dict(_configured.get(to, settings[to]))
            if settings[alias] is not chosen:
                settings[alias] = chosen
        if wanted and type(connections) is ConnectionHandler:
            connections.__class__ = RoutedConnectionHandler
    if wanted:
        logger.info(
            "Cutover: %s.", ", ".join(f"{a} uses the settings of {t}" for a, t in wanted.items())
        )


def configured(alias: str) -> dict[str, Any]:
    """The alias's settings as configured on disk, whatever route is in effect."""
    found: dict[str, Any] = _configured.get(alias) or connections.settings[alias]
    return found


def fingerprint(settings: dict[str, Any]) -> str:
    """Which database a settings entry names."""
    return "|".join(str(settings.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
