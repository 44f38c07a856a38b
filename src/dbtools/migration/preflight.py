"""What a copy refuses before it writes anything, each with what is wrong and how to fix it."""

from __future__ import annotations

import os
from collections.abc import Sequence

from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from dbtools.current import current_state
from dbtools.migration.tables import Table

# Models whose rows Django's own post_migrate handlers make on every migrated database: a
# copy replaces them by the source's, so that every key (content_type_id first) is the same.
POST_MIGRATE_MODELS = frozenset({"contenttypes.ContentType", "auth.Permission", "sites.Site"})


def check_aliases(source: str, target: str) -> None:
    known = list(connections.settings)
    for alias in (source, target):
        if alias not in connections.settings:
            raise CommandError(f"Unknown database alias {alias!r}: DATABASES has {known}.")
    if _where(source) == _where(target):
        raise CommandError(
            f"--from {source!r} and --to {target!r} are the same database ({_where(source)[1]})."
        )


def _where(alias: str) -> tuple[str, str]:
    settings = connections.settings[alias]
    engine = connections[alias].vendor
    name = str(settings.get("NAME") or "")
    if engine == "sqlite":
        return engine, name if name.startswith(
            ":memory:"
        ) or "mode=memory" in name else os.path.realpath(name)
    host = settings.get("HOST") or "localhost"
    if host in ("127.0.0.1", "::1"):
        host = "localhost"
    return engine, f"{name} on {host}:{settings.get('PORT') or 'default port'}"


def check_migrations(source: str, target: str) -> None:
    """Every migration applied on the source is applied on the target."""
    target_recorder = MigrationRecorder(connections[target])
    if not target_recorder.has_table():
        raise CommandError(
            f"The target {target!r} has no schema: run `python manage.py migrate --database "
            f"{target}` first, before the window (while a mode is on, a guarded alias refuses "
            "Django's own migrate)."
        )
    applied = set(MigrationRecorder(connections[source]).applied_migrations())
    missing = sorted(applied - set(target_recorder.applied_migrations()))
    if missing:
        listed = "\n".join(f"  {app}.{name}" for app, name in missing)
        raise CommandError(
            f"{len(missing)} migration(s) applied on {source!r} are not applied on {target!r}; "
            f"run `python manage.py migrate --database {target}`:\n{listed}"
        )


def occupied(target: str, tables: Sequence[Table]) -> dict[Table, int]:
    """The target's tables that hold rows, and how many."""
    found = {}
    connection = connections[target]
    with connection.cursor() as cursor:
        for table in tables:
            name, _, _ = table.quoted(connection)
            cursor.execute(f"SELECT COUNT(*) FROM {name}")  # noqa: S608 - a quoted table name
            (count,) = cursor.fetchone()
            if count:
                found[table] = int(count)
    return found


def check_target_empty(target: str, held: dict[Table, int]) -> None:
    """Only rows Django's post_migrate made may be there: they are replaced."""
    others = {t: n for t, n in held.items() if t.label not in POST_MIGRATE_MODELS}
    if others:
        listed = "\n".join(f"  {t.name} ({t.label}): {n} row(s)" for t, n in others.items())
        raise CommandError(
            f"The target {target!r} already holds rows other than those Django's post_migrate "
            f"made:\n{listed}\nEmpty them with --truncate (it asks first), or copy into "
            "a freshly migrated database."
        )


def check_source_read_only(source: str) -> None:
    if not current_state().active:
        raise CommandError(
            f"No mode is on: {source!r} is writable, and writes made during the copy would be "
            "missed. Turn a mode on first (`python manage.py dbtools on`, or GET_ONLY_MODE)."
        )
