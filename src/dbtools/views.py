"""The status endpoint: the current mode as JSON, for load balancers, monitors and front ends."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from dbtools.current import current_state


@require_safe
def status(request: HttpRequest) -> JsonResponse:
    """``{mode, message, since, until, retry_after}``; message and retry_after are null when off."""
    state = current_state()
    response = JsonResponse(
        {
            "mode": state.mode.value,
            "message": state.message if state.active else None,
            "since": state.since.isoformat() if state.since else None,
            "until": state.until.isoformat() if state.until else None,
            "retry_after": state.seconds_to_retry() if state.active else None,
        }
    )
    add_never_cache_headers(response)
    return response
