"""The two halves of a comparison at once: the source's here, the target's in a thread.

Each half of a digest is mostly waiting on its own database, so the target's runs in a
thread of its own meanwhile, on a connection of its own that lasts as long as the block.
The source's half stays on the calling thread, which may hold a live sync's snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connections

T = TypeVar("T")


class Sides:
    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool

    def both(
        self, function: Callable[..., T], source_alias: str, target_alias: str, *args: Any
    ) -> tuple[T, T]:
        """``function(alias, *args)`` for the source here and for the target in its thread."""
        theirs = self.pool.submit(function, target_alias, *args)
        try:
            mine = function(source_alias, *args)
        finally:
            wait([theirs])  # no half runs on after the comparison
        return mine, theirs.result()


@contextmanager
def sides() -> Iterator[Sides]:
    with ThreadPoolExecutor(1, thread_name_prefix="dbtools-target") as pool:
        try:
            yield Sides(pool)
        finally:
            pool.submit(connections.close_all).result()
