"""Every setting dbtools reads, in one place, read on access so ``override_settings`` works."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeGuard

from django.conf import settings as django_settings

DEFAULT_MESSAGE = (
    "We are moving our database. You can keep reading everything, "
    "but changes are paused for a few minutes."
)
DEFAULT_RETRY_AFTER = 300
DEFAULT_REFRESH = 1.0
STATE_BACKENDS = ("settings", "cache", "file")


def valid_seconds(value: object) -> TypeGuard[int]:
    """A whole number of seconds, 0 or more (DBTOOLS_RETRY_AFTER, a stored retry-after)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def valid_refresh(value: object) -> TypeGuard[int | float]:
    """A refresh interval: a number of seconds above 0 and at most 60."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 60


class Settings:
    """Typed access to the ``READ_ONLY_MODE``, ``GET_ONLY_MODE`` and ``DBTOOLS_*`` settings."""

    @staticmethod
    def switch(name: str) -> object:
        """The raw value of a switch: the Django setting, else the environment variable.

        A setting of ``None`` counts as absent, so ``READ_ONLY_MODE = os.environ.get(...)``
        in a settings file behaves like not setting it.
        """
        value = getattr(django_settings, name, None)
        if value is None:
            return os.environ.get(name)
        return value

    @property
    def READ_ONLY_MODE(self) -> object:
        return self.switch("READ_ONLY_MODE")

    @property
    def GET_ONLY_MODE(self) -> object:
        return self.switch("GET_ONLY_MODE")

    @property
    def DBTOOLS_MESSAGE(self) -> object:
        return getattr(django_settings, "DBTOOLS_MESSAGE", DEFAULT_MESSAGE)

    @property
    def DBTOOLS_RETRY_AFTER(self) -> object:
        return getattr(django_settings, "DBTOOLS_RETRY_AFTER", DEFAULT_RETRY_AFTER)

    @property
    def DBTOOLS_EXEMPT_PATHS(self) -> object:
        return getattr(django_settings, "DBTOOLS_EXEMPT_PATHS", ())

    @property
    def DBTOOLS_DATABASES(self) -> object:
        """Aliases the database guard covers; ``None`` means every alias."""
        return getattr(django_settings, "DBTOOLS_DATABASES", None)

    @property
    def DBTOOLS_STATE(self) -> object:
        return getattr(django_settings, "DBTOOLS_STATE", "settings")

    @property
    def DBTOOLS_CACHE(self) -> object:
        return getattr(django_settings, "DBTOOLS_CACHE", "default")

    @property
    def DBTOOLS_STATE_FILE(self) -> object:
        return getattr(django_settings, "DBTOOLS_STATE_FILE", None)

    @property
    def DBTOOLS_REFRESH(self) -> object:
        return getattr(django_settings, "DBTOOLS_REFRESH", DEFAULT_REFRESH)

    @property
    def DBTOOLS_SAFE_REQUEST_WRITES(self) -> object:
        return getattr(django_settings, "DBTOOLS_SAFE_REQUEST_WRITES", "discard")

    @property
    def safe_request_writes(self) -> str:
        """ "discard" or "refuse"; anything else (reported by dbtools.E014) refuses."""
        return "discard" if self.DBTOOLS_SAFE_REQUEST_WRITES == "discard" else "refuse"

    @property
    def guarded_aliases(self) -> Sequence[str] | None:
        value = self.DBTOOLS_DATABASES
        if isinstance(value, (list, tuple)):
            return [str(alias) for alias in value]
        return None


conf = Settings()
