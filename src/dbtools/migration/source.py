"""Reading a table in primary-key order, a batch at a time, without buffering it whole."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from dbtools.migration import target
from dbtools.migration.tables import Table
from dbtools.migration.values import Reader

Batches = Generator[list[Any], None, None]
IN_CLAUSE = 1000  # keys per query that names them (… IN (…))


def in_clauses(keys: Sequence[Any]) -> Iterator[list[Any]]:
    """``keys`` in order, as many at a time as one query names (``IN_CLAUSE``)."""
    for start in range(0, len(keys), IN_CLAUSE):
        yield list(keys[start : start + IN_CLAUSE])


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
    raw: bool = False,
) -> Batches:
    """The table's rows, converted through their fields, in batches, by ascending key.

    One query, read through a server-side cursor: PostgreSQL's named cursor, mysqlclient's
    streaming cursor (Django's ``.iterator()`` would buffer the whole result there), and
    SQLite's own cursor, which steps through the result as it is fetched. ``after``: only keys
    past it; ``keys``: only keys from the first to before the second; ``pks``: only these.
    ``raw``: the rows as the driver returns them, for a ``transfer.Transfer`` to convert.
    """
    connection = connections[alias]
    reader = Reader(table, connection)
    name, key, columns = table.quoted(connection)
    binary = _binary_columns(alias, table, columns)
    selected = ", ".join(binary or reader.selected(columns))
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
            if binary is None:
                cursor: Any = connection.chunked_cursor()
            else:
                cursor = connection.connection.cursor(f"dbtools_{table.name}", binary=True)
                cursor.itersize = batch_size
            yield from _fetched(cursor, sql, params, reader, batch_size, raw)
        return
    if connection.vendor == "mysql":
        import MySQLdb.cursors  # type: ignore[import-untyped]

        cursor = connection.connection.cursor(MySQLdb.cursors.SSCursor)
    else:
        cursor = connection.cursor()
    yield from _fetched(cursor, sql, params, reader, batch_size, raw)


# PostgreSQL's types that psycopg 3 loads from binary results as Django's own reading of
# them in text would (bool, bytea, the integers, text, float8, varchar, char, date, time,
# timestamptz, interval, numeric, uuid; not float4, whose text is rounded to its digits);
# and those that Django reads as text (json, jsonb, inet, cidr), made text in the query.
# Binary saves the parsing in Python of each value.
BINARY_AS_READ = frozenset({16, 17, 20, 21, 23, 25, 701, 1043, 1042, 1082, 1083, 1184})
BINARY_AS_READ |= {1186, 1700, 2950}
# Each as its output function writes it: an explicit cast of inet to text keeps a host's
# netmask ('1.2.3.4/32'), which abbrev() drops as the output function does.
READ_AS_TEXT = {114: "{}::text", 3802: "{}::text", 869: "abbrev({})", 650: "{}::text"}
TIMESTAMPTZ = 1184


def _binary_columns(alias: str, table: Table, columns: list[str]) -> list[str] | None:
    """The select list for a binary cursor on PostgreSQL through psycopg 3; None: text."""
    connection = connections[alias]
    if connection.vendor != "postgresql" or not target.uses_copy(connection):
        return None
    types = target.column_types(alias, table)
    if not settings.USE_TZ and TIMESTAMPTZ in types:
        return None  # Django reads them naive then; binary would give them a time zone
    if not all(oid in BINARY_AS_READ or oid in READ_AS_TEXT for oid in types):
        return None
    return [
        READ_AS_TEXT[oid].format(column) if oid in READ_AS_TEXT else column
        for column, oid in zip(columns, types, strict=True)
    ]


def _fetched(
    cursor: Any, sql: str, params: list[Any], reader: Reader, batch_size: int, raw: bool
) -> Batches:
    try:
        cursor.execute(sql, params or None)
        while rows := cursor.fetchmany(batch_size):
            yield rows if raw else [reader.read(row) for row in rows]
    finally:
        cursor.close()
