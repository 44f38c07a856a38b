"""A token replaced whenever something the process's state is worked out from may change.

The guard keeps what it worked out for a connection or a cursor until this token is
replaced: comparing it costs one lookup per query, where working the state out again
costs several calls.
"""

from __future__ import annotations

token: object = object()


def note() -> None:
    """Say that a switch, a setting or the stored state may have changed."""
    global token
    token = object()
