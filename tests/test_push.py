"""A switch stored in Redis is pushed: every process hears it at once, not at its next poll."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.management import CommandError, call_command

from dbtools.current import current_state
from dbtools.signals import mode_changed
from dbtools.state import Mode, State
from dbtools.stores import CACHE_KEY, CacheStore, configured_store, encode
from tests.processes import wait_for
from tests.redis_support import use_private_redis

pytestmark = pytest.mark.django_db

# Far longer than any of these tests waits: a state seen in time was pushed, not polled.
SLOW_POLL = 60


def redis_of(store: CacheStore) -> redis.Redis:
    return redis.Redis.from_url(caches[store.alias]._servers[0])  # type: ignore[attr-defined]


def listeners(store: CacheStore) -> int:
    client = redis_of(store)
    try:
        return int(dict(client.pubsub_numsub(store.channel.name))[store.channel.name.encode()])
    finally:
        client.close()


def publish(store: CacheStore, message: str) -> None:
    """A message on the store's channel, the store itself left as it is."""
    client = redis_of(store)
    try:
        assert client.publish(store.channel.name, message) == 1
    finally:
        client.close()


def listening_store() -> CacheStore:
    """The configured store, once this process's watcher has subscribed to it and read it.

    From then on it reads the store again only when a message comes, or at its next poll.
    """
    store = configured_store()
    assert isinstance(store, CacheStore)
    assert current_state().mode is Mode.OFF  # the watcher starts, reads, then subscribes
    wait_for(lambda: listeners(store) >= 1)
    # The watcher reads the store once more just after subscribing: a message, handled after
    # that read, shows it is done (an explicit off stored, as a state that vanishes while a
    # mode is on is kept).
    store.write(State(mode=Mode.OFF))
    assert modes_taken_up_after_a_message(store, Mode.ANONYMOUS) == [Mode.ANONYMOUS, Mode.OFF]
    return store


def test_a_switch_reaches_this_process_long_before_its_next_poll(
    client, cache_store, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_REFRESH = SLOW_POLL
    store = listening_store()
    assert store.write(State(mode=Mode.GET_ONLY)) == 1  # one process listening: this one
    wait_for(lambda: current_state().mode is Mode.GET_ONLY)
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    store.write(State(mode=Mode.OFF))
    wait_for(lambda: current_state().mode is Mode.OFF)
    assert client.post("/notes/", {"text": "x"}).status_code == 201


def test_the_state_in_a_message_is_taken_up_and_the_store_has_the_last_word(
    cache_store, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_REFRESH = SLOW_POLL
    store = listening_store()
    # A message whose state the store does not hold (a switch overtaken by another).
    assert modes_taken_up_after_a_message(store, Mode.GET_ONLY) == [Mode.GET_ONLY, Mode.OFF]
    assert current_state().mode is Mode.OFF


class ForgetfulRedisCache(RedisCache):
    """Drops writes without a word while ``forgetting``, as django-redis does with
    IGNORE_EXCEPTIONS when a write fails."""

    forgetting = False

    def set(self, *args: object, **kwargs: object) -> None:
        if not ForgetfulRedisCache.forgetting:
            super().set(*args, **kwargs)  # type: ignore[arg-type]


def modes_taken_up_after_a_message(store: CacheStore, mode: Mode) -> list[Mode]:
    """Publishes ``mode`` turned on, which the store does not hold, and returns the modes this
    process takes up until it has handled that message and read the store after it.

    Messages are handled in order, each followed by a read of the store: what any earlier
    message made this process take up is seen first.
    """
    seen: list[Mode] = []

    def record(state: State, **kwargs: object) -> None:
        seen.append(state.mode)

    mode_changed.connect(record)
    try:
        publish(store, encode(State(mode=mode)))
        wait_for(lambda: mode in seen and seen[-1] is not mode)
    finally:
        mode_changed.disconnect(record)
    return seen


def test_off_is_taken_up_from_the_store_never_from_a_message(cache_store, settings, client) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_REFRESH = SLOW_POLL
    store = listening_store()
    store.write(State(mode=Mode.GET_ONLY))
    wait_for(lambda: current_state().mode is Mode.GET_ONLY)
    publish(store, encode(State(mode=Mode.OFF)))  # the store still says GET-only
    assert modes_taken_up_after_a_message(store, Mode.ANONYMOUS) == [Mode.ANONYMOUS, Mode.GET_ONLY]
    assert client.post("/notes/", {"text": "x"}).status_code == 503


def test_a_switch_off_the_cache_drops_fails_and_no_process_turns_off(
    cache_store, settings, client
) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_REFRESH = SLOW_POLL
    settings.CACHES = {
        **settings.CACHES,
        "dbtools": {**settings.CACHES["dbtools"], "BACKEND": f"{__name__}.ForgetfulRedisCache"},
    }
    store = listening_store()
    store.write(State(mode=Mode.GET_ONLY))
    wait_for(lambda: current_state().mode is Mode.GET_ONLY)
    ForgetfulRedisCache.forgetting = True
    try:
        with pytest.raises(CommandError, match="did not keep the new state"):
            call_command("dbtools", "off", stdout=StringIO())
    finally:
        ForgetfulRedisCache.forgetting = False
    # The off was pushed before the write was found dropped: nobody took it up.
    assert modes_taken_up_after_a_message(store, Mode.ANONYMOUS) == [Mode.ANONYMOUS, Mode.GET_ONLY]
    assert client.post("/notes/", {"text": "x"}).status_code == 503


def test_a_message_without_a_state_still_makes_the_process_read_the_store(
    cache_store, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_REFRESH = SLOW_POLL
    store = listening_store()
    caches[store.alias].set(CACHE_KEY, encode(State(mode=Mode.ANONYMOUS)), timeout=None)
    assert current_state().mode is Mode.OFF  # stored, not pushed: nobody knows yet
    publish(store, "1")
    wait_for(lambda: current_state().mode is Mode.ANONYMOUS)


@pytest.mark.parametrize("message", ["[" * 100_000, "{}", "[1]", '{"mode": 3}', "\xff"])
def test_a_message_no_state_can_be_read_from_leaves_the_watcher_listening(
    cache_store, settings, message: str
) -> None:  # type: ignore[no-untyped-def]
    # Anyone who can reach the Redis server can publish on the channel.
    settings.DBTOOLS_REFRESH = SLOW_POLL
    store = listening_store()
    publish(store, message)
    assert modes_taken_up_after_a_message(store, Mode.GET_ONLY) == [Mode.GET_ONLY, Mode.OFF]


def test_the_command_says_how_many_processes_were_told(cache_store, settings) -> None:  # type: ignore[no-untyped-def]
    listening_store()
    out = StringIO()
    call_command("dbtools", "on", stdout=out)
    assert "1 process(es) told at once through Redis" in out.getvalue()


def test_a_cache_that_is_not_redis_is_polled(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "cache"
    settings.DBTOOLS_CACHE = "default"  # LocMemCache: nothing to subscribe to
    settings.DBTOOLS_REFRESH = 0.1
    store = configured_store()
    assert store is not None and store.listen() is None
    assert store.write(State(mode=Mode.ANONYMOUS)) is None
    wait_for(lambda: current_state().mode is Mode.ANONYMOUS)
    out = StringIO()
    call_command("dbtools", "off", stdout=out)
    assert "told at once" not in out.getvalue()
    assert current_state().mode is Mode.OFF


@pytest.mark.django_db(transaction=True)  # reads while on make a test-long transaction read-only
def test_the_subscription_comes_back_after_redis_restarts(settings, private_redis, caplog) -> None:  # type: ignore[no-untyped-def]
    use_private_redis(settings, private_redis.url, refresh=1)
    store = listening_store()
    store.write(State(mode=Mode.GET_ONLY))
    wait_for(lambda: current_state().mode is Mode.GET_ONLY)
    caplog.set_level(logging.ERROR, logger="dbtools")
    private_redis.stop()
    wait_for(lambda: any("Keeping the last known state" in r.getMessage() for r in caplog.records))
    assert current_state().mode is Mode.GET_ONLY
    private_redis.start()  # empty: the state is gone, and the last known one still holds
    wait_for(lambda: listeners(store) >= 1, seconds=5)
    assert current_state().mode is Mode.GET_ONLY
    assert store.write(State(mode=Mode.OFF)) == 1  # heard by the new subscription
    wait_for(lambda: current_state().mode is Mode.OFF)
