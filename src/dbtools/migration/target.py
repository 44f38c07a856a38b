"""Writing to the target: batches in one transaction each, emptying, and foreign keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import IntegrityError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from dbtools.migration.tables import Table

# Where the foreign keys dropped for a copy into PostgreSQL wait, so that an interrupted
# copy (`--resume`) still puts back exactly what it took away. Dropped once they are back.
PENDING_TABLE = "dbtools_copy_pending_constraints"


def uses_copy(connection: BaseDatabaseWrapper) -> bool:
    """Whether rows go in through PostgreSQL's COPY (psycopg 3); else multi-row INSERTs."""
    driver = getattr(connection, "Database", None)
    return connection.vendor == "postgresql" and getattr(driver, "__name__", "") == "psycopg"


def write(
    alias: str,
    table: Table,
    rows: Sequence[Sequence[Any]],
    types: Sequence[int] | None = None,
    durable: bool = True,
) -> None:
    """Insert ``rows`` (already prepared for the target) in one transaction.

    ``types``: for COPY, the type each column's values are sent as (else the column's own).
    ``durable=False``: into PostgreSQL, the commit does not wait for the disk (see copying).
    """
    connection = connections[alias]
    name, _, columns = table.quoted(connection)
    # Django's cursor first: made in this thread's writes_allowed(), it brings the
    # connection's read-only session in line before the driver's own COPY runs.
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if uses_copy(connection):
            # Binary: about half the work of text for psycopg, each value dumped as the
            # column's own type (read from the catalogue once per table).
            sql = f"COPY {name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
            if types is None:  # before the COPY: no query runs during one
                types = column_types(alias, table)
            if not durable:
                cursor.execute("SET LOCAL synchronous_commit = off")
            with cursor.cursor.copy(sql) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        cursor.executemany(sql, rows)


_types: dict[tuple[str, str], dict[str, int]] = {}


def column_types(alias: str, table: Table) -> list[int]:
    """The type of each of the table's fields' columns, in their order (PostgreSQL)."""
    connection = connections[alias]
    key = (connection.settings_dict["NAME"], table.name)
    if key not in _types:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped",
                [connection.ops.quote_name(table.name)],
            )
            _types[key] = {name: int(oid) for name, oid in cursor.fetchall()}
    return [_types[key][str(f.column)] for f in table.fields]


def empty(alias: str, tables: Sequence[Table]) -> None:
    """Delete every row of ``tables``, in one transaction, as Django's flush does."""
    if not tables:
        return
    connection = connections[alias]
    statements = connection.ops.sql_flush(
        no_style(), [t.name for t in tables], reset_sequences=False, allow_cascade=False
    )
    connection.ops.execute_sql_flush(statements)


def analyze(alias: str, tables: Sequence[Table]) -> None:
    """Gather the planner's statistics of ``tables``, which a bulk load leaves as they were
    for the empty tables: the site's first queries on the copy, and sync's, get fit plans."""
    if not tables:
        return
    connection = connections[alias]
    names = ", ".join(connection.ops.quote_name(t.name) for t in tables)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {names}")
        elif connection.vendor == "mysql":
            cursor.execute(f"ANALYZE TABLE {names}")
            cursor.fetchall()  # one row per table: its status
        else:
            cursor.execute("ANALYZE")


def unchecked(alias: str) -> None:
    """Let rows in whatever their foreign keys point at yet, on this thread's connection.

    MySQL/MariaDB and SQLite stop checking for the session (what loaddata does); PostgreSQL
    checks a deferred key at each batch's commit, so its keys are taken off instead, first
    kept in a table of the target (see ``drop_foreign_keys``).
    """
    connection = connections[alias]
    if connection.vendor in ("mysql", "sqlite"):
        connection.disable_constraint_checking()


def drop_foreign_keys(alias: str, tables: Sequence[Table]) -> None:
    """PostgreSQL: keep each foreign key of ``tables`` in PENDING_TABLE, then drop it."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    names = [t.name for t in tables]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {PENDING_TABLE} "
            "(tbl text NOT NULL, name text NOT NULL, definition text NOT NULL, "
            "PRIMARY KEY (tbl, name))"
        )
        cursor.execute(
            f"INSERT INTO {PENDING_TABLE} (tbl, name, definition) "
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace "
            "AND c.relname = ANY(%s) ON CONFLICT DO NOTHING",
            [names],
        )
        cursor.execute(f"SELECT tbl, name FROM {PENDING_TABLE}")
        for table, name in cursor.fetchall():
            quote = connection.ops.quote_name
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT IF EXISTS {quote(name)}")


def check_foreign_keys(alias: str, tables: Sequence[Table], unenforced: bool = False) -> None:
    """Every foreign key of ``tables`` points at a row: else an error naming the first few.
    ``unenforced``: only the keys the database has no constraint for (``db_constraint=False``).
    """
    connection = connections[alias]
    quote = connection.ops.quote_name
    problems: list[str] = []
    with connection.cursor() as cursor:
        for table in tables:
            for field in table.fields:
                if not field.is_relation or field.related_model is None:
                    continue
                if unenforced and getattr(field, "db_constraint", True):
                    continue
                target = field.related_model._meta
                target_column = str(field.target_field.column)  # type: ignore[attr-defined]
                child, parent = quote(str(field.column)), quote(target_column)
                cursor.execute(
                    f"SELECT c.{quote(str(table.pk.column))}, c.{child} "  # noqa: S608
                    f"FROM {quote(table.name)} c LEFT JOIN {quote(target.db_table)} p "
                    f"ON c.{child} = p.{parent} "
                    f"WHERE c.{child} IS NOT NULL AND p.{parent} IS NULL LIMIT 10"
                )
                for pk, value in cursor.fetchall():
                    problems.append(
                        f"{table.name} ({table.label}), primary key {pk!r}: {field.name} = "
                        f"{value!r} has no row in {target.db_table}"
                    )
    if problems:
        raise CommandError(
            "Foreign keys that point at no row on the target:\n  " + "\n  ".join(problems[:20])
        )


def check_written_keys(alias: str, tables: Sequence[Table]) -> None:
    """Within a transaction that wrote rows of ``tables``: every foreign key it touched
    points at a row, else an error naming them (``check_foreign_keys``).

    PostgreSQL, its keys all in place, checks now what it would check at the commit: only
    the rows written and those referring to rows deleted, not every row of every table (and
    then, as every database, the keys it has no constraint for).
    """
    connection = connections[alias]
    if connection.vendor != "postgresql" or _keys_pending(connection):
        check_foreign_keys(alias, tables)
        return
    try:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except IntegrityError as error:
        check_foreign_keys(alias, tables)  # the rows, named
        # Else a row of another table referred to a row deleted.
        raise CommandError(f"A foreign key would point at no row on the target: {error}") from error
    check_foreign_keys(alias, tables, unenforced=True)


def restore_foreign_keys(alias: str, tables: Sequence[Table]) -> int:
    """Check every foreign key of ``tables`` and put back what ``drop_foreign_keys`` took away,
    exactly; how many keys. A key that points at no row is an error naming the first few.
    """
    connection = connections[alias]
    if connection.vendor == "mysql" or connection.vendor == "sqlite":
        check_foreign_keys(alias, tables)
        connection.enable_constraint_checking()
        return 0
    if not _keys_pending(connection):
        check_foreign_keys(alias, tables)
        return 0
    try:
        return _put_back(connection)  # PostgreSQL checks each key as it takes it back
    except IntegrityError:
        check_foreign_keys(alias, tables)  # the rows, named
        raise


def _keys_pending(connection: BaseDatabaseWrapper) -> bool:
    """Whether PostgreSQL keys taken off for a copy (``drop_foreign_keys``) wait to be put back."""
    return PENDING_TABLE in connection.introspection.table_names()


def _put_back(connection: BaseDatabaseWrapper) -> int:
    quote = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # Each key is checked by one join of the two tables: in memory, not in batches on disk.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"SELECT tbl, name, definition FROM {PENDING_TABLE} ORDER BY tbl, name")
        pending = cursor.fetchall()
        for table, name, definition in pending:
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute(f"DROP TABLE {PENDING_TABLE}")
    return len(pending)
