"""Strict parsing of the two switches, ``READ_ONLY_MODE`` and ``GET_ONLY_MODE``."""

from __future__ import annotations

import logging

from django.core.signals import setting_changed
from django.dispatch import receiver

from dbtools import changes, environment
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

    Worked out once and kept until the change token is replaced: a setting changes
    (``override_settings`` included), or either environment variable does (see
    ``dbtools.environment``).
    """
    token, state = _snapshot
    if token is changes.token:
        return state
    return _take_snapshot()


def _take_snapshot() -> State:
    global _snapshot
    token = changes.token  # read first: a change made meanwhile leaves the snapshot stale
    mode = _switched_mode(conf.READ_ONLY_MODE, conf.GET_ONLY_MODE)
    state = OFF
    if mode is not Mode.OFF:
        state = State(mode=mode, message=message_setting(), retry_after=retry_after_setting())
    _snapshot = (token, state)
    return state


# Before any state is worked out: from here on, a change of either variable replaces the
# change token, so the snapshot below is never trusted after one.
environment.watch()
# (the change token it was worked out under, the state the switches gave)
_snapshot: tuple[object, State] = (None, OFF)


@receiver(setting_changed)
def _forget_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting in ("READ_ONLY_MODE", "GET_ONLY_MODE") or setting.startswith("DBTOOLS_"):
        changes.note()


def _switched_mode(read_only: object, get_only: object) -> Mode:
    # A switch nobody can read is taken as on: during a migration a write that slips
    # through costs far more than a page that is read-only for no reason. The system
    # check reports the value; this logs it each time the state is worked out again (after
    # any change), for processes that never run the checks.
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
