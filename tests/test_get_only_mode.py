"""GET_ONLY_MODE: visitors stay logged in, nothing is written, unsafe methods are refused."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.models import Session

from dbtools import writes_allowed
from tests.testapp.models import Note

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def get_only_mode(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = "on"


def test_visitors_stay_logged_in(logged_in) -> None:  # type: ignore[no-untyped-def]
    assert logged_in.get("/whoami/").content == b"alice"


def test_visitors_stay_logged_in_under_asgi(async_logged_in) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        assert (await async_logged_in.get("/awhoami/")).content == b"alice"
        assert (await async_logged_in.get("/whoami/")).content == b"alice"

    async_to_sync(scenario)()


@pytest.mark.parametrize("save_every_request", [False, True])
@pytest.mark.parametrize("path", ["/whoami/", "/session/", "/message/"])
def test_the_session_is_read_never_written(
    logged_in, settings, path: str, save_every_request: bool
) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_SAVE_EVERY_REQUEST = save_every_request
    before = list(Session.objects.values_list("session_key", "session_data", "expire_date"))
    response = logged_in.get(path)
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert list(Session.objects.values_list("session_key", "session_data", "expire_date")) == before


@pytest.mark.parametrize("cookie_name", ["sessionid", "site_session"])
def test_the_session_cookie_is_left_alone_by_reads_and_refusals(
    client, user, settings, cookie_name: str
) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_COOKIE_NAME = cookie_name
    with writes_allowed():
        client.force_login(user)
    read = client.get("/whoami/")
    refused = client.post("/notes/", {"text": "hello"})
    assert (read.status_code, refused.status_code) == (200, 503)
    # A cookie in either answer would log the visitor out (deleted) or in again (set).
    assert cookie_name not in read.cookies and cookie_name not in refused.cookies
    assert client.get("/whoami/").content == b"alice"


def test_session_values_are_readable(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = "off"
    client.get("/session/")
    client.get("/session/")
    settings.GET_ONLY_MODE = "on"
    # The view sees the stored count and its own change, but the change is not kept.
    assert client.get("/session/").content == b"visits=3"
    assert client.get("/session/").content == b"visits=3"


def test_last_login_is_untouched(logged_in, user) -> None:  # type: ignore[no-untyped-def]
    user.refresh_from_db()
    before = user.last_login
    for path in ("/whoami/", "/page/", "/session/"):
        logged_in.get(path)
    user.refresh_from_db()
    assert user.last_login == before


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsafe_methods_are_refused_before_the_view(logged_in, method: str) -> None:  # type: ignore[no-untyped-def]
    response = getattr(logged_in, method)("/notes/", {"text": "hello"})
    assert response.status_code == 503
    assert Note.objects.count() == 0


def test_custom_methods_are_refused(logged_in) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.generic("PROPPATCH", "/notes/")
    assert response.status_code == 503


@pytest.mark.parametrize("method", ["get", "head", "options", "trace"])
def test_safe_methods_are_served(logged_in, method: str) -> None:  # type: ignore[no-untyped-def]
    assert getattr(logged_in, method)("/health/").status_code == 200


def test_a_method_override_field_does_not_turn_a_post_into_a_read(logged_in) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post("/notes/", {"text": "hello", "_method": "GET"})
    assert response.status_code == 503
    assert Note.objects.count() == 0


@pytest.mark.parametrize(
    "header", ["HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_HTTP_METHOD", "HTTP_X_METHOD_OVERRIDE"]
)
def test_override_headers_do_not_turn_a_post_into_a_read(logged_in, header: str) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post("/notes/", {"text": "hello"}, **{header: "GET"})
    assert response.status_code == 503
    assert Note.objects.count() == 0


@pytest.mark.parametrize(
    "override", [{"HTTP_X_HTTP_METHOD_OVERRIDE": "DELETE"}, {"QUERY_STRING": "_method=DELETE"}]
)
def test_a_get_asking_to_be_treated_as_a_write_is_refused(
    logged_in, override: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    assert logged_in.get("/notes/", **override).status_code == 503


def test_async_unsafe_request_is_refused(async_logged_in) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        response = await async_logged_in.post("/anotes/", {"text": "hello"})
        assert response.status_code == 503
        assert await Note.objects.acount() == 0

    async_to_sync(scenario)()


def test_writes_are_accepted_again_when_the_mode_is_off(logged_in, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = "off"
    assert logged_in.post("/notes/", {"text": "hello"}).status_code == 201
    assert Note.objects.count() == 1
