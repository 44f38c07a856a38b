"""Logging out while a mode is on: the cookie is cleared, a replay is not logged in, ever."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from dbtools import logouts, writes_allowed
from tests.database import run_outside

pytestmark = pytest.mark.django_db(transaction=True)


def dbtools(*args: str) -> str:
    out = StringIO()
    call_command("dbtools", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(params=["cache", "file"])
def runtime_store(request, settings, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = request.param
    settings.DBTOOLS_STATE_FILE = str(tmp_path / "state.json")
    settings.DBTOOLS_REFRESH = 0.1
    yield request.param
    dbtools("off")


def logged_in_client(user: User) -> tuple[Client, str]:
    client = Client()
    with writes_allowed():
        client.force_login(user)
    return client, client.cookies[django_settings.SESSION_COOKIE_NAME].value


def replay(cookie: str) -> Client:
    client = Client()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
    return client


def stored_session(key: str) -> list[tuple[object, ...]]:
    quoted = key.replace("'", "''")
    return run_outside(f"SELECT session_key FROM django_session WHERE session_key = '{quoted}'")


def assert_logged_out_by(response, cookie_name: str = "sessionid") -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content[:300]
    morsel = response.cookies[cookie_name]
    assert morsel.value == "" and morsel["max-age"] == 0


@pytest.mark.parametrize("path", ["/logout/", "/admin/logout/"])
def test_logout_in_get_only_mode_clears_the_cookie(settings, user, path: str) -> None:  # type: ignore[no-untyped-def]
    with writes_allowed():
        User.objects.filter(pk=user.pk).update(is_staff=True)
    settings.GET_ONLY_MODE = True
    client, cookie = logged_in_client(user)
    assert client.get("/whoami/").content == b"alice"
    response = client.post(path)
    if path == "/admin/logout/":  # the admin renders its "logged out" page
        assert response.status_code == 200 and b"Log in again" in response.content
        assert response.cookies["sessionid"].value == ""
    else:
        assert_logged_out_by(response)
    assert client.get("/whoami/").content == b"anonymous"
    # The row is still there: nothing was written while writes were refused.
    assert stored_session(cookie) == [(cookie,)]


def test_the_same_cookie_replayed_is_not_logged_in_during_the_window(settings, user) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    client, cookie = logged_in_client(user)
    assert_logged_out_by(client.post("/logout/"))
    assert replay(cookie).get("/whoami/").content == b"anonymous"
    # Someone else's session is left alone.
    _, other = logged_in_client(user)
    assert replay(other).get("/whoami/").content == b"alice"


def test_logout_with_the_runtime_switch_holds_in_every_process_and_after_off(
    runtime_store: str, user
) -> None:  # type: ignore[no-untyped-def]
    client, cookie = logged_in_client(user)
    _, stays = logged_in_client(user)
    dbtools("on")
    assert_logged_out_by(client.post("/logout/"))
    assert replay(cookie).get("/whoami/").content == b"anonymous"
    # What another process would find: the store, not this process's memory.
    assert logouts.logged_out(cookie) and not logouts.logged_out(stays)
    assert stored_session(cookie) == [(cookie,)]
    output = dbtools("off")
    assert "Deleted the 1 session(s) logged out during the window." in output
    assert stored_session(cookie) == []
    assert replay(cookie).get("/whoami/").content == b"anonymous"
    assert replay(stays).get("/whoami/").content == b"alice"
    assert not logouts.logged_out(cookie)


def test_logout_in_anonymous_mode_ends_the_session_after_off(runtime_store: str, user) -> None:  # type: ignore[no-untyped-def]
    client, cookie = logged_in_client(user)
    dbtools("on", "--anonymous")
    response = client.post("/logout/")
    assert_logged_out_by(response)
    dbtools("off")
    assert stored_session(cookie) == []
    assert replay(cookie).get("/whoami/").content == b"anonymous"


def test_a_logout_without_its_csrf_token_is_refused_and_changes_nothing(settings, user) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    client, cookie = logged_in_client(user)
    forged = Client(enforce_csrf_checks=True)
    forged.cookies["sessionid"] = cookie
    assert forged.post("/logout/").status_code == 403
    assert replay(cookie).get("/whoami/").content == b"alice"


def test_other_posts_are_still_refused(settings, user) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    client, _ = logged_in_client(user)
    assert client.post("/notes/", {"text": "typed"}).status_code == 503
    assert client.post("/login/", {"username": "alice", "password": "x"}).status_code == 503
    assert run_outside("SELECT count(*) FROM testapp_note") == [(0,)]
