"""The guard is installed once per connection, and atomic() keeps working while a mode is on."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from dbtools import ReadOnlyError, guard
from tests.database import snapshot
from tests.settings import BACKEND

pytestmark = pytest.mark.usefixtures("scratch")


def test_installing_again_changes_nothing() -> None:
    wrapper = connections["default"]
    guard.install(wrapper)
    hooked = wrapper.make_cursor, wrapper.make_debug_cursor
    for _ in range(3):
        guard.install(wrapper)
    assert (wrapper.make_cursor, wrapper.make_debug_cursor) == hooked
    with wrapper.cursor() as cursor:
        assert type(cursor).__mro__.count(guard.GuardedCursor) == 1


def test_every_thread_gets_a_guarded_connection(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    seen: list[int] = []

    def in_a_new_thread() -> None:
        try:
            with pytest.raises(ReadOnlyError), connection.cursor() as cursor:
                cursor.execute("DELETE FROM dbtools_scratch")
            # Installed when this thread's connection opened, once.
            with connection.cursor() as cursor:
                seen.append(type(cursor).__mro__.count(guard.GuardedCursor))
        finally:
            connection.close()

    threads = [threading.Thread(target=in_a_new_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [1, 1, 1]


if BACKEND == "sqlite":

    @pytest.mark.parametrize("mode", [None, "DEFERRED", "IMMEDIATE", "EXCLUSIVE"])
    def test_atomic_works_in_every_sqlite_transaction_mode(settings, mode: str | None) -> None:  # type: ignore[no-untyped-def]
        before = snapshot()
        previous, connection.transaction_mode = connection.transaction_mode, mode
        try:
            settings.GET_ONLY_MODE = True
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM dbtools_scratch")
                assert cursor.fetchone() == (2,)
            with (
                pytest.raises(ReadOnlyError),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute("INSERT INTO dbtools_scratch (v) VALUES ('x')")
        finally:
            connection.transaction_mode = previous
        assert snapshot() == before
