"""A switch changed in the environment while the process runs is honoured at once.

Whichever way the environment is changed through ``os.environ`` (or ``os.environb``), the
next request and the next statement, even on a cursor already held, see it; and the
environment itself behaves as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from unittest import mock

import pytest
from django.db import connection

from dbtools import ReadOnlyError
from tests.database import snapshot

INSERT = "INSERT INTO dbtools_scratch (v) VALUES ('env')"


@pytest.fixture(autouse=True)
def no_switch_in_the_environment(scratch: None) -> Iterator[None]:
    # Put back before the scratch table and the test database are cleaned up.
    saved = {name: os.environ.pop(name, None) for name in ("READ_ONLY_MODE", "GET_ONLY_MODE")}
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


def set_item() -> None:
    os.environ["GET_ONLY_MODE"] = "true"


def set_bytes() -> None:
    os.environb[b"GET_ONLY_MODE"] = b"true"


def set_default() -> None:
    os.environ.setdefault("GET_ONLY_MODE", "yes")


def update() -> None:
    os.environ.update({"READ_ONLY_MODE": "on"})


TURN_ON: list[Callable[[], None]] = [set_item, set_bytes, set_default, update]


@pytest.mark.parametrize("turn_on", TURN_ON, ids=lambda f: f.__name__)
def test_a_held_cursor_is_refused_once_the_environment_turns_a_mode_on(
    turn_on: Callable[[], None],
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(INSERT)  # made and used while off
        before = snapshot()
        turn_on()
        with pytest.raises(ReadOnlyError):
            cursor.execute(INSERT)
        assert snapshot() == before


@pytest.mark.parametrize(
    "turn_off",
    [
        lambda: os.environ.pop("GET_ONLY_MODE"),
        lambda: os.environ.__delitem__("GET_ONLY_MODE"),
        lambda: os.environ.clear(),
        lambda: os.environ.update(GET_ONLY_MODE="off"),
    ],
    ids=["pop", "del", "clear", "update to off"],
)
def test_writes_come_back_once_the_environment_turns_the_mode_off(
    turn_off: Callable[[], object],
) -> None:
    saved = dict(os.environ)
    os.environ["GET_ONLY_MODE"] = "on"
    try:
        with connection.cursor() as cursor:
            with pytest.raises(ReadOnlyError):
                cursor.execute(INSERT)
            before = snapshot()
            turn_off()
            cursor.execute(INSERT)
        assert snapshot() != before
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_patched_environment_is_honoured_while_patched_and_after(client) -> None:  # type: ignore[no-untyped-def]
    with mock.patch.dict(os.environ, {"GET_ONLY_MODE": "1"}):
        refused = client.post("/notes/", {"text": "while patched"})
    accepted = client.post("/notes/", {"text": "after"})
    assert refused.status_code == 503
    assert accepted.status_code == 201
    notes = [text for _, text in snapshot()["notes"]]
    assert "while patched" not in notes
    assert "after" in notes


def test_the_environment_still_reads_writes_and_reaches_child_processes() -> None:
    os.environ["DBTOOLS_TEST_VARIABLE"] = "kept"
    try:
        assert os.environ["DBTOOLS_TEST_VARIABLE"] == "kept"
        assert os.environb[b"DBTOOLS_TEST_VARIABLE"] == b"kept"
        assert os.getenv("DBTOOLS_TEST_VARIABLE") == "kept"
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.environ['DBTOOLS_TEST_VARIABLE'])"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert child.stdout.strip() == "kept"
    finally:
        del os.environ["DBTOOLS_TEST_VARIABLE"]
    assert "DBTOOLS_TEST_VARIABLE" not in os.environ
