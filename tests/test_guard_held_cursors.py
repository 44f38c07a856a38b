"""A cursor made before a switch flips is still guarded after it; other code's hooks still run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dbtools import ReadOnlyError, writes_allowed
from dbtools.current import current_state
from dbtools.state import Mode, State
from dbtools.stores import FileStore
from tests.database import snapshot
from tests.processes import wait_for

pytestmark = pytest.mark.usefixtures("scratch")

INSERT = "INSERT INTO dbtools_scratch (v) VALUES ('held')"
COUNT = "SELECT COUNT(*) FROM dbtools_scratch"


def count(cursor: Any) -> int:
    cursor.execute(COUNT)
    return int(cursor.fetchone()[0])


def test_a_cursor_made_while_off_is_refused_once_settings_turn_a_mode_on(settings) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        before = count(cursor)
        settings.GET_ONLY_MODE = True
        with pytest.raises(ReadOnlyError):
            cursor.execute(INSERT)
        assert count(cursor) == before  # reads go on through the same cursor
        settings.GET_ONLY_MODE = False
        cursor.execute(INSERT)
        assert count(cursor) == before + 1


def test_a_cursor_held_while_the_stored_state_flips_is_refused(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "file"
    settings.DBTOOLS_STATE_FILE = str(tmp_path / "state.json")
    settings.DBTOOLS_REFRESH = 0.05
    store = FileStore(settings.DBTOOLS_STATE_FILE)
    store.write(State())
    with connection.cursor() as cursor:
        cursor.execute(INSERT)  # made and used while off
        before = snapshot()
        # The background thread sees the new state; this thread makes no new cursor.
        store.write(State(mode=Mode.GET_ONLY))
        wait_for(lambda: current_state().active, 5)
        with pytest.raises(ReadOnlyError):
            cursor.execute(INSERT)
        assert snapshot() == before
        store.write(State())
        wait_for(lambda: not current_state().active, 5)
        cursor.execute(INSERT)
    assert snapshot() != before


def test_writes_allowed_around_a_held_cursor_then_refused_again(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    with connection.cursor() as cursor:
        before = count(cursor)
        with writes_allowed():
            cursor.execute(INSERT)
        with pytest.raises(ReadOnlyError):
            cursor.execute(INSERT)
        assert count(cursor) == before + 1


def test_an_environment_switch_is_honoured_by_the_next_cursor(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(INSERT)  # the guard has seen the mode off
    before = snapshot()
    monkeypatch.setenv("GET_ONLY_MODE", "true")
    with pytest.raises(ReadOnlyError), connection.cursor() as cursor:
        cursor.execute(INSERT)
    assert snapshot() == before
    monkeypatch.setenv("GET_ONLY_MODE", "false")
    with connection.cursor() as cursor:
        cursor.execute(INSERT)
    assert snapshot() != before


def test_other_execute_wrappers_still_run_in_order(settings) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def recording(name: str) -> Callable[..., Any]:
        def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
            calls.append(f"{name}:{sql.split()[0]}")
            return execute(sql, *args)

        return wrapper

    with (
        connection.execute_wrapper(recording("outer")),
        connection.execute_wrapper(recording("inner")),
    ):
        with connection.cursor() as cursor:
            cursor.execute(COUNT)
        settings.GET_ONLY_MODE = True
        with connection.cursor() as cursor:
            cursor.execute(COUNT)
            with pytest.raises(ReadOnlyError):
                cursor.execute(INSERT)  # refused before any wrapper sees it
    assert calls == ["outer:SELECT", "inner:SELECT"] * 2


def test_debug_cursors_are_guarded_and_still_log(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    before = snapshot()
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        count(cursor)
        with pytest.raises(ReadOnlyError):
            cursor.execute(INSERT)
    assert snapshot() == before
    # Django logs the refused attempt too, as it logs any statement that failed.
    assert captured.captured_queries[0]["sql"] == COUNT
