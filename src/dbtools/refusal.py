"""The answer to a refused request: a 503 page for browsers, a JSON body for API clients."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme

from dbtools.requests import LOGGED_ATTR
from dbtools.state import State

logger = logging.getLogger("dbtools")

TEMPLATE = "dbtools/read_only.html"
JSON_TYPE = "application/json"

# Fields whose value must never be echoed back: secrets a shoulder-surfer or a cached
# page could leak. Matched anywhere in the field name, case-insensitively.
SECRET_FIELD = re.compile(
    r"pass|pwd|secret|token|csrf|cvv|cvc|iban|ssn|api_?key|card_?number|(^|_)(otp|pin)(_|$)",
    re.IGNORECASE,
)


def wants_json(request: HttpRequest) -> bool:
    """An API client: it sent JSON, or its Accept header prefers JSON to HTML."""
    content_type = request.content_type or ""
    if content_type == JSON_TYPE or content_type.endswith("+json"):
        return True
    if "HTTP_ACCEPT" not in request.META:
        return False
    return request.get_preferred_type(["text/html", JSON_TYPE]) == JSON_TYPE


def refusal_response(request: HttpRequest, state: State) -> HttpResponse:
    """A 503 that tells the visitor why, when to retry, and shows back what they typed."""
    retry_after = state.seconds_to_retry()
    if wants_json(request):
        response = HttpResponse(
            json.dumps(refusal_body(state, retry_after)), content_type=JSON_TYPE, status=503
        )
    else:
        response = HttpResponse(render_page(request, state, retry_after), status=503)
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    # Shared caches and CDNs that ignore Cache-Control for 5xx still honour these.
    response["CDN-Cache-Control"] = "no-store"
    response["Surrogate-Control"] = "no-store"
    patch_vary_headers(response, ("Accept",))
    forget_messages(request)
    # A refusal is no server error: Django would log it as one on django.request ("Service
    # Unavailable"), which mails ADMINS with the default logging. It is logged once here.
    response._has_been_logged = True  # type: ignore[attr-defined]
    if not getattr(request, LOGGED_ATTR, False):  # the guard logs the write it blocked
        logger.info("Refused %s %s: the site is read-only", request.method, request.path)
    return response


def forget_messages(request: HttpRequest) -> None:
    """Drop the messages the refused request added, so they are not shown later out of context.

    Messages stored by earlier requests stay where they are, to be shown as usual.
    """
    storage = getattr(request, "_messages", None)
    if storage is not None and hasattr(storage, "_queued_messages"):
        storage._queued_messages = []
        storage.added_new = False


def refusal_body(state: State, retry_after: int) -> dict[str, Any]:
    return {
        "error": "read_only",
        "mode": state.mode.value,
        "message": state.message,
        "retry_after": retry_after,
        "until": state.until.isoformat() if state.until else None,
    }


def render_page(request: HttpRequest, state: State, retry_after: int) -> str:
    # Rendered without the request: context processors (auth, messages) could query the
    # database, and this page must render while the database refuses everything.
    fields, files = submitted_fields(request)
    context = {
        "message": state.message,
        "mode": state.mode.value,
        "retry_after": retry_after,
        "retry_minutes": max(1, (retry_after + 59) // 60),
        "until": state.until,
        "fields": fields,
        "files": files,
        "method": request.method,
        "back": way_back(request),
    }
    return render_to_string(TEMPLATE, context)


def way_back(request: HttpRequest) -> str:
    """Where the visitor was: the referring page on this site, or the page itself for a GET.

    Only a path on this site is offered, never another site's address.
    """
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    parsed = urlsplit(referer)
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        path = parsed.path or "/"
        return path + (f"?{parsed.query}" if parsed.query else "")
    return "/"


def submitted_fields(request: HttpRequest) -> tuple[list[tuple[str, str]], list[str]]:
    """The text fields of a form submission worth showing back, and the names of its files.

    Secret-looking fields are left out entirely; file contents are never read back.
    """
    if request.method in ("GET", "HEAD") or request.content_type not in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        return [], []
    try:
        data, uploads = request.POST, request.FILES
    except Exception:  # malformed or oversized bodies: the refusal must still render
        return [], []
    fields = [
        (name, value)
        for name, values in data.lists()
        if not SECRET_FIELD.search(name)
        for value in values
        if value.strip()
    ]
    files = [getattr(upload, "name", None) or name for name, upload in uploads.items()]
    return fields, files
