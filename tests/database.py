"""A scratch table, and a second connection that looks at the test database from outside Django."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest
from django.db import connection

from dbtools import writes_allowed

SCRATCH_DDL = {
    "sqlite": ["CREATE TABLE dbtools_scratch (id INTEGER PRIMARY KEY, v VARCHAR(100))"],
    "postgresql": [
        "CREATE TABLE dbtools_scratch (id SERIAL PRIMARY KEY, v VARCHAR(100))",
        "CREATE SEQUENCE dbtools_seq",
    ],
    "mysql": [
        "CREATE TABLE dbtools_scratch (id INTEGER AUTO_INCREMENT PRIMARY KEY, v VARCHAR(100))",
        "CREATE SEQUENCE dbtools_seq",
    ],
}
SCRATCH_DROP = {
    "sqlite": ["DROP TABLE IF EXISTS dbtools_scratch"],
    "postgresql": ["DROP TABLE IF EXISTS dbtools_scratch", "DROP SEQUENCE IF EXISTS dbtools_seq"],
    "mysql": ["DROP TABLE IF EXISTS dbtools_scratch", "DROP SEQUENCE IF EXISTS dbtools_seq"],
}


def postgresql_driver() -> Any:
    """The driver Django's PostgreSQL backend uses here: psycopg 3, else psycopg2."""
    try:
        import psycopg
    except ImportError:
        import psycopg2

        return psycopg2
    return psycopg


@contextmanager
def outside_connection() -> Iterator[Any]:
    """A DB-API connection to the test database that dbtools never touches, in autocommit."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        raw = sqlite3.connect(params["NAME"], isolation_level=None)
    elif connection.vendor == "postgresql":
        driver = postgresql_driver()
        raw = driver.connect(
            dbname=params["NAME"], user=params["USER"], host=params["HOST"], port=params["PORT"]
        )
        raw.autocommit = True
    else:
        import MySQLdb

        raw = MySQLdb.connect(
            db=params["NAME"],
            user=params["USER"],
            password=params["PASSWORD"],
            host=params["HOST"],
            port=int(params["PORT"]),
        )
        raw.autocommit(True)
    with closing(raw):
        yield raw


def run_outside(*statements: str) -> list[tuple[Any, ...]]:
    with outside_connection() as raw:
        cursor = raw.cursor()
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            cursor.execute(statement)
            if cursor.description:
                rows = [tuple(row) for row in cursor.fetchall()]
        return rows


def snapshot() -> dict[str, Any]:
    """What a write could change, read from outside: rows, tables, sequences, settings."""
    state: dict[str, Any] = {
        "rows": run_outside("SELECT id, v FROM dbtools_scratch ORDER BY id"),
        "notes": run_outside("SELECT id, text FROM testapp_note ORDER BY id"),
    }
    if connection.vendor == "sqlite":
        state["tables"] = run_outside("SELECT name FROM sqlite_master ORDER BY name")
        state["user_version"] = run_outside("PRAGMA user_version")
    elif connection.vendor == "postgresql":
        state["tables"] = run_outside(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "ORDER BY relname"
        )
        state["sequence"] = run_outside("SELECT last_value, is_called FROM dbtools_seq")
        state["comment"] = run_outside("SELECT obj_description('dbtools_scratch'::regclass)")
    else:
        state["tables"] = run_outside("SHOW TABLES")
        state["sequence"] = run_outside("SELECT next_not_cached_value FROM dbtools_seq")
    return state


@pytest.fixture
def scratch(transactional_db: None) -> Iterator[None]:
    """A table with two rows (and a sequence), created and dropped around each test."""
    vendor = connection.vendor
    with writes_allowed(), connection.cursor() as cursor:
        for statement in SCRATCH_DROP[vendor] + SCRATCH_DDL[vendor]:
            cursor.execute(statement)
        cursor.execute("INSERT INTO dbtools_scratch (v) VALUES ('one'), ('two')")
    yield
    with writes_allowed(), connection.cursor() as cursor:
        for statement in SCRATCH_DROP[vendor]:
            cursor.execute(statement)
