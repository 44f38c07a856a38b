"""The state this process acts on now."""

from __future__ import annotations

from dbtools import changes
from dbtools.state import State
from dbtools.stores import store_state
from dbtools.switches import settings_state

# The change token under which this process was last found with no mode on: while it
# holds, nothing the state is worked out from has changed, and no mode is on.
off_under: object = None


def current_state() -> State:
    """The switches in settings or the environment win over the runtime store."""
    global off_under
    token = changes.token  # read first: a change made meanwhile leaves it stale
    state = settings_state()
    if state.active:
        return state
    state = store_state()
    if not state.active:
        off_under = token
    return state
