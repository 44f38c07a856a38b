"""The status endpoint: the mode as JSON, never refused, never cached, nothing more."""

from __future__ import annotations

from io import StringIO

import pytest

pytestmark = pytest.mark.django_db

KEYS = {"mode", "message", "since", "until", "retry_after"}


def test_off(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/ops/status/")
    assert response.status_code == 200
    assert response.json() == {
        "mode": "off",
        "message": None,
        "since": None,
        "until": None,
        "retry_after": None,
    }


@pytest.mark.parametrize(
    ("switch", "mode"), [("GET_ONLY_MODE", "get_only"), ("READ_ONLY_MODE", "anonymous")]
)
def test_on_and_never_refused(logged_in, settings, switch: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    setattr(settings, switch, True)
    settings.DBTOOLS_MESSAGE = "Upgrading PostgreSQL"
    settings.DBTOOLS_RETRY_AFTER = 60
    response = logged_in.get("/ops/status/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == KEYS
    assert body["mode"] == mode and body["message"] == "Upgrading PostgreSQL"
    assert body["retry_after"] == 60
    assert logged_in.head("/ops/status/").status_code == 200


def test_never_cached(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    cache_control = client.get("/ops/status/")["Cache-Control"]
    assert "no-store" in cache_control and "no-cache" in cache_control


def test_with_a_runtime_end(client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    settings.DBTOOLS_STATE = "file"
    settings.DBTOOLS_STATE_FILE = str(tmp_path / "state.json")
    settings.DBTOOLS_REFRESH = 0.1
    call_command("dbtools", "on", "--for", "10m", stdout=StringIO())
    body = client.get("/ops/status/").json()
    assert body["mode"] == "get_only" and body["since"] and body["until"]
    assert 590 <= body["retry_after"] <= 600
    assert "set_by" not in body
