"""The database's own read-only session follows the mode on one persistent connection."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from dbtools import ReadOnlyError
from tests.database import run_outside

pytestmark = pytest.mark.usefixtures("scratch")

READ_ONLY_FLAG = {
    "sqlite": "PRAGMA query_only",
    "postgresql": "SHOW transaction_read_only",
    "mysql": "SELECT @@tx_read_only",
}


def database_says_read_only() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(READ_ONLY_FLAG[connection.vendor])
        value = cursor.fetchone()[0]
    return str(value).lower() in ("1", "on")


def raw_insert(text: str) -> None:
    """A write the statement check never sees: only the database's own session can stop it."""
    connection.cursor().close()
    cursor = connection.connection.cursor()
    cursor.execute(f"INSERT INTO dbtools_scratch (v) VALUES ('{text}')")
    if not connection.get_autocommit():
        return
    connection.connection.commit()


def stored() -> list[str]:
    return [row[0] for row in run_outside("SELECT v FROM dbtools_scratch ORDER BY id")]


def test_on_off_on_again_outside_transactions(settings) -> None:  # type: ignore[no-untyped-def]
    connection.ensure_connection()
    raw = connection.connection

    settings.GET_ONLY_MODE = True
    assert database_says_read_only()
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
        raw_insert("while on")

    settings.GET_ONLY_MODE = False
    assert not database_says_read_only()
    raw_insert("while off")

    settings.GET_ONLY_MODE = True
    assert database_says_read_only()
    with pytest.raises(Exception):  # noqa: B017
        raw_insert("on again")

    settings.GET_ONLY_MODE = False
    assert connection.connection is raw, "the guard must not reconnect"
    assert stored() == ["one", "two", "while off"]


def test_switched_on_inside_an_open_transaction(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReadOnlyError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO dbtools_scratch (v) VALUES ('before the switch')")
        settings.GET_ONLY_MODE = True
        assert database_says_read_only()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO dbtools_scratch (v) VALUES ('after the switch')")
    # The refused write rolled the whole transaction back: nothing half-written.
    assert stored() == ["one", "two"]
    assert database_says_read_only()
    settings.GET_ONLY_MODE = False
    assert not database_says_read_only()


def test_transactions_while_on_then_off(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    with transaction.atomic():
        assert database_says_read_only()
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM dbtools_scratch")
            assert cursor.fetchone()[0] == 2
    settings.GET_ONLY_MODE = False
    with transaction.atomic():
        assert not database_says_read_only()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO dbtools_scratch (v) VALUES ('in a transaction')")
    assert stored() == ["one", "two", "in a transaction"]
    settings.GET_ONLY_MODE = True
    with transaction.atomic():
        assert database_says_read_only()
    settings.GET_ONLY_MODE = False


def test_savepoints_keep_working_while_on(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    with transaction.atomic():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT v FROM dbtools_scratch WHERE id = 1")
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("UPDATE dbtools_scratch SET v = 'x'")
        except ReadOnlyError:
            pass
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM dbtools_scratch")
            assert cursor.fetchone()[0] == 2
    assert stored() == ["one", "two"]
