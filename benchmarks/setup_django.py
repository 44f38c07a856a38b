"""A minimal Django project configured in-process for the benchmarks."""

from __future__ import annotations

import os
from typing import Any

import django
from django.conf import settings

BENCH_DATABASE = "dbtools_bench"


def postgres_database() -> dict[str, Any]:
    import psycopg

    params = {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": BENCH_DATABASE,
        "USER": params["user"],
        "HOST": params["host"],
        "PORT": params["port"],
    }


def configure(database: str = "sqlite", **extra: Any) -> None:
    databases = {
        "sqlite": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    }
    db = databases["sqlite"] if database == "sqlite" else postgres_database()
    installed = extra.pop("INSTALLED_APPS", [])
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmarks",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        DATABASES={"default": db},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "dbtools",
            *installed,
        ],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        **extra,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    User.objects.get_or_create(username="reader")


def remove_guard() -> None:
    """Take dbtools' hooks off the default connection, for the no-guard baselines."""
    from django.db import connections

    # The wrapper itself, not django.db.connection: that proxy has a __dict__ of its own.
    connection = connections["default"]
    connection.__dict__.pop("make_cursor", None)
    connection.__dict__.pop("make_debug_cursor", None)
