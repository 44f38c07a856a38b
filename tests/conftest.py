from __future__ import annotations

import pytest
from django.contrib.auth.models import User

SWITCHES = ("READ_ONLY_MODE", "GET_ONLY_MODE")


@pytest.fixture(autouse=True)
def _no_switch_from_the_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite decides the mode itself, whatever the shell running it exported."""
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("alice", password="wonderland")


@pytest.fixture
def logged_in(client, user):  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client
