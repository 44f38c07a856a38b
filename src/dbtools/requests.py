"""The request being served in this thread or task, and whether a write was refused under it."""

from __future__ import annotations

import contextvars

from django.http import HttpRequest

# Set by the middleware, for the guard's log and for the response phase.
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "dbtools_request", default=None
)
# Set on a request under which a write was refused; read by the middleware's after_view.
REFUSED_ATTR = "_dbtools_refused"
# Set on a request whose refusal the guard has logged already (the statement it blocked).
LOGGED_ATTR = "_dbtools_logged"


def note_refusal(request: HttpRequest | None = None) -> None:
    """Remember that a write was refused while serving ``request`` (or the current one)."""
    if request is None:
        request = current_request.get()
    if request is not None:
        setattr(request, REFUSED_ATTR, True)
