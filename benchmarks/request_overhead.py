"""Per-request cost through Django's bare WSGI handler, mode off and mode on.

    python benchmarks/request_overhead.py [--number N] [--rounds R]

Side by side in one run: no middleware (the baseline: sessions and authentication only), a
middleware that does nothing (the floor any middleware stands on), ReadOnlyMiddleware with
the state in settings and in Redis, django-maintenance-mode with its file and cache (Redis)
backends, and django-read-only. The visitor is logged in, as on most pages of a site with
accounts: SessionMiddleware loads the session and AuthenticationMiddleware the user, and the
view makes one small query of its own, three queries in all, so the database guard is
measured too. "on" means: ours serves the page read-only; the
maintenance middleware answers its 503 page instead; django-read-only serves the read.
Ours reads a visitor's session once per process while a mode is on and keeps it, so every
request but the first skips the session query: "each request a visitor's first" is the cost
when it is never found kept.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import Config, Group, emit, measure, option  # noqa: E402
from benchmarks.setup_django import configure, remove_guard  # noqa: E402

REDIS_URL = os.environ.get("DBTOOLS_REDIS_URL", "redis://127.0.0.1:6379/9")
STATE_DIR = Path(tempfile.mkdtemp(prefix="dbtools-bench-"))
SETTLE = 0.15  # seconds
BASE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

configure(
    "sqlite",
    INSTALLED_APPS=["maintenance_mode"],
    ROOT_URLCONF="benchmarks.urls",
    MIDDLEWARE=BASE_MIDDLEWARE,
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dbtools-bench",
        },
    },
    MAINTENANCE_MODE_STATE_FILE_PATH=str(STATE_DIR / "maintenance_mode_state.txt"),
    MAINTENANCE_MODE_CACHE_BACKEND="redis",
)

import django_read_only  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from maintenance_mode import core as maintenance  # noqa: E402

from dbtools import guard, sessions  # noqa: E402
from dbtools.current import current_state  # noqa: E402
from dbtools.state import Mode, State  # noqa: E402
from dbtools.stores import CacheStore  # noqa: E402


def logged_in_session() -> str:
    """The key of a session in which the benchmark's user is logged in."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    user = User.objects.get(username="reader")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return session.session_key


COOKIE = f"sessionid={logged_in_session()}"

# The wrapper itself: hooks installed through the django.db.connection proxy would pay for
# the proxy on every query, which no real site does.
connection = connections["default"]

OURS = "dbtools.middleware.ReadOnlyMiddleware"
EMPTY = "benchmarks.empty_middleware.EmptyMiddleware"
THEIRS = "maintenance_mode.middleware.MaintenanceModeMiddleware"
FILE_BACKEND = "maintenance_mode.backends.LocalFileBackend"
CACHE_BACKEND = "maintenance_mode.backends.CacheBackend"

handler: WSGIHandler | None = None


def environ(cookie: str | None = COOKIE) -> dict[str, object]:
    found: dict[str, object] = {"HTTP_COOKIE": cookie} if cookie else {}
    return found | {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def request(cookie: str | None = COOKIE) -> None:
    assert handler is not None
    response = handler(environ(cookie), lambda status, headers, exc_info=None: None)
    b"".join(response)
    response.close()


def anonymous_request() -> None:
    """A visitor with no session: no cookie, so only the view's own query."""
    request(None)


def anonymous_configs() -> list[Config]:
    return [
        Config("no middleware", anonymous_request, lambda: stack([], False), baseline=True),
        Config("dbtools on, state in settings", anonymous_request, lambda: ours(True, "settings")),
    ]


@contextmanager
def stack(middleware: list[str], guarded: bool, **settings: object) -> Iterator[None]:
    global handler
    with override_settings(MIDDLEWARE=BASE_MIDDLEWARE + middleware, **settings):
        if guarded:
            guard.install(connection)
        else:
            remove_guard()
        handler = WSGIHandler()
        yield
    guard.install(connection)


@contextmanager
def first_visits() -> Iterator[None]:
    """Every request as a visitor's first in this mode: their session is read, not found kept."""
    kept_seconds = sessions.KEPT_SECONDS
    sessions.KEPT_SECONDS = -1.0  # kept as usual, but already stale when asked for
    with ours(True, "settings"):
        yield
    sessions.KEPT_SECONDS = kept_seconds


@contextmanager
def ours(mode_on: bool, store: str) -> Iterator[None]:
    extra: dict[str, object] = {"DBTOOLS_STATE": store, "DBTOOLS_CACHE": "redis"}
    if store == "cache":
        # What `dbtools on|off` writes, without the command's wait for the fleet.
        CacheStore("redis").write(State(mode=Mode.GET_ONLY if mode_on else Mode.OFF))
    else:
        extra["GET_ONLY_MODE"] = mode_on
    with stack([OURS], True, **extra):
        if store == "cache":
            # A changed DBTOOLS_STATE restarts the process's watcher thread: let it connect
            # and subscribe before the clock runs, as it has long done in a serving process.
            # Serving meanwhile, not sleeping: a process that has just slept runs slower for a
            # while (a row timed after a sleep of SETTLE came out 2-5% slower than itself).
            current_state()
            deadline = time.monotonic() + SETTLE
            while time.monotonic() < deadline:
                request()
        yield


@contextmanager
def theirs(mode_on: bool, backend: str) -> Iterator[None]:
    with stack([THEIRS], False, MAINTENANCE_MODE_STATE_BACKEND=backend):
        maintenance.set_maintenance_mode(mode_on)
        yield
        maintenance.set_maintenance_mode(False)


@contextmanager
def read_only(mode_on: bool) -> Iterator[None]:
    with stack([], False):
        django_read_only.install_hook(connection)
        django_read_only.read_only = mode_on
        yield
        connection.execute_wrappers.remove(django_read_only.blocker)


def configs(mode_on: bool) -> list[Config]:
    state = "on" if mode_on else "off"
    return [
        Config("no middleware", request, lambda: stack([], False), baseline=True),
        Config("a middleware that does nothing", request, lambda: stack([EMPTY], False)),
        Config(f"dbtools {state}, state in settings", request, lambda: ours(mode_on, "settings")),
        Config(f"dbtools {state}, state in Redis", request, lambda: ours(mode_on, "cache")),
        *(
            [Config("dbtools on, each request a visitor's first", request, first_visits)]
            if mode_on
            else []
        ),
        Config(
            f"maintenance-mode {state}, file backend",
            request,
            lambda: theirs(mode_on, FILE_BACKEND),
        ),
        Config(
            f"maintenance-mode {state}, cache (Redis)",
            request,
            lambda: theirs(mode_on, CACHE_BACKEND),
        ),
        Config(f"django-read-only {state}", request, lambda: read_only(mode_on)),
    ]


if __name__ == "__main__":
    number = option("--number", 50)
    rounds = option("--rounds", 300)
    emit(
        [
            measure(
                Group("Per request, mode off", configs(False), "us per request"), number, rounds
            ),
            measure(Group("Per request, mode on", configs(True), "us per request"), number, rounds),
            measure(
                Group(
                    "Per request, mode on, a visitor with no session",
                    anonymous_configs(),
                    "us per request",
                ),
                number,
                rounds,
            ),
        ]
    )
