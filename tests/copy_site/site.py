"""The two-database site for one ordered pair, run through manage.py as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.copy_site import databases
from tests.copy_site.compare import differences
from tests.copy_site.tables import copied_tables

ROOT = Path(__file__).resolve().parent.parent.parent
ROWS = 1500


@dataclass
class Site:
    """The two-database site for one pair, run through manage.py as a user runs it."""

    source: str
    target: str
    folder: Path
    # Each fixture's own databases: a pair's are kept for its module, a test's are its own.
    prefix: str = "dbtools_copy"

    def name(self, role: str) -> str:
        vendor = self.source if role == "source" else self.target
        base = f"{self.prefix}_{'src' if role == 'source' else 'dst'}"
        return str(self.folder / f"{base}.sqlite3") if vendor == "sqlite" else base

    @property
    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if k not in ("READ_ONLY_MODE", "GET_ONLY_MODE")},
            "DJANGO_SETTINGS_MODULE": "tests.copy_site.settings",
            "PYTHONPATH": str(ROOT),
            "COPY_SOURCE": self.source,
            "COPY_TARGET": self.target,
            "COPY_SOURCE_NAME": self.name("source"),
            "COPY_TARGET_NAME": self.name("target"),
            "COPY_STATE_FILE": str(self.folder / "state.json"),
        }

    def manage(
        self, *args: str, env: dict[str, str] | None = None, answer: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """manage.py ``args``; ``answer``: what is typed at its prompts."""
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            env=env or self.env,
            input=answer,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )

    def ok(self, *args: str) -> str:
        done = self.manage(*args)
        assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def prepare(self, rows: int = ROWS) -> str:
        """Both databases made and migrated, the source filled; the session key printed."""
        for role, vendor in (("source", self.source), ("target", self.target)):
            databases.create(vendor, self.name(role))
        self.ok("migrate", "--database", "default", "-v0")
        self.ok("migrate", "--database", "new", "-v0")
        printed = self.ok("populate_copy", "--database", "default", "--rows", str(rows))
        return next(line[8:] for line in printed.splitlines() if line.startswith("session="))

    def differences(self) -> list[str]:
        return differences(
            self.source, self.name("source"), self.target, self.name("target"), copied_tables()
        )

    def on_target(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A process of the site pointed at the target, as after the move."""
        env = {
            **self.env,
            "COPY_SOURCE": self.target,
            "COPY_SOURCE_NAME": self.name("target"),
            "COPY_TARGET": self.source,
            "COPY_TARGET_NAME": self.name("source"),
        }
        return subprocess.run(
            [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
        )

    def drop(self) -> None:
        for role, vendor in (("source", self.source), ("target", self.target)):
            databases.drop(vendor, self.name(role))


def schema(vendor: str, name: str) -> list[tuple[Any, ...]]:
    """A PostgreSQL database's constraints and indexes, by name and definition."""
    with databases.connect(vendor, name) as raw:
        cursor = raw.cursor()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        )
        found = [tuple(row) for row in cursor.fetchall()]
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' ORDER BY 1, 2"
        )
        return found + [tuple(row) for row in cursor.fetchall()]


def run_outside(site: Site, role: str, *statements: str) -> list[tuple[Any, ...]]:
    """Statements run on the source or the target through the driver; the last rows read."""
    vendor = site.source if role == "source" else site.target
    with databases.connect(vendor, site.name(role)) as raw:
        cursor = raw.cursor()
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            cursor.execute(statement)
            if cursor.description:
                rows = [tuple(r) for r in cursor.fetchall()]
        raw.commit()
        return rows
