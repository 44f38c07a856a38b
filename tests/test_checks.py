"""Each misconfiguration is a system check error with a stable id, naming the setting and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.urls import include, path, re_path

MIDDLEWARE_OK = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dbtools.middleware.ReadOnlyMiddleware",
]


def ids(check_id: str) -> list[str]:
    return [m.msg for m in run_checks() if m.id == check_id]


def test_the_test_settings_pass_every_check() -> None:
    assert [m for m in run_checks() if m.id and m.id.startswith("dbtools.")] == []


@pytest.mark.parametrize(
    ("name", "check_id"), [("READ_ONLY_MODE", "dbtools.E001"), ("GET_ONLY_MODE", "dbtools.E002")]
)
def test_invalid_switch_setting(settings, name: str, check_id: str) -> None:  # type: ignore[no-untyped-def]
    setattr(settings, name, "yes please")
    [message] = ids(check_id)
    assert name in message and "'yes please'" in message


@pytest.mark.parametrize("value", ["", "   ", 42, None])
def test_message_must_be_text(settings, value: object) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_MESSAGE = value
    [message] = ids("dbtools.E003")
    assert "DBTOOLS_MESSAGE" in message and repr(value) in message


@pytest.mark.parametrize("value", [-1, "300", 1.5, True, None])
def test_retry_after_must_be_whole_seconds(settings, value: object) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_RETRY_AFTER = value
    [message] = ids("dbtools.E004")
    assert "DBTOOLS_RETRY_AFTER" in message and repr(value) in message


def test_retry_after_zero_is_accepted(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_RETRY_AFTER = 0
    assert ids("dbtools.E004") == []


def test_exempt_paths_must_be_a_list(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_EXEMPT_PATHS = "^/health/$"
    [message] = ids("dbtools.E005")
    assert "DBTOOLS_EXEMPT_PATHS" in message and "'^/health/$'" in message


def test_exempt_paths_must_compile(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_EXEMPT_PATHS = [r"^/ok/$", r"^/broken/(", 7]
    messages = ids("dbtools.E005")
    assert len(messages) == 2
    assert "'^/broken/('" in messages[0] and "7" in messages[1]


@pytest.mark.parametrize(
    ("moved_after", "check_id"),
    [
        ("django.contrib.sessions.middleware.SessionMiddleware", "dbtools.E006"),
        ("django.contrib.auth.middleware.AuthenticationMiddleware", "dbtools.E007"),
    ],
)
def test_middleware_must_come_after_session_and_auth(
    settings, moved_after: str, check_id: str
) -> None:  # type: ignore[no-untyped-def]
    order = [m for m in MIDDLEWARE_OK if m != moved_after] + [moved_after]
    settings.MIDDLEWARE = order
    [message] = ids(check_id)
    assert "dbtools.middleware.ReadOnlyMiddleware" in message and moved_after in message


def test_middleware_in_the_right_place_passes(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MIDDLEWARE = MIDDLEWARE_OK
    assert ids("dbtools.E006") == ids("dbtools.E007") == []


@pytest.mark.parametrize("value", ["default", ["default", "replica"], [1]])
def test_guarded_databases_must_be_known_aliases(settings, value: object) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_DATABASES = value
    [message] = ids("dbtools.E008")
    assert "DBTOOLS_DATABASES" in message


def test_state_store_must_be_known(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "redis"
    [message] = ids("dbtools.E009")
    assert "DBTOOLS_STATE" in message and "'redis'" in message


def test_state_cache_must_be_a_cache_alias(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "cache"
    settings.DBTOOLS_CACHE = "shared"
    [message] = ids("dbtools.E010")
    assert "DBTOOLS_CACHE" in message and "'shared'" in message


def test_process_local_cache_is_a_warning(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "cache"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    [message] = ids("dbtools.W001")
    assert "LocMemCache" in message


def test_state_never_lives_in_the_database(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "cache"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_table",
        }
    }
    [message] = ids("dbtools.E013")
    assert "DatabaseCache" in message and "'default'" in message


def test_shared_cache_raises_no_warning(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "cache"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379",
        }
    }
    assert ids("dbtools.W001") == []


def test_state_file_must_be_set_for_the_file_store(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "file"
    [message] = ids("dbtools.E011")
    assert "DBTOOLS_STATE_FILE" in message and "None" in message


def test_state_file_directory_must_exist(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "file"
    settings.DBTOOLS_STATE_FILE = str(tmp_path / "missing" / "state.json")
    [message] = ids("dbtools.E011")
    assert "missing" in message


@pytest.mark.parametrize("value", [0, -1, "1", 61, True])
def test_refresh_interval_must_be_sensible(settings, value: object) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_REFRESH = value
    [message] = ids("dbtools.E012")
    assert "DBTOOLS_REFRESH" in message and repr(value) in message


@pytest.mark.parametrize("value", ["keep", "", None, True])
def test_safe_request_writes_must_be_discard_or_refuse(settings, value: object) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_SAFE_REQUEST_WRITES = value
    [message] = ids("dbtools.E014")
    assert "DBTOOLS_SAFE_REQUEST_WRITES" in message and repr(value) in message


@pytest.mark.parametrize("value", ["discard", "refuse"])
def test_safe_request_writes_accepts_both_values(settings, value: str) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_SAFE_REQUEST_WRITES = value
    assert ids("dbtools.E014") == []


HIDE_REDIS = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "redis" or name.startswith("redis."):
            raise ImportError("no module named " + name)
sys.meta_path.insert(0, Hide())
import django
from django.conf import settings
django.setup()
from django.core.checks import run_checks
from django.test.utils import override_settings
caches = {**settings.CACHES, "dbtools": {
    "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1"}}
with override_settings(DBTOOLS_STATE="cache", DBTOOLS_CACHE="dbtools", CACHES=caches):
    for message in run_checks():
        if message.id == "dbtools.E015":
            print(message.msg, "|", message.hint)
"""


def test_a_redis_cache_without_its_client_library_fails_the_check() -> None:
    """Run where redis-py cannot be imported, as on a site that never installed it."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", HIDE_REDIS],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "'dbtools'" in result.stdout and "redis" in result.stdout
    assert 'pip install "django-db-tools[redis]"' in result.stdout


def catch_all(request):  # type: ignore[no-untyped-def]
    from django.http import HttpResponse

    return HttpResponse("a CMS page")


def test_a_status_url_caught_by_an_earlier_catch_all_is_a_warning(settings) -> None:  # type: ignore[no-untyped-def]
    """As with Wagtail's path("", include(wagtail_urls)) placed before the include."""
    settings.ROOT_URLCONF = __name__
    [message] = ids("dbtools.W002")
    assert "'/ops/status/'" in message and "catch_all" in message


def test_a_reachable_status_url_raises_no_warning() -> None:
    assert ids("dbtools.W002") == []


urlpatterns = [re_path(r"^.*$", catch_all), path("ops/status/", include("dbtools.urls"))]
