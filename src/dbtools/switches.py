"""Strict parsing of the two switches, ``READ_ONLY_MODE`` and ``GET_ONLY_MODE``."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from dbtools import changes
from dbtools.conf import DEFAULT_MESSAGE, DEFAULT_RETRY_AFTER, conf, valid_seconds
from dbtools.state import OFF, Mode, State

logger = logging.getLogger("dbtools")

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})


class InvalidSwitch(ValueError):
    """A switch holds a value that is neither clearly on nor clearly off."""

    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = value
        super().__init__(
            f"{name} must be true/false, 1/0, yes/no, on/off (any case) or empty; got {value!r}."
        )


def parse_switch(name: str, value: object) -> bool:
    """Return whether switch ``name`` is on, raising InvalidSwitch for an unclear value.

    ``None`` means the switch is not set at all. Only real bools and the words above are
    accepted: the 2013 original turned a mode on for any non-empty string, "False" included.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise InvalidSwitch(name, value)


def message_setting() -> str:
    value = conf.DBTOOLS_MESSAGE
    return value if isinstance(value, str) else DEFAULT_MESSAGE


def retry_after_setting() -> int:
    value = conf.DBTOOLS_RETRY_AFTER
    if valid_seconds(value):
        return value
    return DEFAULT_RETRY_AFTER


def settings_state() -> State:
    """The state the two switches in settings or the environment give.

    Computed once and kept until a setting changes (``override_settings`` included) or
    one of the two environment variables does; checking that costs two dict lookups,
    because the database guard asks on every query.
    """
    generation, read_only, get_only, state = _snapshot
    if (
        generation == _generation
        and read_only == environ_get(READ_ONLY_KEY)
        and get_only == environ_get(GET_ONLY_KEY)
    ):
        return state
    return _take_snapshot()


def _take_snapshot() -> State:
    global _snapshot
    key = (_generation, environ_get(READ_ONLY_KEY), environ_get(GET_ONLY_KEY))
    mode = _switched_mode(conf.READ_ONLY_MODE, conf.GET_ONLY_MODE)
    state = OFF
    if mode is not Mode.OFF:
        state = State(mode=mode, message=message_setting(), retry_after=retry_after_setting())
    _snapshot = (*key, state)
    changes.note()
    return state


def _environ_lookup() -> tuple[Callable[[Any], object], object, object]:
    # The raw value of each switch in the environment, compared by identity to notice a
    # change. os.environ.get encodes the key and decodes the value on each call (about 0.5 us);
    # to notice a change, the raw values in the mapping behind it are enough, where the
    # platform keeps one.
    data = getattr(os.environ, "_data", None)
    if os.name == "posix" and isinstance(data, dict):
        return data.get, b"READ_ONLY_MODE", b"GET_ONLY_MODE"
    return os.environ.get, "READ_ONLY_MODE", "GET_ONLY_MODE"


environ_get, READ_ONLY_KEY, GET_ONLY_KEY = _environ_lookup()
_generation = 0
# (settings generation, raw READ_ONLY_MODE, raw GET_ONLY_MODE, the state they gave)
_snapshot: tuple[int, object, object, State] = (-1, None, None, OFF)


@receiver(setting_changed)
def _forget_on_setting_change(*, setting: str, **kwargs: object) -> None:
    global _generation
    if setting in ("READ_ONLY_MODE", "GET_ONLY_MODE") or setting.startswith("DBTOOLS_"):
        _generation += 1
        changes.note()


def _switched_mode(read_only: object, get_only: object) -> Mode:
    # A switch nobody can read is taken as on: during a migration a write that slips
    # through costs far more than a page that is read-only for no reason. The system
    # check reports the value; this logs it each time the value changes, for processes
    # that never run the checks.
    if _switch_on("READ_ONLY_MODE", read_only):
        return Mode.ANONYMOUS
    if _switch_on("GET_ONLY_MODE", get_only):
        return Mode.GET_ONLY
    return Mode.OFF


def _switch_on(name: str, value: object) -> bool:
    try:
        return parse_switch(name, value)
    except InvalidSwitch as error:
        logger.error("%s Taking it as on until it is fixed.", error)
        return True
