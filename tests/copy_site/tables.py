"""Which tables a copy of the two-database site must cover, with each column's kind of value.

The list is computed from Django's app registry, never written out by hand, so a model added to
tests/copyapp/ is compared without anyone remembering to. A process whose settings are not the
copy site's (the test suite runs with tests/settings.py) gets the same list from a short
``python -m tests.copy_site.tables`` of its own, which prints it as JSON.

Only names and types come from Django here: the values are read by tests/copy_site/compare.py
through the drivers, so a mistake in Django's conversions cannot hide one in the copy.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
SETTINGS = "tests.copy_site.settings"

# Django's internal type -> how compare.py reads the value. Relations take their target's kind.
KINDS = {
    "AutoField": "integer",
    "BigAutoField": "integer",
    "SmallAutoField": "integer",
    "IntegerField": "integer",
    "BigIntegerField": "integer",
    "SmallIntegerField": "integer",
    "PositiveIntegerField": "integer",
    "PositiveBigIntegerField": "integer",
    "PositiveSmallIntegerField": "integer",
    "BooleanField": "bool",
    "CharField": "text",
    "TextField": "text",
    "SlugField": "text",
    "EmailField": "text",
    "URLField": "text",
    "FileField": "text",
    "ImageField": "text",
    "FilePathField": "text",
    "FloatField": "float",
    "DecimalField": "decimal",
    "DateField": "date",
    "DateTimeField": "datetime",
    "TimeField": "time",
    "DurationField": "duration",
    "UUIDField": "uuid",
    "BinaryField": "binary",
    "JSONField": "json",
    "GenericIPAddressField": "ip",
}


@dataclass(frozen=True)
class Table:
    """A table to compare: its name, its primary key's columns, and ``(column, kind)`` pairs."""

    name: str
    primary_key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "primary_key": self.primary_key, "columns": self.columns}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        return cls(
            name=data["name"],
            primary_key=tuple(data["primary_key"]),
            columns=tuple((column, kind) for column, kind in data["columns"]),
        )


def kind_of(field: Any) -> str:
    """How a column's values are compared; ``plain`` (as the driver returns them) if unknown."""
    while field.is_relation:
        field = field.target_field
    return KINDS.get(field.get_internal_type(), "plain")


def column_of(field: Any) -> str:
    column = field.column
    assert isinstance(column, str), f"{field} has no column"  # concrete fields all have one
    return column


def tables_from_registry() -> list[Table]:
    """Every table of a concrete, managed model of this process's apps, auto-created
    many-to-many tables included, sorted by name. Needs Django set up.

    django_migrations is no model's table, so it is never listed: each database keeps its own.
    """
    from django.apps import apps

    tables = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.swapped:
            continue
        tables.append(
            Table(
                name=meta.db_table,
                primary_key=tuple(column_of(field) for field in meta.pk_fields),
                columns=tuple(
                    (column_of(field), kind_of(field)) for field in meta.local_concrete_fields
                ),
            )
        )
    return sorted(tables, key=lambda table: table.name)


def _in_copy_site() -> bool:
    from django.apps import apps
    from django.conf import settings

    return settings.configured and apps.ready and settings.SETTINGS_MODULE == SETTINGS


@functools.cache
def _from_a_copy_site_process() -> tuple[Table, ...]:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "tests.copy_site.tables"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if run.returncode:
        raise RuntimeError(f"python -m tests.copy_site.tables failed:\n{run.stderr}")
    return tuple(Table.from_json(table) for table in json.loads(run.stdout))


def copied_tables() -> list[Table]:
    """The tables a copy of the two-database site covers: from this process's registry when it
    runs the copy site's settings, else from a process of its own."""
    if _in_copy_site():
        return tables_from_registry()
    return list(_from_a_copy_site_process())


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps([table.to_json() for table in tables_from_registry()]))
