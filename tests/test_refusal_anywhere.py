"""A write refused anywhere in a request gets the refusal; with no mode on, Django's errors.

Writes refused after the view (a middleware placed after ReadOnlyMiddleware, a template
rendered late, a 500 handler) are answered with the 503 refusal, never a 500. With no mode
on, an exception that only looks like a database refusal is the 500 it is, and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.signals import got_request_exception
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.test import AsyncClient, Client
from django.urls import path

from tests.database import run_outside
from tests.settings import BACKEND
from tests.testapp.models import Counter

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]


def bump() -> str:
    Counter.objects.create(name="bumped")
    return "bumped"


class WritingAfterTheView:
    """A middleware placed after ReadOnlyMiddleware that writes once the view has answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path == "/plain/":
            bump()
        return response


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("plain")


def late_template(request: HttpRequest) -> TemplateResponse:
    template = engines["django"].from_string("{{ bump }}")
    return TemplateResponse(request, template, {"bump": bump})  # type: ignore[arg-type]


def broken(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug in the view")


def writing_500(request: HttpRequest) -> HttpResponse:
    bump()
    return HttpResponse("error page", status=500)


def raising(error: BaseException) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        raise error

    return view


LOOKALIKES = {
    "key-error-2013": KeyError(2013),
    "key-error-1290": KeyError(1290),
    "value-error-2006": ValueError(2006, "x"),
    "closed-words": RuntimeError("the connection is closed"),
    "readonly-words": RuntimeError("attempt to write a readonly database"),
}

urlpatterns = [
    path("plain/", plain),
    path("late-template/", late_template),
    path("broken/", broken),
    *(path(f"{name}/", raising(error)) for name, error in LOOKALIKES.items()),
]
handler500 = writing_500


# What a GET whose writes come after the view gets, by policy: the page with the writes
# rolled back, or the refusal. Never a 500.
POLICIES = [("discard", 200), ("refuse", 503)]


@pytest.fixture
def writing_middleware(settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.WritingAfterTheView"]


def nothing_written() -> bool:
    return run_outside("SELECT COUNT(*) FROM testapp_counter") == [(0,)]


@pytest.mark.usefixtures("writing_middleware")
@pytest.mark.parametrize(("policy", "status"), POLICIES)
def test_a_middleware_after_ours_that_writes(settings: Any, policy: str, status: int) -> None:
    settings.DBTOOLS_SAFE_REQUEST_WRITES = policy
    settings.GET_ONLY_MODE = True
    response = Client(raise_request_exception=False).get("/plain/")
    assert response.status_code == status
    assert nothing_written()


@pytest.mark.usefixtures("writing_middleware")
@pytest.mark.parametrize(("policy", "status"), POLICIES)
def test_a_middleware_after_ours_that_writes_under_asgi(
    settings: Any, policy: str, status: int
) -> None:
    settings.DBTOOLS_SAFE_REQUEST_WRITES = policy
    settings.GET_ONLY_MODE = True
    response = async_to_sync(AsyncClient(raise_request_exception=False).get)("/plain/")
    assert response.status_code == status
    assert nothing_written()


@pytest.mark.parametrize(("policy", "status"), POLICIES)
def test_a_template_that_writes_while_rendering(settings: Any, policy: str, status: int) -> None:
    settings.DBTOOLS_SAFE_REQUEST_WRITES = policy
    settings.READ_ONLY_MODE = True
    response = Client(raise_request_exception=False).get("/late-template/")
    assert response.status_code == status
    assert nothing_written()


@pytest.mark.parametrize(("policy", "status"), [("discard", 500), ("refuse", 503)])
def test_a_500_handler_that_writes(settings: Any, policy: str, status: int) -> None:
    """The view's own bug stays a 500 where the handler's write is discarded."""
    settings.DBTOOLS_SAFE_REQUEST_WRITES = policy
    settings.GET_ONLY_MODE = True
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == status
    assert nothing_written()


@pytest.fixture
def heard() -> Iterator[list[object]]:
    """The requests got_request_exception was sent for, as Sentry and ADMINS mail hear of them."""
    requests: list[object] = []

    def receiver(**kwargs: object) -> None:
        requests.append(kwargs["request"])

    got_request_exception.connect(receiver)
    yield requests
    got_request_exception.disconnect(receiver)


@pytest.mark.parametrize("name", LOOKALIKES)
def test_an_error_that_only_looks_like_a_refusal_is_a_500_and_reported(
    name: str, heard: list[object]
) -> None:
    with pytest.raises(type(LOOKALIKES[name])):
        Client().get(f"/{name}/")
    assert len(heard) == 1


if BACKEND != "sqlite":  # SQLite has no connection a server could kill

    @pytest.mark.urls("tests.testapp.urls")
    def test_a_lost_connection_is_answered_with_a_retry_and_still_reported(
        caplog: Any, heard: list[object]
    ) -> None:
        try:
            response = Client(raise_request_exception=False).get("/lose-connection/")
        finally:
            connection.close()
        assert response.status_code == 503
        assert len(heard) == 1
        reported = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
        assert reported and "connection lost" in reported[0].getMessage()
