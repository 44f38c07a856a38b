"""Redis pub/sub for a state kept in a Redis cache: a switch wakes every process at once.

Polling alone makes a process wait up to ``DBTOOLS_REFRESH`` to see a switch. When the
cache behind the store is Redis (Django's ``RedisCache`` or django-redis), ``dbtools on|off``
also publishes on a channel every process's watcher thread listens to, and each process
reads the store the moment it hears. The message is only a nudge: the store stays the one
source of truth, so a message lost, duplicated or sent by a neighbouring site on the same
server changes nothing but the timing, and polling goes on as before underneath.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from django.core.cache import caches


class PushError(Exception):
    """The channel could not be listened to or published on."""


def redis_client(alias: str) -> Any | None:
    """A redis-py client for the primary server behind cache ``alias``, if it is Redis."""
    cache = caches[alias]
    backend = getattr(cache, "_cache", None)  # Django's RedisCache
    if backend is not None and hasattr(backend, "get_client"):
        return backend.get_client(write=True)
    client = getattr(cache, "client", None)  # django-redis
    if client is not None and hasattr(client, "get_client"):
        return client.get_client(write=True)
    return None


class Channel:
    """The pub/sub channel beside the state key of one Redis cache."""

    def __init__(self, alias: str, key: str) -> None:
        self.alias = alias
        self.key = key

    @property
    def name(self) -> str:
        # The cache's own key (KEY_PREFIX, VERSION) keeps two sites on one server apart.
        return f"{caches[self.alias].make_key(self.key)}:changed"

    def publish(self) -> int | None:
        """Tell every listening process to read the store; how many heard, None if not Redis."""
        client = redis_client(self.alias)
        if client is None:
            return None
        try:
            return int(client.publish(self.name, b"1"))
        except Exception as error:  # redis-py's errors, whatever the connection class
            raise PushError(f"cannot publish on {self.name!r}: {error}") from error

    def listen(self) -> Listener | None:
        """Subscribe, or None when the cache is not Redis (the watcher then only polls)."""
        client = redis_client(self.alias)
        if client is None:
            return None
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.name)
        except Exception as error:
            pubsub.close()
            raise PushError(f"cannot subscribe to {self.name!r}: {error}") from error
        return Listener(pubsub)


class Listener:
    """One subscription, owned by the watcher thread."""

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    def wait(self, timeout: float) -> bool:
        """Block until a message arrives (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                # None also comes back early for the subscription's own confirmation.
                if self._pubsub.get_message(timeout=left) is not None:
                    return True
        except Exception as error:
            raise PushError(f"lost the subscription: {error}") from error
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the connection is gone: nothing to release
            self._pubsub.close()
