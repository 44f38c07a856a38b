"""Which processes read the runtime store, and which cut-over each has taken up.

Every process notes itself in the store each time it reads it (at most every BEAT seconds,
and at once when the route changes): its name, the cut-over it follows, and which database
each alias's own settings name. ``dbtools cutover`` waits for all of them to follow, and
``dbtools off`` refuses while one does not. A process that stops noting itself for LOST
seconds is taken for gone.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from django.core.cache import caches
from django.db import connections

from dbtools.state import State

BEAT = 5.0
LOST = 20.0
PREFIX = "dbtools:procs"

_last: tuple[float, object, int] = (float("-inf"), None, 0)  # when, route noted, pid
_slot: tuple[int, int] | None = None  # (pid, slot in the cache)


def name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def report(state: State) -> None:
    """Note this process in the store, when due."""
    global _last
    from dbtools import routing
    from dbtools.stores import CacheStore, FileStore, configured_store

    now = time.monotonic()
    noted_at, noted_route, pid = _last
    route = (state.route, state.route_since)
    if pid == os.getpid() and route == noted_route and now - noted_at < BEAT:
        return
    store = configured_store()
    if store is None:
        return
    record = {
        "name": name(),
        "seen": time.time(),
        "route": [list(pair) for pair in state.route],
        "route_since": state.route_since.isoformat() if state.route_since else None,
        "configured": {a: routing.fingerprint(routing.configured(a)) for a in connections.settings},
    }
    try:
        if isinstance(store, CacheStore):
            caches[store.alias].set(_cache_key(store.alias), json.dumps(record), timeout=int(LOST))
        elif isinstance(store, FileStore):
            folder = _folder(store.path)
            folder.mkdir(exist_ok=True)
            path = folder / f"{record['name']}.json"
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(record), encoding="utf-8")
            os.replace(temporary, path)
    except Exception:  # noqa: BLE001 - noting presence must never disturb reading the mode
        return
    if _last[2] != os.getpid():
        atexit.register(_leave, store)
    _last = (now, route, os.getpid())


def _leave(store: object) -> None:
    """At exit: this process is gone, and no cut-over needs to wait for it."""
    from dbtools.stores import CacheStore, FileStore

    try:
        if isinstance(store, CacheStore) and _slot is not None and _slot[0] == os.getpid():
            caches[store.alias].delete(f"{PREFIX}:{_slot[1]}")
        elif isinstance(store, FileStore):
            (_folder(store.path) / f"{name()}.json").unlink(missing_ok=True)
    except Exception:  # noqa: BLE001, S110 - at exit, with the store perhaps gone already
        pass


def _cache_key(alias: str) -> str:
    global _slot
    if _slot is None or _slot[0] != os.getpid():
        cache = caches[alias]
        cache.add(f"{PREFIX}:count", 0, timeout=None)
        _slot = (os.getpid(), int(cache.incr(f"{PREFIX}:count")))
    return f"{PREFIX}:{_slot[1]}"


def _folder(path: Path) -> Path:
    return path.with_name(path.name + ".processes")


def present() -> list[dict[str, Any]]:
    """Every process that noted itself in the last LOST seconds."""
    from dbtools.stores import CacheStore, FileStore, configured_store

    store = configured_store()
    found: list[dict[str, Any]] = []
    if isinstance(store, CacheStore):
        cache = caches[store.alias]
        count = int(cache.get(f"{PREFIX}:count") or 0)
        keys = [f"{PREFIX}:{slot}" for slot in range(1, count + 1)]
        for start in range(0, len(keys), 1000):
            found += [json.loads(v) for v in cache.get_many(keys[start : start + 1000]).values()]
    elif isinstance(store, FileStore):
        folder = _folder(store.path)
        for path in folder.glob("*.json") if folder.exists() else ():
            try:
                found.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # being replaced at this moment
    now = time.time()
    return [p for p in found if now - float(p.get("seen", 0)) < LOST]
