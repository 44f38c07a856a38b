"""The demo site: a small notes board on SQLite, with django-db-tools installed."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("DEMO_VAR_DIR", HERE / "var"))
VAR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = "demo-only-not-secret"
DEBUG = os.environ.get("DEMO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"
ASGI_APPLICATION = "demo.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
STATIC_URL = "static/"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(VAR / "demo.sqlite3")),
    }
}
# The load test runs the demo on PostgreSQL or MariaDB: DEMO_DATABASE=postgresql|mariadb.
if os.environ.get("DEMO_DATABASE") in ("postgresql", "mariadb"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends."
        + ("postgresql" if os.environ["DEMO_DATABASE"] == "postgresql" else "mysql"),
        "NAME": os.environ.get("DEMO_DB_NAME", "dbtools_demo"),
        "USER": os.environ.get("DEMO_DB_USER", ""),
        "PASSWORD": os.environ.get("DEMO_DB_PASSWORD", ""),
        "HOST": os.environ.get("DEMO_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DEMO_DB_PORT", ""),
        "CONN_MAX_AGE": int(os.environ.get("DEMO_CONN_MAX_AGE", "0")),
        "CONN_HEALTH_CHECKS": True,
    }

# Where migration day moves the demo: another SQLite file, or PostgreSQL with
# DEMO_NEW_DATABASE=postgresql (DEMO_NEW_DB_NAME, default dbtools_demo_new, on loopback).
DATABASES["new"] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": str(VAR / "new.sqlite3"),
}
if os.environ.get("DEMO_NEW_DATABASE") == "postgresql":
    DATABASES["new"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DEMO_NEW_DB_NAME", "dbtools_demo_new"),
        "USER": os.environ.get("DEMO_NEW_DB_USER", "postgres"),
        "HOST": os.environ.get("DEMO_NEW_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DEMO_NEW_DB_PORT", "5432"),
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "dbtools",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dbtools.middleware.ReadOnlyMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
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

# The runtime switch: `python manage.py dbtools on` in a second terminal flips the running demo.
DBTOOLS_STATE = os.environ.get("DBTOOLS_STATE", "file")
DBTOOLS_STATE_FILE = os.environ.get("DBTOOLS_STATE_FILE", str(VAR / "dbtools-state.json"))
DBTOOLS_EXEMPT_PATHS = [r"^/healthz$"]
# A fleet shares the state through Redis: DBTOOLS_STATE=cache DEMO_REDIS_URL=redis://...
if os.environ.get("DEMO_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["DEMO_REDIS_URL"],
            "KEY_PREFIX": os.environ.get("DEMO_REDIS_PREFIX", "demo"),
        }
    }
DBTOOLS_REFRESH = float(os.environ.get("DBTOOLS_REFRESH", "1"))
