"""Real Redis for the runtime switch: the one on loopback, and private servers tests may stop."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

REDIS_URL = os.environ.get("DBTOOLS_REDIS_URL", "redis://127.0.0.1:6379/9")
CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def missing(reason: str) -> None:
    """Without CI a missing service is named and the test left out; in CI it fails the run."""
    if CI:
        pytest.fail(f"CI=true requires it: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not answers(REDIS_URL):
        missing(f"no Redis answers at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def cache_store(settings, redis_url: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """DBTOOLS_STATE = "cache" on the real Redis, under a key prefix of this test's own."""
    settings.CACHES = {
        **settings.CACHES,
        "dbtools": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"dbtools-test-{uuid4().hex}",
        },
    }
    settings.DBTOOLS_STATE = "cache"
    settings.DBTOOLS_CACHE = "dbtools"
    settings.DBTOOLS_REFRESH = 0.1
    yield


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test may stop and restart."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed")
        self.binary = str(binary)
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not answers(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
