"""The state this process acts on now."""

from __future__ import annotations

from dbtools.state import State
from dbtools.stores import store_state
from dbtools.switches import settings_state


def current_state() -> State:
    """The switches in settings or the environment win over the runtime store."""
    state = settings_state()
    if state.active:
        return state
    return store_state()
