"""While a mode is on, a visitor's session is read from the database once per process."""

from __future__ import annotations

import datetime
import time

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dbtools import sessions, writes_allowed

# Each test writes again after reading while on, which on PostgreSQL leaves the test-long
# transaction read-only.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def get_only_mode(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = "on"


def session_reads(queries: CaptureQueriesContext) -> int:
    return sum("django_session" in query["sql"] for query in queries.captured_queries)


def delete_sessions() -> None:
    with writes_allowed():
        Session.objects.all().delete()


def test_a_visitors_next_requests_skip_the_session_query(logged_in) -> None:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as first:
        assert logged_in.get("/whoami/").content == b"alice"
    with CaptureQueriesContext(connection) as second:
        assert logged_in.get("/whoami/").content == b"alice"
    assert session_reads(first) == 1
    assert session_reads(second) == 0


def test_async_views_are_served_from_the_kept_session_too(async_logged_in) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        assert (await async_logged_in.get("/awhoami/")).content == b"alice"
        await Session.objects.all().adelete()  # what only the kept copy can still answer
        assert (await async_logged_in.get("/awhoami/")).content == b"alice"

    with writes_allowed():
        async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("path", "written", "seen"),
    [
        ("/session/", b"visits=1", b"visits=2"),  # a value the view sets
        ("/history/", b"pages=1", b"pages=2"),  # a list the view changes in place
    ],
)
def test_a_change_a_view_makes_is_not_kept(
    client, settings, path: str, written: bytes, seen: bytes
) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = "off"
    assert client.get(path).content == written
    settings.GET_ONLY_MODE = "on"
    for _ in range(3):
        assert client.get(path).content == seen


def test_the_session_is_read_afresh_in_each_mode(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = "off"
    client.get("/session/")
    settings.GET_ONLY_MODE = "on"
    assert client.get("/session/").content == b"visits=2"
    settings.GET_ONLY_MODE = "off"
    assert client.get("/session/").content == b"visits=2"  # written, as writes are back
    settings.GET_ONLY_MODE = "on"
    assert client.get("/session/").content == b"visits=3"


def test_a_session_deleted_meanwhile_is_seen_once_it_is_no_longer_kept(
    logged_in, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sessions, "KEPT_SECONDS", 3.0)
    assert logged_in.get("/whoami/").content == b"alice"
    delete_sessions()
    assert logged_in.get("/whoami/").content == b"alice"
    time.sleep(3.1)
    assert logged_in.get("/whoami/").content == b"anonymous"


def test_every_visitor_is_served_their_own_session_when_few_are_kept(
    client, user, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User
    from django.test import Client

    monkeypatch.setattr(sessions, "KEPT_SESSIONS", 1)
    with writes_allowed():
        bob = User.objects.create_user("bob")
        client.force_login(user)
        other = Client()
        other.force_login(bob)
    for _ in range(3):
        assert client.get("/whoami/").content == b"alice"
        assert other.get("/whoami/").content == b"bob"


def test_no_session_is_kept_with_no_mode_on(logged_in, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = "off"
    assert logged_in.get("/whoami/").content == b"alice"
    delete_sessions()
    assert logged_in.get("/whoami/").content == b"anonymous"


def test_a_cached_session_holding_what_json_cannot_write_is_served(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.GET_ONLY_MODE = "off"
    session = client.session
    session["since"] = datetime.date(2026, 11, 25)  # the cache pickles it; JSON could not
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    settings.GET_ONLY_MODE = "on"
    for _ in range(2):
        assert client.get("/session/").content == b"visits=1"


def test_a_session_held_in_its_cookie_is_not_kept(client, user, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    with writes_allowed():
        client.force_login(user)
    for _ in range(2):
        assert client.get("/whoami/").content == b"alice"
    # Nothing to spare: reading it costs no query, and each key is as long as its data.
    assert sessions._kept == {}
