"""Refusals page no one, leave no stale message behind, and offer the way back."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from tests.testapp.models import Counter

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]


def message_then_write(request: HttpRequest) -> HttpResponse:
    messages.success(request, "Your note was saved")
    Counter.objects.create(name="written")
    return HttpResponse("saved")


def shown_messages(request: HttpRequest) -> HttpResponse:
    return HttpResponse("|".join(str(m) for m in messages.get_messages(request)))


def broken(request: HttpRequest) -> HttpResponse:
    raise ValueError("a real bug")


urlpatterns = [
    path("write/", message_then_write),
    path("messages/", shown_messages),
    path("broken/", broken),
]


def server_errors(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request" and r.levelno >= logging.ERROR]


def test_a_refused_request_is_logged_once_and_never_as_a_server_error(
    settings: Any, caplog: Any
) -> None:
    settings.GET_ONLY_MODE = True
    caplog.set_level(logging.INFO)
    assert Client().post("/write/", {"text": "x"}).status_code == 503
    assert server_errors(caplog) == []
    ours = [r for r in caplog.records if r.name == "dbtools"]
    assert len(ours) == 1 and ours[0].levelno in (logging.INFO, logging.WARNING)


def test_a_write_refused_in_a_view_is_logged_once_and_never_as_a_server_error(
    settings: Any, caplog: Any
) -> None:
    settings.DBTOOLS_SAFE_REQUEST_WRITES = "refuse"
    settings.GET_ONLY_MODE = True
    caplog.set_level(logging.INFO)
    assert Client().get("/write/").status_code == 503
    assert server_errors(caplog) == []
    assert len([r for r in caplog.records if r.name == "dbtools"]) == 1


def test_a_real_error_is_still_a_server_error(settings: Any, caplog: Any) -> None:
    settings.GET_ONLY_MODE = True
    assert Client(raise_request_exception=False).get("/broken/").status_code == 500
    assert len(server_errors(caplog)) == 1


def test_a_message_stored_by_a_refused_request_is_never_shown_later(settings: Any) -> None:
    settings.DBTOOLS_SAFE_REQUEST_WRITES = "refuse"
    client = Client()
    settings.GET_ONLY_MODE = True
    assert client.get("/write/").status_code == 503
    settings.GET_ONLY_MODE = False
    assert client.get("/messages/").content == b""


def test_the_refusal_offers_the_referring_page_of_this_site(settings: Any) -> None:
    settings.GET_ONLY_MODE = True
    response = Client().post(
        "/write/", {"text": "x"}, HTTP_REFERER="http://testserver/notes/edit/?id=3"
    )
    assert 'href="/notes/edit/?id=3"' in response.content.decode()


def test_the_refusal_never_offers_another_sites_page(settings: Any) -> None:
    settings.GET_ONLY_MODE = True
    response = Client().post("/write/", {"text": "x"}, HTTP_REFERER="https://evil.example/x")
    assert "evil.example" not in response.content.decode()


def test_a_refused_get_offers_the_page_itself(settings: Any) -> None:
    settings.DBTOOLS_SAFE_REQUEST_WRITES = "refuse"
    settings.GET_ONLY_MODE = True
    response = Client().get("/write/?draft=1")
    assert response.status_code == 503
    assert 'href="/write/?draft=1"' in response.content.decode()
