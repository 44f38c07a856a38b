"""READ_ONLY_MODE: everyone is served logged out, the session is never written, writes refused."""

from __future__ import annotations

from base64 import b64encode

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.models import Session

from dbtools import writes_allowed
from tests.testapp.models import Note

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anonymous_mode(settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = "true"


def test_a_logged_in_visitor_appears_logged_out(logged_in) -> None:  # type: ignore[no-untyped-def]
    assert logged_in.get("/whoami/").content == b"anonymous"


def test_a_logged_in_visitor_appears_logged_out_to_async_views(async_logged_in) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        response = await async_logged_in.get("/awhoami/")
        assert response.content == b"anonymous"

    async_to_sync(scenario)()


def test_visitor_is_logged_in_again_once_the_mode_is_off(logged_in, settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = "false"
    assert logged_in.get("/whoami/").content == b"alice"


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + b64encode(b"alice:wonderland").decode(),
        "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
    ],
)
def test_authorization_headers_are_ignored(client, user, authorization: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = "false"
    assert client.get("/header-auth/", HTTP_AUTHORIZATION=authorization).content != b"anonymous"
    settings.READ_ONLY_MODE = "true"
    assert client.get("/header-auth/", HTTP_AUTHORIZATION=authorization).content == b"anonymous"


@pytest.mark.parametrize("save_every_request", [False, True])
@pytest.mark.parametrize("path", ["/whoami/", "/session/", "/message/", "/page/"])
def test_the_session_is_never_written(
    logged_in, settings, path: str, save_every_request: bool
) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_SAVE_EVERY_REQUEST = save_every_request
    before = list(Session.objects.values_list("session_key", "session_data", "expire_date"))
    response = logged_in.get(path)
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert list(Session.objects.values_list("session_key", "session_data", "expire_date")) == before


def test_a_new_visitor_gets_no_session(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_SAVE_EVERY_REQUEST = True
    response = client.get("/session/")
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert Session.objects.count() == 0


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsafe_requests_are_refused(client, method: str) -> None:  # type: ignore[no-untyped-def]
    response = getattr(client, method)("/notes/", {"text": "hello"})
    assert response.status_code == 503
    assert Note.objects.count() == 0


def test_login_is_refused(client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login/", {"username": "alice", "password": "wonderland"})
    assert response.status_code == 503
    assert client.get("/whoami/").content == b"anonymous"
    user.refresh_from_db()
    assert user.last_login is None


def test_refusing_a_post_from_a_logged_in_visitor_writes_no_session(logged_in, settings) -> None:  # type: ignore[no-untyped-def]
    before = list(Session.objects.values_list("session_key", "session_data"))
    response = logged_in.post("/notes/", {"text": "hello"})
    assert response.status_code == 503
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert list(Session.objects.values_list("session_key", "session_data")) == before


def test_reads_are_served(client) -> None:  # type: ignore[no-untyped-def]
    with writes_allowed():
        Note.objects.create(text="kept")
    response = client.get("/notes/")
    assert response.status_code == 200 and response.content == b"kept"
