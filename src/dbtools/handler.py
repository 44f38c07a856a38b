"""A refused write anywhere in Django's handling of a request is answered with the refusal.

The middleware's ``process_exception`` sees only what a view raises. A write refused in a
middleware placed after it, in a template rendered after the view, or in a 500 handler
reaches Django's ``response_for_exception``, which would answer with a 500: that function
is wrapped (once, in ``AppConfig.ready``) so that the visitor gets the refusal instead.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers import exception
from django.http import HttpRequest, HttpResponseBase

from dbtools.middleware import refusal_for


def install() -> None:
    original = exception.response_for_exception
    if getattr(original, "_dbtools", False):
        return

    def response_for_exception(request: HttpRequest, exc: Exception) -> HttpResponseBase:
        refusal = refusal_for(request, exc)
        if refusal is not None:
            return refusal
        try:
            return original(request, exc)
        except Exception as error:  # the 500 handler itself wrote
            refusal = refusal_for(request, error)
            if refusal is None:
                raise
            return refusal

    wrapped: Any = response_for_exception
    wrapped._dbtools = True
    exception.response_for_exception = wrapped
