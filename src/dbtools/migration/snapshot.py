"""One consistent view of a live source, for a copy or a sync while the site is writable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, transaction

from dbtools.state import utcnow


@dataclass(frozen=True)
class Snapshot:
    alias: str
    vendor: str
    taken_at: datetime
    exported: str | None  # PostgreSQL's exported snapshot, which other connections can join

    @property
    def shareable(self) -> bool:
        """Whether connections of other threads can read the same snapshot."""
        return self.exported is not None

    def describe(self) -> str:
        how = {
            "postgresql": "a REPEATABLE READ READ ONLY transaction"
            + (", its snapshot exported to every job" if self.exported else ""),
            "mysql": "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            "sqlite": "one read transaction",
        }[self.vendor]
        taken = f"{self.taken_at:%H:%M:%S} UTC"
        return f"one consistent snapshot of {self.alias!r}, taken at {taken} ({how})"


@contextmanager
def consistent(alias: str) -> Iterator[Snapshot]:
    """Hold one snapshot of ``alias`` on this thread's connection while the block runs.

    Every read this thread makes on ``alias`` inside the block sees the database as it was
    when the block began, whatever is written meanwhile. SQLite's read transaction makes
    writers wait in rollback-journal mode (not in WAL mode).
    """
    connection = connections[alias]
    vendor = connection.vendor
    exported = None
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            exported = str(cursor.fetchone()[0])
        elif vendor == "mysql":
            # Django opens MySQL sessions in READ COMMITTED, where each statement sees the
            # latest rows: the snapshot holds only in REPEATABLE READ.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        else:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master")  # the read begins here
        yield Snapshot(alias, vendor, utcnow(), exported)


@contextmanager
def joined(snapshot: Snapshot) -> Iterator[None]:
    """In a job thread: read ``snapshot`` (PostgreSQL's exported one) on its own connection."""
    with transaction.atomic(using=snapshot.alias), connections[snapshot.alias].cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot.exported])
        yield
