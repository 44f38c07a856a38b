"""Paths around Django's cursor wrappers are stopped by the database's own read-only session."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from django.db import connection

from dbtools import ReadOnlyError, guard, writes_allowed
from dbtools.errors import is_read_only_refusal
from dbtools.statements import READ
from tests.database import postgresql_driver, snapshot
from tests.settings import BACKEND

pytestmark = pytest.mark.usefixtures("scratch")


def execute(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@contextmanager
def routines(create: list[str], drop: list[str]) -> Iterator[None]:
    with writes_allowed():
        execute(*drop, *create)
    try:
        yield
    finally:
        with writes_allowed():
            execute(*drop)


def raw_driver_insert(switch_on: Callable[[], None]) -> None:
    switch_on()
    connection.cursor().close()  # the native layer is applied when a cursor is made
    cursor = connection.connection.cursor()
    cursor.execute("INSERT INTO dbtools_scratch (v) VALUES ('raw')")
    connection.connection.commit()


def unchecked_insert(switch_on: Callable[[], None]) -> None:
    """The native layer alone: with the statement check fooled, a write still fails."""
    switch_on()
    # The verdicts kept for this connection are set aside too, so none is kept from the lie.
    fooled = mock.patch.object(guard, "judge", lambda sql, vendor, bound=True: READ)
    with fooled, mock.patch.dict(guard._verdicts, clear=True):
        execute("INSERT INTO dbtools_scratch (v) VALUES ('unchecked')")


def sqlite_executescript(switch_on: Callable[[], None]) -> None:
    switch_on()
    with connection.cursor() as cursor:
        cursor.cursor.executescript("INSERT INTO dbtools_scratch (v) VALUES ('script');")


def postgresql_copy(switch_on: Callable[[], None]) -> None:
    switch_on()
    with connection.cursor() as cursor:
        driver_cursor = cursor.cursor
        if hasattr(driver_cursor, "copy"):  # psycopg 3
            with driver_cursor.copy("COPY dbtools_scratch (v) FROM STDIN") as copy:
                copy.write_row(["copied"])
        else:  # psycopg2
            driver_cursor.copy_expert(
                "COPY dbtools_scratch (v) FROM STDIN", io.StringIO("copied\n")
            )


def postgresql_function(switch_on: Callable[[], None]) -> None:
    with routines(
        [
            "CREATE FUNCTION dbtools_sneaky() RETURNS integer AS $$ INSERT INTO dbtools_scratch "
            "(v) VALUES ('sneaky') RETURNING 1 $$ LANGUAGE sql"
        ],
        ["DROP FUNCTION IF EXISTS dbtools_sneaky()"],
    ):
        switch_on()
        execute("SELECT dbtools_sneaky()")


def mysql_procedure(switch_on: Callable[[], None]) -> None:
    with routines(
        ["CREATE PROCEDURE dbtools_proc() INSERT INTO dbtools_scratch (v) VALUES ('proc')"],
        ["DROP PROCEDURE IF EXISTS dbtools_proc"],
    ):
        switch_on()
        with connection.cursor() as cursor:
            cursor.callproc("dbtools_proc")


def mysql_function(switch_on: Callable[[], None]) -> None:
    with routines(
        [
            "CREATE FUNCTION dbtools_fn() RETURNS INT MODIFIES SQL DATA "
            "BEGIN INSERT INTO dbtools_scratch (v) VALUES ('fn'); RETURN 1; END"
        ],
        ["DROP FUNCTION IF EXISTS dbtools_fn"],
    ):
        switch_on()
        execute("SELECT dbtools_fn()")


Bypass = Callable[[Callable[[], None]], None]

BYPASSES: dict[str, list[Bypass]] = {
    "sqlite": [raw_driver_insert, unchecked_insert, sqlite_executescript],
    "postgresql": [raw_driver_insert, unchecked_insert, postgresql_copy, postgresql_function],
    "mariadb": [raw_driver_insert, unchecked_insert, mysql_procedure, mysql_function],
}


@pytest.mark.parametrize("bypass", BYPASSES[BACKEND], ids=lambda f: f.__name__)
def test_bypass_changes_nothing(settings, bypass: Bypass) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()

    def switch_on() -> None:
        settings.GET_ONLY_MODE = True

    with pytest.raises(Exception) as refused:
        bypass(switch_on)
    assert is_read_only_refusal(refused.value), refused.value
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


def test_executemany_is_checked(settings) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    settings.GET_ONLY_MODE = True
    with pytest.raises(ReadOnlyError), connection.cursor() as cursor:
        cursor.executemany("INSERT INTO dbtools_scratch (v) VALUES (%s)", [("a",), ("b",)])
    assert snapshot() == before


if BACKEND == "postgresql":

    def test_psycopg_sql_objects_are_checked(settings) -> None:  # type: ignore[no-untyped-def]
        sql = postgresql_driver().sql

        before = snapshot()
        settings.GET_ONLY_MODE = True
        table = sql.Identifier("dbtools_scratch")
        with pytest.raises(ReadOnlyError), connection.cursor() as cursor:
            cursor.execute(sql.SQL("INSERT INTO {} (v) VALUES (%s)").format(table), ["composed"])
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT v FROM {} WHERE id = {}").format(table, sql.Literal(1)))
            assert cursor.fetchone() == ("one",)
        assert snapshot() == before
