"""The least a Python copy can do: stream each table from the source into PostgreSQL's binary COPY.

    python benchmarks/stream_copy.py --source mysql://root@127.0.0.1:3306/NAME \\
        --target postgresql://postgres@127.0.0.1:5432/NAME TABLE [TABLE ...] [--batch-size N]

No Django: a server-side cursor on the source (mysqlclient's SSCursor, a psycopg named cursor),
every row through Python, written with psycopg 3's ``COPY ... (FORMAT BINARY)`` in one
transaction per table, in the order given (referenced tables first: the target's foreign keys
stay on). The target's tables must exist; the source's columns are read by the target's names.
It converts no more than binary COPY needs: MariaDB's naive UTC datetimes go out as
``timestamp`` (the same bytes as ``timestamptz``), JSON passes through as text, never parsed.
It checks nothing either: the benchmark's floor for moving rows through Python, not a tool.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format

JSONB = 3802
TIMESTAMPTZ, TIMESTAMP = 1184, 1114


class JsonbText(str):
    """Never made: the class the jsonb-from-text dumper is filed under."""


class JsonbTextDumper(Dumper):
    """JSON as jsonb's binary form, never parsed: text gets the version byte, bytes have it."""

    format = Format.BINARY
    oid = JSONB

    def dump(self, obj: str | bytes) -> bytes:
        return obj if isinstance(obj, bytes) else b"\x01" + obj.encode()


class RawBinaryLoader(Loader):
    """A value's binary form as it came (for jsonb: the version byte, then the text)."""

    format = Format.BINARY

    def load(self, data: Any) -> bytes:
        return bytes(data)


def postgres(url: str) -> psycopg.Connection[Any]:
    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or "",
        dbname=parts.path.lstrip("/"),
    )


def target_columns(target: psycopg.Connection[Any], table: str) -> list[tuple[str, int]]:
    found = target.execute(
        "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    ).fetchall()
    return [(name, oid) for name, oid in found]


def mariadb_rows(url: str, table: str, columns: list[str], batch: int) -> Iterator[Sequence[Any]]:
    import MySQLdb
    import MySQLdb.cursors

    parts = urlsplit(url)
    connection = MySQLdb.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
    )
    try:
        cursor = connection.cursor(MySQLdb.cursors.SSCursor)
        quoted = ", ".join(f"`{c}`" for c in columns)
        cursor.execute(f"SELECT {quoted} FROM `{table}` ORDER BY `{columns[0]}`")  # noqa: S608
        while rows := cursor.fetchmany(batch):
            yield from rows
        cursor.close()
    finally:
        connection.close()


def postgres_rows(url: str, table: str, columns: list[str], batch: int) -> Iterator[Sequence[Any]]:
    with postgres(url) as connection:
        # jsonb as it comes, for the target's dumper to send back unparsed.
        connection.adapters.register_loader(JSONB, RawBinaryLoader)
        quoted = ", ".join(f'"{c}"' for c in columns)
        with connection.cursor("stream", binary=True) as cursor:
            cursor.itersize = batch
            cursor.execute(f'SELECT {quoted} FROM "{table}" ORDER BY "{columns[0]}"')  # noqa: S608
            while rows := cursor.fetchmany(batch):
                yield from rows


def copy_table(source: str, target: psycopg.Connection[Any], table: str, batch: int) -> int:
    columns = target_columns(target, table)
    names = [name for name, _ in columns]
    types = [oid for _, oid in columns]
    if source.startswith("mysql"):
        # mysqlclient gives naive datetimes (UTC, as Django stores them): timestamp's dumper
        # writes the same eight bytes timestamptz's would, with no tzinfo to attach.
        types = [TIMESTAMP if oid == TIMESTAMPTZ else oid for oid in types]
        rows = mariadb_rows(source, table, names, batch)
    else:
        rows = postgres_rows(source, table, names, batch)
    count = 0
    quoted = ", ".join(f'"{c}"' for c in names)
    sql = f'COPY "{table}" ({quoted}) FROM STDIN (FORMAT BINARY)'
    with target.cursor() as cursor, cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
            count += 1
    target.commit()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, help="mysql://… or postgresql://…")
    parser.add_argument("--target", required=True, help="postgresql://…")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("tables", nargs="+")
    options = parser.parse_args()
    with postgres(options.target) as target:
        target.adapters.register_dumper(JsonbText, JsonbTextDumper)
        for table in options.tables:
            started = time.monotonic()
            rows = copy_table(options.source, target, table, options.batch_size)
            elapsed = time.monotonic() - started
            print(
                f"{table}: {rows} rows in {elapsed:.2f} s, {rows / max(elapsed, 1e-9):.0f} rows/s"
            )


if __name__ == "__main__":
    main()
