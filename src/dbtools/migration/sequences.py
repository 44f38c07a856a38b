"""Sequences and auto-increment counters past the largest copied key, and the check of it."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections

from dbtools.migration.tables import Table

AUTO_TYPES = frozenset({"AutoField", "BigAutoField", "SmallAutoField"})


def counted(table: Table) -> bool:
    """Whether the table's key comes from a sequence or an auto-increment counter."""
    return table.pk.get_internal_type() in AUTO_TYPES


def reset(alias: str, tables: Sequence[Table]) -> None:
    """Put every counter past its table's largest key.

    Read from the database itself rather than from Django's ``sequence_reset_sql``, which
    misses keys whose sequence it did not name (an identity column made by hand, a table
    renamed since), so every counting table is covered.
    """
    connection = connections[alias]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in filter(counted, tables):
            name, key = quote(table.name), quote(str(table.pk.column))
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [name, table.pk.column])
                (sequence,) = cursor.fetchone()
                if sequence:
                    cursor.execute(
                        f"SELECT setval(%s, COALESCE(MAX({key}), 1), MAX({key}) IS NOT NULL) "  # noqa: S608
                        f"FROM {name}",
                        [sequence],
                    )
            elif connection.vendor == "mysql":
                cursor.execute(f"SELECT COALESCE(MAX({key}), 0) + 1 FROM {name}")  # noqa: S608
                (next_key,) = cursor.fetchone()
                cursor.execute(f"ALTER TABLE {name} AUTO_INCREMENT = {int(next_key)}")
            else:
                cursor.execute(f"SELECT MAX({key}) FROM {name}")  # noqa: S608
                (largest,) = cursor.fetchone()
                if largest is not None:
                    cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table.name])
                    cursor.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                        [table.name, largest],
                    )


def behind(alias: str, tables: Sequence[Table]) -> list[str]:
    """The tables whose next counted key would collide with a row already there."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for table in filter(counted, tables):
            name, key = quote(table.name), quote(str(table.pk.column))
            cursor.execute(f"SELECT MAX({key}) FROM {name}")  # noqa: S608
            (largest,) = cursor.fetchone()
            if largest is None:
                continue
            next_key = _next_key(cursor, connection.vendor, table)
            if next_key is not None and next_key <= largest:
                found.append(f"{table.name}: next key {next_key}, largest key {largest}")
    return found


def _next_key(cursor: object, vendor: str, table: Table) -> int | None:
    run = cursor.execute  # type: ignore[attr-defined]
    fetch = cursor.fetchone  # type: ignore[attr-defined]
    if vendor == "postgresql":
        run("SELECT pg_get_serial_sequence(%s, %s)", [f'"{table.name}"', table.pk.column])
        (sequence,) = fetch()
        if not sequence:
            return None
        run(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608 - from the catalogue
        last, called = fetch()
        return int(last) + 1 if called else int(last)
    if vendor == "mysql":
        run(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            [table.name],
        )
        row = fetch()
        return int(row[0]) if row and row[0] is not None else None
    run("SELECT seq FROM sqlite_sequence WHERE name = %s", [table.name])
    row = fetch()
    return int(row[0]) + 1 if row else 1
