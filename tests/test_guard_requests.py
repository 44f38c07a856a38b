"""Writes the request layer cannot see are blocked, and answered with the refusal, not a 500."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.db import DatabaseError, connection

from dbtools import ReadOnlyError, writes_allowed
from tests.database import run_outside
from tests.testapp.models import Counter, Note

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _refuse_safe_request_writes(settings) -> None:  # type: ignore[no-untyped-def]
    """These prove the "refuse" policy; tests/test_safe_request_writes.py proves "discard"."""
    settings.DBTOOLS_SAFE_REQUEST_WRITES = "refuse"


@pytest.fixture
def counter() -> Counter:
    with writes_allowed():
        return Counter.objects.create(name="page")


def notes_outside() -> list[str]:
    return [row[0] for row in run_outside("SELECT text FROM testapp_note ORDER BY id")]


@pytest.mark.parametrize("switch", ["GET_ONLY_MODE", "READ_ONLY_MODE"])
def test_a_get_view_that_writes_is_refused(client, settings, counter: Counter, switch: str) -> None:  # type: ignore[no-untyped-def]
    setattr(settings, switch, True)
    response = client.get("/counter/")
    assert response.status_code == 503
    assert "read-only" in response.content.decode().lower()
    assert run_outside("SELECT hits FROM testapp_counter") == [(0,)]


def test_a_get_view_that_writes_answers_json_to_api_clients(client, settings, counter) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    response = client.get("/counter/", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response.json()["error"] == "read_only"


def test_a_signal_handler_that_writes_is_refused(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    assert client.get("/signal/").status_code == 503
    assert notes_outside() == []


def test_last_login_is_not_written_by_a_login_on_get(client, settings, user) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    response = client.get("/magic-login/", {"username": "alice"})
    assert response.status_code == 503
    assert run_outside("SELECT last_login FROM auth_user") == [(None,)]
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_a_session_save_is_blocked_at_the_database(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    session = SessionStore()
    session["cart"] = [1, 2]
    with pytest.raises(ReadOnlyError):
        session.save()
    assert run_outside("SELECT COUNT(*) FROM django_session") == [(0,)]


def test_the_error_names_alias_and_statement_never_parameters(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    caplog.set_level(logging.WARNING, logger="dbtools")
    with pytest.raises(ReadOnlyError) as refused:
        User.objects.create_user("mallory", password="very-secret-password")
    message = str(refused.value)
    assert "'default'" in message and "INSERT INTO" in message
    assert "mallory" not in message and "very-secret-password" not in message
    assert isinstance(refused.value, DatabaseError)
    [record] = [r for r in caplog.records if r.name == "dbtools"]
    assert record.levelno == logging.WARNING
    assert "'default'" in record.getMessage() and "INSERT INTO" in record.getMessage()
    assert "mallory" not in record.getMessage()


def test_the_log_names_the_request_path(client, settings, counter, caplog) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    caplog.set_level(logging.WARNING, logger="dbtools")
    client.get("/counter/")
    blocked = [r.getMessage() for r in caplog.records if r.name == "dbtools"]
    assert len(blocked) == 1 and "/counter/" in blocked[0] and "UPDATE" in blocked[0]


def test_writes_allowed_lets_this_code_write_and_restores(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    with writes_allowed():
        Note.objects.create(text="outer")
        with writes_allowed():
            Note.objects.create(text="nested")
        Note.objects.create(text="outer again")
    with pytest.raises(ReadOnlyError):
        Note.objects.create(text="after")
    assert notes_outside() == ["outer", "nested", "outer again"]


def test_writes_allowed_as_a_decorator(settings) -> None:  # type: ignore[no-untyped-def]
    @writes_allowed()
    def maintenance() -> None:
        Note.objects.create(text="by the script")

    settings.GET_ONLY_MODE = True
    maintenance()
    maintenance()
    with pytest.raises(ReadOnlyError):
        Note.objects.create(text="by anyone else")
    assert notes_outside() == ["by the script", "by the script"]


def test_writes_allowed_is_per_thread(settings) -> None:  # type: ignore[no-untyped-def]
    import threading

    settings.GET_ONLY_MODE = True
    outcome: list[str] = []

    def other_thread() -> None:
        try:
            Note.objects.create(text="from another thread")
            outcome.append("written")
        except ReadOnlyError:
            outcome.append("blocked")
        finally:
            connection.close()

    with writes_allowed():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome == ["blocked"]
    assert notes_outside() == []


def test_guarded_aliases_setting_leaves_others_alone(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    settings.DBTOOLS_DATABASES = []
    Note.objects.create(text="unguarded")
    settings.DBTOOLS_DATABASES = ["default"]
    with pytest.raises(ReadOnlyError):
        Note.objects.create(text="guarded")
    assert notes_outside() == ["unguarded"]
