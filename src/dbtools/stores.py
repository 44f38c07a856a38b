"""Where the runtime state lives between processes: settings only, a Django cache, or a file.

Each process keeps its own copy, refreshed by a background thread every ``DBTOOLS_REFRESH``
seconds, and at once when a switch is published on Redis (see ``dbtools.push``), so neither
a request nor a query ever waits on the store.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from dbtools import changes, presence, routing
from dbtools.conf import DEFAULT_REFRESH, conf, valid_refresh, valid_seconds
from dbtools.push import Channel, Listener, PushError
from dbtools.signals import mode_changed
from dbtools.state import OFF, Mode, State

logger = logging.getLogger("dbtools")

CACHE_KEY = "dbtools:state"
WATCHED_SETTINGS = frozenset(
    {"DBTOOLS_STATE", "DBTOOLS_CACHE", "DBTOOLS_STATE_FILE", "DBTOOLS_REFRESH", "CACHES"}
)


class StoreError(Exception):
    """The runtime store could not be read or written, or held something that is not a state."""


class Store(Protocol):
    description: str

    def read(self) -> State | None:
        """The stored state, or None when nothing was ever stored (or it was lost)."""

    def write(self, state: State) -> int | None:
        """Store ``state``; how many processes were told at once, None if none can be."""

    def listen(self) -> Listener | None:
        """A subscription to switches as they happen, None if only polling can tell."""


def encode(state: State) -> str:
    return json.dumps(
        {
            "mode": state.mode.value,
            "message": state.message,
            "retry_after": state.retry_after,
            "since": state.since.isoformat() if state.since else None,
            "until": state.until.isoformat() if state.until else None,
            "set_by": state.set_by,
            "route": [list(pair) for pair in state.route],
            "route_since": state.route_since.isoformat() if state.route_since else None,
        }
    )


def decode(text: object) -> State:
    try:
        data = json.loads(text)  # type: ignore[arg-type]
        retry_after = data["retry_after"]
        if not valid_seconds(retry_after):
            raise ValueError(f"retry_after {retry_after!r}")
        if not isinstance(data["message"], str) or not isinstance(data["set_by"], str):
            raise ValueError("message and set_by must be text")
        return State(
            mode=Mode(data["mode"]),
            message=data["message"],
            retry_after=retry_after,
            since=_moment(data["since"]),
            until=_moment(data["until"]),
            set_by=data["set_by"],
            route=_route(data.get("route", [])),
            route_since=_moment(data.get("route_since")),
        )
    # RecursionError: JSON nested deeper than Python's stack, which anyone who can reach the
    # Redis server can publish on the channel; uncaught, it would end the watcher thread.
    except (TypeError, ValueError, KeyError, RecursionError) as error:
        raise StoreError(f"the store holds something that is not a state: {error}") from error


def _route(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(a, str) for a in pair)
        for pair in value
    ):
        raise ValueError(f"route {value!r}")
    return tuple((str(alias), str(to)) for alias, to in value)


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return moment


class CacheStore:
    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.description = f"cache {alias!r}"
        self.channel = Channel(alias, CACHE_KEY)

    def read(self) -> State | None:
        try:
            value = caches[self.alias].get(CACHE_KEY)
        except Exception as error:  # every cache backend fails in its own way
            raise StoreError(f"cannot read {self.description}: {error}") from error
        return None if value is None else decode(value)

    def write(self, state: State) -> int | None:
        text = encode(state)
        try:
            caches[self.alias].set(CACHE_KEY, text, timeout=None)
        except Exception as error:
            raise StoreError(f"cannot write {self.description}: {error}") from error
        # Pushed before it is read back, a round trip sooner: a process takes up only a
        # mode turned on from the message, and confirms it from the store at once.
        try:
            told = self.channel.publish(text)
        except PushError as error:
            # Stored all the same: every process still sees it at its next poll.
            logger.warning("Switch stored but not pushed: %s", error)
            told = 0
        # Some backends swallow errors (django-redis IGNORE_EXCEPTIONS): read it back.
        if self.read() != state:
            raise StoreError(f"{self.description} did not keep the new state")
        return told

    def listen(self) -> Listener | None:
        return self.channel.listen()


class FileStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.description = f"file {str(self.path)!r}"

    def read(self) -> State | None:
        try:
            # Bytes: text that is not UTF-8 is judged by decode(), as anything else that is
            # not a state, instead of failing here in a way no caller expects.
            content = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read {self.description}: {error}") from error
        return decode(content)

    def write(self, state: State) -> int | None:
        # Written beside the target and renamed over it: a reader sees the old state or
        # the new one, never half of either.
        try:
            fd, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(encode(state))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(temporary, 0o644)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            raise StoreError(f"cannot write {self.description}: {error}") from error
        return None

    def listen(self) -> Listener | None:
        return None


def configured_store() -> Store | None:
    """The store DBTOOLS_STATE names, or None when the state lives in settings only."""
    backend = conf.DBTOOLS_STATE
    if backend == "cache":
        return CacheStore(str(conf.DBTOOLS_CACHE))
    if backend == "file" and conf.DBTOOLS_STATE_FILE:
        return FileStore(str(conf.DBTOOLS_STATE_FILE))
    return None


def refresh_interval() -> float:
    value = conf.DBTOOLS_REFRESH
    if valid_refresh(value):
        return float(value)
    return DEFAULT_REFRESH


class Watcher:
    """This process's copy of the stored state, kept fresh by a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = OFF
        self._started = False
        self._stop = threading.Event()
        self._last_error_at = float("-inf")

    def state(self) -> State:
        if not self._started:
            self._start()
        return self._state

    def reset(self) -> None:
        """Forget the store and stop the thread; the next read starts afresh."""
        with self._lock:
            self._stop.set()
            self._started = False
            self._state = OFF
        changes.note()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._stop.set()
            self._stop = stop = threading.Event()
            store = configured_store()
            interval = refresh_interval()
            if store is not None:
                # The first read is made before any request is served: a process that
                # starts while the site is read-only must not let one write through.
                self._refresh(store, interval, stop)
                threading.Thread(
                    target=self._run,
                    args=(store, interval, stop),
                    name="dbtools-state",
                    daemon=True,
                ).start()
            self._started = True

    def _run(self, store: Store, interval: float, stop: threading.Event) -> None:
        listener: Listener | None = None
        while not stop.is_set():
            try:
                listener = self._watch_once(store, interval, stop, listener)
            except Exception as error:
                # Whatever was not foreseen, the thread goes on: once it ends, this process
                # never sees another switch. It starts again from a new subscription.
                self._report(f"{type(error).__name__}: {error}", interval)
                if listener is not None:
                    listener.close()
                    listener = None
                stop.wait(interval)
        if listener is not None:
            listener.close()

    def _watch_once(
        self, store: Store, interval: float, stop: threading.Event, listener: Listener | None
    ) -> Listener | None:
        """Wait for a message or the interval, then read the store; the listener to go on with."""
        if listener is None and (listener := self._subscribe(store, interval)) is not None:
            # A switch published before this subscription was heard by nobody here.
            self._refresh(store, interval, stop)
        if listener is None:
            stop.wait(interval)
        else:
            try:
                heard = listener.wait(interval)
            except PushError as error:
                self._report(f"{error}; polling every {interval:g}s meanwhile", interval)
                listener.close()
                listener = None
            else:
                if heard is not None:
                    self._take_pushed(heard, stop)
        # After a message too: the store has the last word.
        if not stop.is_set():
            self._refresh(store, interval, stop)
        return listener

    def _subscribe(self, store: Store, interval: float) -> Listener | None:
        try:
            return store.listen()
        except PushError as error:
            self._report(f"{error}; polling every {interval:g}s meanwhile", interval)
            return None

    def _report(self, problem: str, interval: float) -> None:
        # One line per interval at most: a store that is down must not flood the logs.
        now = time.monotonic()
        if now - self._last_error_at >= interval:
            self._last_error_at = now
            logger.error(
                "Keeping the last known state (%s): %s. `manage.py dbtools off` stores an "
                "explicit off.",
                self._state.mode.value,
                problem,
            )

    def _refresh(self, store: Store, interval: float, stop: threading.Event) -> None:
        try:
            state = store.read()
            if state is None and self._state.active:
                # `dbtools off` stores an explicit off: a state that vanishes (a Redis
                # restarted without persistence, a flushed cache) is a fault, and turning
                # writes back on in the middle of a migration is the worst answer to it.
                raise StoreError(f"the state is missing from {store.description}")
        except StoreError as error:
            self._report(str(error), interval)
            return
        self._adopt(state or OFF, stop)

    def _take_pushed(self, message: bytes, stop: threading.Event) -> None:
        # The state comes in the message, which saves waiting for a read of the store, but
        # only toward safety: a mode turned on is taken up at once, off only from the read
        # of the store that follows every message. So a message the store does not back (a
        # switch whose write failed, one overtaken by another) can make this process
        # read-only until that read, and never let a write through. A message that holds
        # no state (a neighbour's, an older version's) is only a nudge.
        try:
            state = decode(message)
        except StoreError:
            return
        if state.active and not state.expired():
            self._adopt(state, stop)

    def _adopt(self, state: State, stop: threading.Event) -> None:
        if state.expired():
            # The window ends by itself; a cut-over made in it does not.
            state = replace(OFF, route=state.route, route_since=state.route_since)
        with self._lock:
            if stop.is_set():
                return  # a reset happened while this read was under way: it is stale
            previous = self._state
            self._state = state
        if state.route != previous.route:
            routing.follow(state)
        presence.report(state)
        if state != previous:
            changes.note()
            # Receivers are the site's own code (a chat message, a metric): one that fails is
            # logged by Django (logger "django.dispatch") and must neither end the watcher
            # thread, leaving this process deaf to every later switch, nor fail the request
            # whose first read this may be.
            mode_changed.send_robust(sender=Watcher, state=state, previous=previous)

    def forget_parent(self) -> None:
        """In a forked child (gunicorn --preload): the parent's thread and lock are not here.

        The child keeps the parent's last known state and starts its own thread on first use.
        """
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._started = False
        # What the parent found (no mode on, a connection with nothing to check) was found
        # with its thread keeping the state fresh: the child works it out again.
        changes.note()


watcher = Watcher()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=watcher.forget_parent)


# The guard asks on every query: the bound method saves a call.
store_state = watcher.state


@receiver(setting_changed)
def _restart_on_setting_change(*, setting: str, **kwargs: object) -> None:
    if setting in WATCHED_SETTINGS:
        watcher.reset()
