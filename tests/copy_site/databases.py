"""The real databases of the two-database site: their Django settings, and making, dropping and
opening them with the drivers themselves (no Django), so a test can do it from any process.

A vendor is one of ``sqlite``, ``postgresql``, ``mariadb`` (``mysql`` is taken as ``mariadb``).
A name is a file path for SQLite and a database name on the server otherwise. Servers are found
with the environment variables tests/settings.py reads: PGHOST, PGPORT, PGUSER, MYSQL_HOST,
MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

VENDORS = ("sqlite", "postgresql", "mariadb")


def vendor_of(vendor: str) -> str:
    """``vendor`` as one of VENDORS: Django calls MariaDB's backend ``mysql``."""
    name = "mariadb" if vendor == "mysql" else vendor
    if name not in VENDORS:
        raise ValueError(f"unknown vendor {vendor!r}: one of {', '.join(VENDORS)}")
    return name


def _postgresql() -> dict[str, str]:
    return {
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
    }


def _mariadb() -> dict[str, str]:
    return {
        "USER": os.environ.get("MYSQL_USER", "root"),
        "PASSWORD": os.environ.get("MYSQL_PASSWORD", ""),
        "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
        "PORT": os.environ.get("MYSQL_PORT", "3306"),
    }


def django_database(vendor: str, name: str) -> dict[str, Any]:
    """The ``DATABASES`` entry for database ``name`` on ``vendor``."""
    vendor = vendor_of(vendor)
    if vendor == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    if vendor == "postgresql":
        return {"ENGINE": "django.db.backends.postgresql", "NAME": name, **_postgresql()}
    # utf8mb4, or the 4-byte characters of the test data would not fit.
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": name,
        **_mariadb(),
        "OPTIONS": {"charset": "utf8mb4"},
    }


def postgresql_driver() -> Any:
    """The driver Django's PostgreSQL backend uses here: psycopg 3, else psycopg2."""
    try:
        import psycopg
    except ImportError:
        import psycopg2  # type: ignore[import-untyped]

        return psycopg2
    return psycopg


def _open(vendor: str, name: str | None, read_only: bool = False) -> Any:
    """A DB-API connection in autocommit; ``name=None`` is the server's maintenance database."""
    if vendor == "sqlite":
        assert name is not None
        if read_only:
            # mode=ro also keeps a mistyped path from becoming a new, empty database.
            uri = Path(name).resolve().as_uri() + "?mode=ro"
            return sqlite3.connect(uri, uri=True, isolation_level=None)
        return sqlite3.connect(name, isolation_level=None)
    if vendor == "postgresql":
        params = _postgresql()
        # UTC, as Django's own connections: a timestamp near year 9999 read in a zone east of
        # UTC would not fit in a Python datetime.
        options = "-c timezone=UTC"
        if read_only:
            options += " -c default_transaction_read_only=on"
        raw = postgresql_driver().connect(
            dbname=name or "postgres",
            user=params["USER"],
            host=params["HOST"],
            port=params["PORT"],
            connect_timeout=5,
            options=options,
        )
        raw.autocommit = True
        return raw
    import MySQLdb  # type: ignore[import-untyped]

    params = _mariadb()
    database: dict[str, str] = {"db": name} if name else {}
    raw = MySQLdb.connect(
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=int(params["PORT"]),
        charset="utf8mb4",
        connect_timeout=5,
        **database,
    )
    raw.autocommit(True)
    if read_only:
        raw.cursor().execute("SET SESSION TRANSACTION READ ONLY")
    return raw


@contextmanager
def connect(vendor: str, name: str, read_only: bool = False) -> Iterator[Any]:
    """A driver connection to database ``name``, in autocommit, closed on leaving; with
    ``read_only`` the database refuses any write made through it."""
    with closing(_open(vendor_of(vendor), name, read_only)) as raw:
        yield raw


def unreachable(vendor: str) -> str | None:
    """Why the server for ``vendor`` cannot be used, or None when it answers."""
    vendor = vendor_of(vendor)
    if vendor == "sqlite":
        return None
    try:
        with closing(_open(vendor, None)):
            return None
    except ImportError as error:
        return f"no driver for {vendor}: {error}"
    except Exception as error:  # any failure to connect means "not reachable"
        first_line = f"{type(error).__name__}: {error}".strip().splitlines()[0]
        where = _postgresql() if vendor == "postgresql" else _mariadb()
        return f"no {vendor} answers at {where['HOST']}:{where['PORT']} ({first_line})"


def _quoted(vendor: str, name: str) -> str:
    # Names come from the tests, but a quote in one must not end the identifier.
    if vendor == "postgresql":
        return '"' + name.replace('"', '""') + '"'
    return "`" + name.replace("`", "``") + "`"


def drop(vendor: str, name: str) -> None:
    """Drop database ``name`` if it exists (SQLite: delete the file and its journals)."""
    vendor = vendor_of(vendor)
    if vendor == "sqlite":
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
        return
    with closing(_open(vendor, None)) as raw:
        cursor = raw.cursor()
        if vendor == "postgresql":
            # FORCE: a connection a failed test left open must not keep the database alive.
            cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(vendor, name)} WITH (FORCE)")
        else:
            cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(vendor, name)}")


def create(vendor: str, name: str) -> None:
    """Database ``name``, empty: dropped first if it exists."""
    vendor = vendor_of(vendor)
    drop(vendor, name)
    if vendor == "sqlite":
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        return
    with closing(_open(vendor, None)) as raw:
        cursor = raw.cursor()
        if vendor == "postgresql":
            cursor.execute(f"CREATE DATABASE {_quoted(vendor, name)}")
        else:
            cursor.execute(f"CREATE DATABASE {_quoted(vendor, name)} CHARACTER SET utf8mb4")


TABLE_NAMES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
    "mariadb": "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
}


def table_names(vendor: str, name: str) -> set[str]:
    """The tables database ``name`` holds, as its own catalogue lists them."""
    vendor = vendor_of(vendor)
    with connect(vendor, name, read_only=True) as raw:
        cursor = raw.cursor()
        cursor.execute(TABLE_NAMES[vendor])
        return {row[0] for row in cursor.fetchall()}
