"""Redis pub/sub for a state kept in a Redis cache: a switch wakes every process at once.

Polling alone makes a process wait up to ``DBTOOLS_REFRESH`` to see a switch. When the
cache behind the store is Redis (Django's ``RedisCache`` or django-redis), ``dbtools on|off``
also publishes the new state on a channel every process's watcher thread listens to. Each
process reads the store the moment it hears a message, and a mode turned on it takes up
from the message itself, before that read: the store stays the one source of truth, so a
message lost, duplicated, out of order or sent by a neighbouring site on the same server
can at worst keep a process read-only until that read, and polling goes on as before
underneath.
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

    def publish(self, message: str) -> int | None:
        """Tell every listening process; how many heard, None if the cache is not Redis."""
        client = redis_client(self.alias)
        if client is None:
            return None
        # Taken once: reading it again to report a failure could fail in turn (the cache gone
        # from settings meanwhile) and escape as something other than a PushError.
        name = self.name
        try:
            return int(client.publish(name, message))
        except Exception as error:  # redis-py's errors, whatever the connection class
            raise PushError(f"cannot publish on {name!r}: {error}") from error

    def listen(self) -> Listener | None:
        """Subscribe, or None when the cache is not Redis (the watcher then only polls)."""
        client = redis_client(self.alias)
        if client is None:
            return None
        name = self.name  # taken once, as in publish()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(name)
        except Exception as error:
            pubsub.close()
            raise PushError(f"cannot subscribe to {name!r}: {error}") from error
        return Listener(pubsub)


class Listener:
    """One subscription, owned by the watcher thread."""

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub

    def wait(self, timeout: float) -> bytes | None:
        """Block until a message arrives (its text) or ``timeout`` seconds pass (None)."""
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                # None also comes back early for the subscription's own confirmation.
                message = self._pubsub.get_message(timeout=left)
                if message is not None:
                    data = message["data"]
                    return data if isinstance(data, bytes) else str(data).encode()
        except Exception as error:
            raise PushError(f"lost the subscription: {error}") from error
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the connection is gone: nothing to release
            self._pubsub.close()
