"""The copy benchmark's site: ``default`` is the source, ``new`` the target (PostgreSQL).

    COPY_BENCH_SOURCE=mariadb|postgresql  the source's engine (default postgresql)
    COPY_BENCH_SOURCE_NAME                its database (default dbtools_bench_copy_src)
    COPY_BENCH_TARGET_NAME                the target database (default dbtools_bench_copy_new)

Both on loopback: PostgreSQL as postgres (trust), MariaDB as root with no password.
"""

from __future__ import annotations

import os

SECRET_KEY = "copy-benchmark-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# dbtools.W-checks reverse its status URL: a site with no URLconf at all fails them.
ROOT_URLCONF = "benchmarks.copy_site.urls"
# dbtools imports django.contrib.auth (its middleware knows AnonymousUser).
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "dbtools",
    "benchmarks.copy_site.bench_app",
]

POSTGRESQL = {
    "ENGINE": "django.db.backends.postgresql",
    "USER": os.environ.get("PGUSER", "postgres"),
    "HOST": os.environ.get("PGHOST", "127.0.0.1"),
    "PORT": os.environ.get("PGPORT", "5432"),
}
MARIADB = {
    "ENGINE": "django.db.backends.mysql",
    "USER": os.environ.get("COPY_BENCH_MARIADB_USER", "root"),
    "PASSWORD": os.environ.get("COPY_BENCH_MARIADB_PASSWORD", ""),
    "HOST": os.environ.get("COPY_BENCH_MARIADB_HOST", "127.0.0.1"),
    "PORT": os.environ.get("COPY_BENCH_MARIADB_PORT", "3306"),
    "OPTIONS": {"charset": "utf8mb4"},
}

SOURCE = MARIADB if os.environ.get("COPY_BENCH_SOURCE") == "mariadb" else POSTGRESQL
DATABASES = {
    "default": {
        **SOURCE,
        "NAME": os.environ.get("COPY_BENCH_SOURCE_NAME", "dbtools_bench_copy_src"),
    },
    "new": {
        **POSTGRESQL,
        "NAME": os.environ.get("COPY_BENCH_TARGET_NAME", "dbtools_bench_copy_new"),
    },
}

# The window benchmark's runtime store (cutover needs one): a file, shared by its commands.
if os.environ.get("COPY_BENCH_STATE_FILE"):
    DBTOOLS_STATE = "file"
    DBTOOLS_STATE_FILE = os.environ["COPY_BENCH_STATE_FILE"]
