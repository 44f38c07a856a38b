"""Real Redis for the runtime switch: the one on loopback, and private servers tests may stop."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from tests.processes import RedisServer, redis_answers

REDIS_URL = os.environ.get("DBTOOLS_REDIS_URL", "redis://127.0.0.1:6379/9")
CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def missing(reason: str) -> None:
    """Without CI a missing service is named and the test left out; in CI it fails the run."""
    if CI:
        pytest.fail(f"CI=true requires it: {reason}")
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> str:
    if not redis_answers(REDIS_URL):
        missing(f"no Redis answers at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def cache_store(settings, redis_url: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """DBTOOLS_STATE = "cache" on the real Redis, under a key prefix of this test's own."""
    use_redis_state(settings, redis_url, refresh=0.1, key_prefix=f"dbtools-test-{uuid4().hex}")
    yield


def use_private_redis(settings, url: str, refresh: float) -> None:  # type: ignore[no-untyped-def]
    """DBTOOLS_STATE = "cache" on a private server the test may stop, read every ``refresh`` s."""
    use_redis_state(settings, url, refresh)


def use_redis_state(settings, url: str, refresh: float, key_prefix: str = "") -> None:  # type: ignore[no-untyped-def]
    settings.CACHES = {
        **settings.CACHES,
        "dbtools": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": key_prefix,
        },
    }
    settings.DBTOOLS_STATE = "cache"
    settings.DBTOOLS_CACHE = "dbtools"
    settings.DBTOOLS_REFRESH = refresh


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    try:
        server = RedisServer(tmp_path)
    except FileNotFoundError as error:
        missing(str(error))
    server.start()
    yield server
    server.stop()
