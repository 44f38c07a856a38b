"""Settings for the test suite. DBTOOLS_TEST_DB picks the database: sqlite, postgresql, mariadb."""

from __future__ import annotations

import os
from typing import Any

BACKEND = os.environ.get("DBTOOLS_TEST_DB", "sqlite")

_DATABASES: dict[str, dict[str, Any]] = {
    # A file, not the in-memory default, so a second connection can look at it from outside.
    "sqlite": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "dbtools_test.sqlite3",
        "TEST": {"NAME": os.environ.get("DBTOOLS_SQLITE_TEST_NAME", "dbtools_test_db.sqlite3")},
    },
    "postgresql": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "test",
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
    },
    "mariadb": {
        "ENGINE": "django.db.backends.mysql",
        "NAME": "test",
        "USER": os.environ.get("MYSQL_USER", "root"),
        "PASSWORD": os.environ.get("MYSQL_PASSWORD", ""),
        "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
        "PORT": os.environ.get("MYSQL_PORT", "3306"),
        "OPTIONS": {"charset": "utf8mb4"},
    },
}
DATABASES = {"default": _DATABASES[BACKEND]}
# A suite started from inside the suite (to prove test databases are made whatever the mode)
# needs test databases of its own.
if os.environ.get("DBTOOLS_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DBTOOLS_TEST_DB_NAME"]}

SECRET_KEY = "dbtools-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.testapp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    "tests.testapp",  # first, so its admin/base_site.html (with the banner) wins
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "dbtools",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dbtools.middleware.ReadOnlyMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dbtools.context_processors.read_only",
            ]
        },
    }
]

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS: list[str] = []
