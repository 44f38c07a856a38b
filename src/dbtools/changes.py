"""A token replaced whenever something the process's state is worked out from may change.

What is worked out from them is kept until this token is replaced: the state the switches
give (``switches``), that no mode is on (``current``, for the middleware), and what the
guard found for a connection or a cursor. Comparing the token costs one lookup per request
or query, where working the state out again costs several calls.
"""

from __future__ import annotations

token: object = object()


def note() -> None:
    """Say that a switch, a setting or the stored state may have changed."""
    global token
    token = object()
