"""Reading a table in primary-key order, a batch at a time, without buffering it whole."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from django.db import connections, transaction

from dbtools.migration.tables import Table
from dbtools.migration.values import Reader

Batches = Generator[list[list[Any]], None, None]


def count(alias: str, table: Table) -> int:
    connection = connections[alias]
    name, _, _ = table.quoted(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {name}")  # noqa: S608 - a quoted table name
        return int(cursor.fetchone()[0])


def largest_key(alias: str, table: Table) -> Any:
    connection = connections[alias]
    name, key, _ = table.quoted(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({key}) FROM {name}")  # noqa: S608
        return cursor.fetchone()[0]


def batches(
    alias: str,
    table: Table,
    batch_size: int,
    after: Any = None,
    keys: tuple[int, int] | None = None,
    pks: list[Any] | None = None,
) -> Batches:
    """The table's rows, converted through their fields, in batches, by ascending key.

    One query, read through a server-side cursor: PostgreSQL's named cursor, mysqlclient's
    streaming cursor (Django's ``.iterator()`` would buffer the whole result there), and
    SQLite's own cursor, which steps through the result as it is fetched. ``after``: only keys
    past it; ``keys``: only keys from the first to before the second; ``pks``: only these.
    """
    connection = connections[alias]
    reader = Reader(table, connection)
    name, key, columns = table.quoted(connection)
    selected = ", ".join(columns + reader.extra_columns())
    sql = f"SELECT {selected} FROM {name}"  # noqa: S608 - quoted names only
    params: list[Any] = []
    if after is not None:
        sql += f" WHERE {key} > %s"
        params.append(after)
    elif keys is not None:
        sql += f" WHERE {key} >= %s AND {key} < %s"
        params.extend(keys)
    elif pks is not None:
        sql += f" WHERE {key} IN ({', '.join(['%s'] * len(pks))})"
        params.extend(pks)
    sql += f" ORDER BY {key}"
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        # Inside a transaction a named cursor streams; outside one it would be WITH HOLD,
        # and the server would materialise the whole result before the first row.
        with transaction.atomic(using=alias):
            yield from _fetched(connection.chunked_cursor(), sql, params, reader, batch_size)
        return
    if connection.vendor == "mysql":
        import MySQLdb.cursors  # type: ignore[import-untyped]

        cursor: Any = connection.connection.cursor(MySQLdb.cursors.SSCursor)
    else:
        cursor = connection.cursor()
    yield from _fetched(cursor, sql, params, reader, batch_size)


def _fetched(cursor: Any, sql: str, params: list[Any], reader: Reader, batch_size: int) -> Batches:
    try:
        cursor.execute(sql, params or None)
        while rows := cursor.fetchmany(batch_size):
            yield [reader.read(row) for row in rows]
    finally:
        cursor.close()
