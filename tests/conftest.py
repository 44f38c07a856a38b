from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient

from dbtools import writes_allowed

SWITCHES = ("READ_ONLY_MODE", "GET_ONLY_MODE")


@pytest.fixture(autouse=True)
def _no_switch_from_the_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite decides the mode itself, whatever the shell running it exported."""
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def user(db: None) -> User:
    # Fixtures are set up whatever mode a test turns on, as a maintenance script would.
    with writes_allowed():
        return User.objects.create_user("alice", password="wonderland")


@pytest.fixture
def logged_in(client, user):  # type: ignore[no-untyped-def]
    with writes_allowed():
        client.force_login(user)
    return client


@pytest.fixture
def async_logged_in(user: User) -> AsyncClient:
    """An ASGI client in whose session ``user`` is logged in."""
    client = AsyncClient()
    with writes_allowed():
        client.force_login(user)
    return client


pytest_plugins = ["tests.database", "tests.redis_support"]
