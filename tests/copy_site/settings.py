"""Settings of the two-database site: ``default`` is the source of a copy, ``new`` its target.

Each alias's engine and database come from the environment, so one settings module serves every
ordered pair of backends:

- ``COPY_SOURCE`` / ``COPY_TARGET``: ``sqlite``, ``postgresql`` or ``mariadb`` (default sqlite);
- ``COPY_SOURCE_NAME`` / ``COPY_TARGET_NAME``: a file path for SQLite, a database name otherwise
  (default ``dbtools_copy_src`` / ``dbtools_copy_dst``, with ``.sqlite3`` for SQLite);
- ``COPY_STATE_FILE``: where ``dbtools on`` keeps the mode (a test gives each run its own).

Europe/Paris rather than UTC, so a value turned naive and read back in the wrong zone shows.
"""

from __future__ import annotations

import os
import tempfile

from tests.copy_site.databases import django_database


def _database(role: str, default_name: str) -> dict[str, object]:
    vendor = os.environ.get(f"COPY_{role}", "sqlite")
    fallback = f"{default_name}.sqlite3" if vendor == "sqlite" else default_name
    return django_database(vendor, os.environ.get(f"COPY_{role}_NAME", fallback))


DATABASES = {
    "default": _database("SOURCE", "dbtools_copy_src"),
    "new": _database("TARGET", "dbtools_copy_dst"),
}

SECRET_KEY = "dbtools-copy-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "Europe/Paris"
ROOT_URLCONF = "tests.copy_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Fast, and a copied user's hash must still check: the hasher is read from the stored hash.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "dbtools",
    "tests.copyapp",
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

DBTOOLS_STATE = "file"
DBTOOLS_STATE_FILE = os.environ.get(
    "COPY_STATE_FILE", os.path.join(tempfile.gettempdir(), "dbtools-copy-site-state.json")
)
DBTOOLS_REFRESH = 0.2
