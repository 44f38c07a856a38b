"""Per-query cost of the database guard, against no guard and against django-read-only.

    python benchmarks/guard_overhead.py [--database sqlite|postgresql] [--number N] [--rounds R]

Measured in one run: a cursor-level query (cursor made, SELECT executed, row fetched) and an
ORM query, each with no guard at all, with dbtools installed (mode off, and GET-only mode on:
reads pass both layers), and with django-read-only installed (writes allowed, and read-only).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import Config, Group, emit, measure, option  # noqa: E402
from benchmarks.setup_django import configure, remove_guard  # noqa: E402

DATABASE = "postgresql" if "postgresql" in sys.argv else "sqlite"
configure(DATABASE)

import django_read_only  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from dbtools import guard  # noqa: E402

# The wrapper itself: hooks installed through the django.db.connection proxy would pay for
# the proxy on every query, which no real site does.
connection = connections["default"]


@contextmanager
def no_guard() -> Iterator[None]:
    remove_guard()
    yield
    guard.install(connection)


@contextmanager
def dbtools_mode(on: bool) -> Iterator[None]:
    guard.install(connection)
    with override_settings(GET_ONLY_MODE=on):
        yield


@contextmanager
def read_only_package(read_only: bool) -> Iterator[None]:
    remove_guard()
    django_read_only.install_hook(connection)
    django_read_only.read_only = read_only
    yield
    connection.execute_wrappers.remove(django_read_only.blocker)
    guard.install(connection)


def cursor_query() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, username FROM auth_user WHERE id = %s", [1])
        cursor.fetchone()


def orm_query() -> None:
    list(User.objects.filter(pk=1))


def group(title: str, operation: object) -> Group:
    op = operation  # type: ignore[assignment]
    return Group(
        title,
        [
            Config("no guard", op, no_guard, baseline=True),  # type: ignore[arg-type]
            Config("dbtools, mode off", op, lambda: dbtools_mode(False)),  # type: ignore[arg-type]
            Config("dbtools, GET-only mode on (reads)", op, lambda: dbtools_mode(True)),  # type: ignore[arg-type]
            Config("django-read-only, writes allowed", op, lambda: read_only_package(False)),  # type: ignore[arg-type]
            Config("django-read-only, read-only", op, lambda: read_only_package(True)),  # type: ignore[arg-type]
        ],
        unit="us per query",
    )


if __name__ == "__main__":
    number = option("--number", 100)
    rounds = option("--rounds", 200)
    groups = [
        measure(group(f"Guard, cursor query, {DATABASE}", cursor_query), number, rounds),
        measure(group(f"Guard, ORM query, {DATABASE}", orm_query), number, rounds),
    ]
    emit(groups)
