from __future__ import annotations

import os

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


# The matrix's corners (other Pythons and Djangos, DBTOOLS_FEWER_PAIRS) run, of the migration
# tests, those that take each command end to end on the headline pair; CI's main run has
# every one of them, on every pair, and the corners' share of CI time stays small.
END_TO_END = {
    "test_a_copy_keeps_every_row_and_the_site_works_on_the_target",
    "test_a_live_copy_reads_one_snapshot_while_the_site_writes_and_sync_catches_up",
    "test_cutover_moves_every_worker_to_the_new_database_with_no_restart",
}
MIGRATION_TESTS = {"test_copy.py", "test_live_migration.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("DBTOOLS_FEWER_PAIRS"):
        return
    left_out = [
        item
        for item in items
        if item.path.name in MIGRATION_TESTS
        and getattr(item, "originalname", item.name) not in END_TO_END
    ]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
