"""What the migration commands note for each other in the runtime store, beside the mode.

A copy notes that TARGET holds a copy of SOURCE (so that ``sync`` follows on the right pair),
and a ``sync`` or ``verify`` that found the two identical notes under which mode it did (so
that ``cutover`` knows nothing was written since). Kept in the store rather than in the
target, whose schema stays exactly what ``migrate`` made. With the state in settings only
there is no store: nothing is noted, and the commands say what they could not check.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.cache import caches

from dbtools.stores import CacheStore, FileStore, configured_store


def _key(kind: str, source: str, target: str) -> str:
    return f"dbtools:{kind}:{source}:{target}"


def put(kind: str, source: str, target: str, value: dict[str, Any]) -> bool:
    """Note ``value``; whether there was a store to note it in."""
    store = configured_store()
    text = json.dumps(value)
    if isinstance(store, CacheStore):
        caches[store.alias].set(_key(kind, source, target), text, timeout=None)
        return True
    if isinstance(store, FileStore):
        path = store.path.with_name(f"{store.path.name}.{kind}.{source}.{target}.json")
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
        return True
    return False


def get(kind: str, source: str, target: str) -> dict[str, Any] | None:
    store = configured_store()
    text: Any = None
    if isinstance(store, CacheStore):
        text = caches[store.alias].get(_key(kind, source, target))
    elif isinstance(store, FileStore):
        path = store.path.with_name(f"{store.path.name}.{kind}.{source}.{target}.json")
        text = path.read_text(encoding="utf-8") if path.exists() else None
    if text is None:
        return None
    found: dict[str, Any] = json.loads(text)
    return found


def has_store() -> bool:
    return configured_store() is not None
