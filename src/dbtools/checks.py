"""System checks: every setting dbtools reads, validated with a stable id."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import connections

from dbtools.conf import STATE_BACKENDS, conf, valid_refresh, valid_seconds
from dbtools.switches import InvalidSwitch, parse_switch

MIDDLEWARE_PATH = "dbtools.middleware.ReadOnlyMiddleware"
MUST_COME_AFTER = (
    ("django.contrib.sessions.middleware.SessionMiddleware", "dbtools.E006"),
    ("django.contrib.auth.middleware.AuthenticationMiddleware", "dbtools.E007"),
)
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"
PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def check_switches(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, check_id in (("READ_ONLY_MODE", "dbtools.E001"), ("GET_ONLY_MODE", "dbtools.E002")):
        try:
            parse_switch(name, conf.switch(name))
        except InvalidSwitch as error:
            errors.append(
                Error(
                    str(error),
                    hint=f"Set {name} (setting or environment variable) to true or false.",
                    id=check_id,
                )
            )
    return errors


def check_message(**kwargs: Any) -> list[CheckMessage]:
    value = conf.DBTOOLS_MESSAGE
    if isinstance(value, str) and value.strip():
        return []
    return [
        Error(
            f"DBTOOLS_MESSAGE must be a non-empty string; got {value!r}.",
            hint="Tell visitors in a sentence why changes are paused.",
            id="dbtools.E003",
        )
    ]


def check_retry_after(**kwargs: Any) -> list[CheckMessage]:
    value = conf.DBTOOLS_RETRY_AFTER
    if valid_seconds(value):
        return []
    return [
        Error(
            f"DBTOOLS_RETRY_AFTER must be a whole number of seconds, 0 or more; got {value!r}.",
            hint="For example DBTOOLS_RETRY_AFTER = 300 for five minutes.",
            id="dbtools.E004",
        )
    ]


def check_exempt_paths(**kwargs: Any) -> list[CheckMessage]:
    value = conf.DBTOOLS_EXEMPT_PATHS
    if not isinstance(value, (list, tuple)):
        return [
            Error(
                f"DBTOOLS_EXEMPT_PATHS must be a list of regular expressions; got {value!r}.",
                hint='For example DBTOOLS_EXEMPT_PATHS = [r"^/health/$"].',
                id="dbtools.E005",
            )
        ]
    errors: list[CheckMessage] = []
    for pattern in value:
        problem = _regex_problem(pattern)
        if problem:
            errors.append(
                Error(
                    f"DBTOOLS_EXEMPT_PATHS holds {pattern!r}, which is not a valid regular "
                    f"expression: {problem}.",
                    hint="Each entry is matched against the start of request.path_info.",
                    id="dbtools.E005",
                )
            )
    return errors


def _regex_problem(pattern: object) -> str:
    if not isinstance(pattern, str):
        return "it is not a string"
    try:
        re.compile(pattern)
    except re.error as error:
        return str(error)
    return ""


def check_middleware_order(**kwargs: Any) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return []
    position = middleware.index(MIDDLEWARE_PATH)
    errors: list[CheckMessage] = []
    for required, check_id in MUST_COME_AFTER:
        if required in middleware[position + 1 :]:
            errors.append(
                Error(
                    f"{MIDDLEWARE_PATH} comes before {required} in MIDDLEWARE.",
                    hint=f"Move {MIDDLEWARE_PATH} after {required}: it needs the session "
                    "and the user they attach to each request.",
                    id=check_id,
                )
            )
    return errors


def check_databases(**kwargs: Any) -> list[CheckMessage]:
    value = conf.DBTOOLS_DATABASES
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(a, str) for a in value):
        return [
            Error(
                f"DBTOOLS_DATABASES must be a list of database aliases; got {value!r}.",
                hint='Leave it unset to guard every alias, or list them: ["default"].',
                id="dbtools.E008",
            )
        ]
    unknown = [alias for alias in value if alias not in connections.settings]
    if unknown:
        return [
            Error(
                f"DBTOOLS_DATABASES names {', '.join(map(repr, unknown))}, which "
                f"{'is' if len(unknown) == 1 else 'are'} not in DATABASES.",
                hint=f"Known aliases: {', '.join(sorted(connections.settings))}.",
                id="dbtools.E008",
            )
        ]
    return []


def check_state_store(**kwargs: Any) -> list[CheckMessage]:
    backend = conf.DBTOOLS_STATE
    if backend not in STATE_BACKENDS:
        return [
            Error(
                f"DBTOOLS_STATE must be one of {', '.join(map(repr, STATE_BACKENDS))}; "
                f"got {backend!r}.",
                id="dbtools.E009",
            )
        ]
    messages: list[CheckMessage] = []
    if backend == "cache":
        messages += _check_cache(conf.DBTOOLS_CACHE)
    if backend == "file":
        messages += _check_state_file(conf.DBTOOLS_STATE_FILE)
    refresh = conf.DBTOOLS_REFRESH
    if not valid_refresh(refresh):
        messages.append(
            Error(
                f"DBTOOLS_REFRESH must be a number of seconds above 0 and at most 60; "
                f"got {refresh!r}.",
                hint="The default, 1, makes a switch reach every process in about a second.",
                id="dbtools.E012",
            )
        )
    return messages


def _check_cache(alias: object) -> Sequence[CheckMessage]:
    caches = getattr(settings, "CACHES", {})
    if not isinstance(alias, str) or alias not in caches:
        return [
            Error(
                f"DBTOOLS_CACHE must name an alias in CACHES; got {alias!r}.",
                hint=f"Known aliases: {', '.join(sorted(caches)) or 'none'}.",
                id="dbtools.E010",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if backend == DATABASE_CACHE:
        return [
            Error(
                f"DBTOOLS_CACHE {alias!r} uses {backend}: the state would live in the database "
                "being migrated, which refuses writes while a mode is on.",
                hint="Use Redis or Memcached, or DBTOOLS_STATE = 'file' on a single host.",
                id="dbtools.E013",
            )
        ]
    if backend in REDIS_CLIENTS:
        return _check_redis_client(alias, backend)
    if backend in PROCESS_LOCAL_CACHES:
        return [
            Warning(
                f"DBTOOLS_CACHE {alias!r} uses {backend}, which lives inside each process: "
                "`manage.py dbtools on` would reach no server.",
                hint="Use a shared cache (Redis or Memcached), or DBTOOLS_STATE = 'file' "
                "on a single host.",
                id="dbtools.W001",
            )
        ]
    return []


def _check_state_file(path: object) -> Sequence[CheckMessage]:
    if not isinstance(path, (str, Path)) or not str(path):
        return [
            Error(
                f"DBTOOLS_STATE_FILE must be a file path when DBTOOLS_STATE is 'file'; "
                f"got {path!r}.",
                id="dbtools.E011",
            )
        ]
    folder = Path(path).parent
    if not folder.is_dir():
        return [
            Error(
                f"DBTOOLS_STATE_FILE {str(path)!r} is in {str(folder)!r}, which is not a "
                "directory.",
                hint="Create the directory, or point the setting at one that exists.",
                id="dbtools.E011",
            )
        ]
    return []


SAFE_REQUEST_WRITES = ("discard", "refuse")


def check_safe_request_writes(**kwargs: Any) -> list[CheckMessage]:
    value = conf.DBTOOLS_SAFE_REQUEST_WRITES
    if value in SAFE_REQUEST_WRITES:
        return []
    return [
        Error(
            f"DBTOOLS_SAFE_REQUEST_WRITES must be 'discard' or 'refuse'; got {value!r}.",
            hint="'discard' serves a GET whose view writes and rolls its writes back; "
            "'refuse' answers it with the 503 refusal.",
            id="dbtools.E014",
        )
    ]


REDIS_CLIENTS = {
    "django.core.cache.backends.redis.RedisCache": ("redis",),
    "django_redis.cache.RedisCache": ("django_redis", "redis"),
}


def _check_redis_client(alias: str, backend: str) -> list[CheckMessage]:
    missing = [name for name in REDIS_CLIENTS.get(backend, ()) if not _installed(name)]
    if not missing:
        return []
    return [
        Error(
            f"DBTOOLS_CACHE {alias!r} uses {backend}, whose client library is not installed "
            f"({', '.join(missing)}): `manage.py dbtools on` would fail.",
            hint='pip install "django-db-tools[redis]"',
            id="dbtools.E015",
        )
    ]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_status_url(**kwargs: Any) -> list[CheckMessage]:
    """The status endpoint, where included, must be reachable: before any catch-all pattern."""
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    from dbtools.views import status

    if not getattr(settings, "ROOT_URLCONF", None):
        return []  # a project with no URLs (a library's own settings): nothing to reach
    try:
        url = reverse("dbtools:status")
    except NoReverseMatch:
        return []  # not included: the endpoint is optional
    try:
        found = resolve(url).func
    except Resolver404:
        found = None
    if found is status:
        return []
    name = getattr(found, "__qualname__", None) or repr(found)
    return [
        Warning(
            f"The dbtools status URL {url!r} resolves to {name}, not to the status view: "
            "an earlier pattern catches it.",
            hint='Put path(..., include("dbtools.urls")) before catch-all patterns such as '
            'Wagtail\'s path("", include(wagtail_urls)).',
            id="dbtools.W002",
        )
    ]


ALL_CHECKS = (
    check_safe_request_writes,
    check_status_url,
    check_switches,
    check_message,
    check_retry_after,
    check_exempt_paths,
    check_middleware_order,
    check_databases,
    check_state_store,
)
