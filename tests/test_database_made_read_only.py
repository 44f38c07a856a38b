"""No mode on here, but the database administrator made the database read-only: no 500s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client

from dbtools import writes_allowed
from tests.database import outside_connection, run_outside
from tests.settings import BACKEND
from tests.testapp.models import Counter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def read_only_database() -> Iterator[None]:
    """What a DBA does before a migration, as far as each server lets the test do it."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        run_outside(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    elif connection.vendor == "mysql":
        run_outside("SET GLOBAL tx_read_only = 1")
    connection.close()  # the server-side setting reaches new sessions
    if connection.vendor == "sqlite":
        # SQLite has no server: a read-only session set behind Django's back stands in.
        connection.ensure_connection()
        connection.connection.execute("PRAGMA query_only = 1")
    yield
    if connection.vendor == "postgresql":
        with outside_connection() as raw:
            cursor = raw.cursor()
            cursor.execute("SET default_transaction_read_only = off")
            cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    elif connection.vendor == "mysql":
        run_outside("SET GLOBAL tx_read_only = 0")
    else:
        connection.connection.execute("PRAGMA query_only = 0")
    connection.close()


@pytest.fixture
def visitor(client, user, settings):  # type: ignore[no-untyped-def]
    settings.SESSION_SAVE_EVERY_REQUEST = True
    with writes_allowed():
        client.force_login(user)
        Counter.objects.create(name="page")
    return client


def test_an_unsafe_request_gets_the_refusal(visitor, read_only_database) -> None:  # type: ignore[no-untyped-def]
    response = visitor.post("/notes/", {"text": "typed while the DBA was at work"})
    assert response.status_code == 503
    assert "typed while the DBA was at work" in response.content.decode()
    assert response["Retry-After"] == "300"
    assert run_outside("SELECT COUNT(*) FROM testapp_note") == [(0,)]


def test_an_api_write_gets_json(visitor, read_only_database) -> None:  # type: ignore[no-untyped-def]
    response = visitor.post("/api/notes/", "{}", content_type="application/json")
    assert response.status_code == 503
    assert response.json()["error"] == "read_only"


def test_a_get_with_a_side_effect_gets_the_refusal(visitor, read_only_database) -> None:  # type: ignore[no-untyped-def]
    assert visitor.get("/counter/").status_code == 503


def test_a_refused_session_save_still_serves_the_page(
    visitor, read_only_database, settings
) -> None:  # type: ignore[no-untyped-def]
    before = run_outside("SELECT session_key, session_data FROM django_session")
    response = visitor.get("/session/")
    assert response.status_code == 200
    assert response.content == b"visits=1"
    assert run_outside("SELECT session_key, session_data FROM django_session") == before


def test_reads_are_served(visitor, read_only_database) -> None:  # type: ignore[no-untyped-def]
    response = visitor.get("/whoami/")
    assert response.status_code == 200 and response.content == b"alice"


if BACKEND != "sqlite":  # SQLite has no server-side default for the session to return to

    def test_a_flip_on_and_off_keeps_the_administrators_setting(  # type: ignore[no-untyped-def]
        visitor, read_only_database, settings
    ) -> None:
        settings.GET_ONLY_MODE = True
        assert visitor.get("/whoami/").status_code == 200  # a cursor: the session goes read-only
        settings.GET_ONLY_MODE = False
        assert visitor.post("/notes/", {"text": "still refused"}).status_code == 503
        assert run_outside("SELECT COUNT(*) FROM testapp_note") == [(0,)]


if BACKEND != "sqlite":  # SQLite has no connection a server could kill

    def test_a_connection_killed_under_a_request_is_answered_with_a_retry() -> None:
        client = Client(raise_request_exception=False)  # the lost connection is reported too
        try:
            response = client.get("/lose-connection/", HTTP_ACCEPT="application/json")
        finally:
            connection.close()  # Django does this after each request; its test client does not
        assert response.status_code == 503
        assert response["Retry-After"] == "300"
        assert response.json()["error"] == "read_only"
