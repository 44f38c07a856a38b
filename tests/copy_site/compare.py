"""An independent check of a copy: every row of every table, read from both databases through the
drivers (psycopg or psycopg2, MySQLdb, sqlite3), never through Django's ORM.

Each backend stores a value its own way (a boolean as a tinyint, a UUID as 32 hex digits, a
duration as microseconds, a datetime as naive UTC text...). Each value is turned into one
canonical Python value per kind of column (tests/copy_site/tables.py), so that equal means "Django
reads back the same value". Where a backend keeps text that Django itself would never write (a
SQLite datetime with a "T", a UUID with dashes in a char(32)) the value is marked odd rather than
parsed, since lookups on it would go wrong even if it reads back right.

Rows are matched by primary key and sorted in Python: the backends sort text, and MariaDB even
UUIDs, in orders of their own.

    from tests.copy_site.compare import copied_tables, differences
    assert differences("sqlite", path, "postgresql", "dbtools_copy_dst", copied_tables()) == []
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from tests.copy_site.databases import connect, vendor_of
from tests.copy_site.tables import Table, copied_tables

__all__ = ["Odd", "Table", "copied_tables", "differences", "read_table"]

UTC = timezone.utc
Row = tuple[Any, ...]

# What Django writes into SQLite's text columns (str() of a naive UTC datetime, a date, a time).
SQLITE_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?")
SQLITE_DATE = re.compile(r"\d{4}-\d\d-\d\d")
SQLITE_TIME = re.compile(r"\d\d:\d\d:\d\d(\.\d{6})?")
SQLITE_UUID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, order=True)
class Odd:
    """A stored value that is not what Django would have written: it equals no normal value."""

    description: str

    def __repr__(self) -> str:
        return f"<odd {self.description}>"


def odd(vendor: str, value: Any, expected: str) -> Odd:
    return Odd(f"{vendor} {type(value).__name__} {value!r}, not {expected}")


def as_bool(vendor: str, value: Any) -> Any:
    # PostgreSQL has booleans; MariaDB's tinyint(1) and SQLite's integer hold 0 and 1.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return odd(vendor, value, "a boolean")


def as_float(vendor: str, value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return odd(vendor, value, "a number")


def as_decimal(vendor: str, value: Any) -> Any:
    # SQLite gives back an integer or a float (its NUMERIC affinity); compared by value, so
    # 1.5 and 1.500000 are the same decimal.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except ArithmeticError:
            pass
    return odd(vendor, value, "a decimal")


def as_date(vendor: str, value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if vendor == "sqlite" and isinstance(value, str) and SQLITE_DATE.fullmatch(value):
        return date.fromisoformat(value)
    return odd(vendor, value, "a date")


def as_datetime(vendor: str, value: Any) -> Any:
    # PostgreSQL's timestamptz arrives aware (read in UTC); MariaDB's DATETIME and SQLite's
    # text hold UTC without saying so.
    if isinstance(value, datetime):
        if vendor == "postgresql":
            return value.astimezone(UTC) if value.tzinfo else odd(vendor, value, "aware")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else odd(vendor, value, "naive")
    if vendor == "sqlite" and isinstance(value, str) and SQLITE_DATETIME.fullmatch(value):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return odd(vendor, value, "a datetime")


def as_time(vendor: str, value: Any) -> Any:
    if isinstance(value, time):
        return value
    # MySQLdb reads a TIME as a timedelta, since MySQL's TIME also holds durations.
    if isinstance(value, timedelta) and timedelta(0) <= value < timedelta(days=1):
        micro = value // timedelta(microseconds=1)
        seconds, microsecond = divmod(micro, 10**6)
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60, microsecond)
    if vendor == "sqlite" and isinstance(value, str) and SQLITE_TIME.fullmatch(value):
        return time.fromisoformat(value)
    return odd(vendor, value, "a time")


def as_duration(vendor: str, value: Any) -> Any:
    # An interval on PostgreSQL, a bigint of microseconds on MariaDB and SQLite.
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(microseconds=value)
    return odd(vendor, value, "a duration")


def as_uuid(vendor: str, value: Any) -> Any:
    # uuid on PostgreSQL (psycopg2 gives it as text), MariaDB's own uuid type (text with
    # dashes, Django 5+ on MariaDB 10.7+), char(32) on SQLite.
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and (vendor != "sqlite" or SQLITE_UUID.fullmatch(value)):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    return odd(vendor, value, "a UUID")


def as_binary(vendor: str, value: Any) -> Any:
    # bytes, or a memoryview from psycopg2.
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return odd(vendor, value, "bytes")


@dataclass(frozen=True)
class JsonValue:
    """A JSON document, equal to another with the same value, shown as the text stored."""

    text: str = field(compare=False)
    value: Any

    def __repr__(self) -> str:
        return f"JSON {self.text}"


def canonical_json(value: Any) -> Any:
    """A JSON value as nested tuples, objects with their keys sorted, every number a Decimal:
    PostgreSQL's jsonb writes 1.5e3 as 1500, so numbers compare by value. true stays apart
    from 1, which Python's == would not keep."""
    if isinstance(value, dict):
        return ("object", tuple(sorted((key, canonical_json(item)) for key, item in value.items())))
    if isinstance(value, list):
        return ("array", tuple(canonical_json(item) for item in value))
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, Decimal):
        return ("number", value)
    return ("string", value)


def as_json(vendor: str, value: Any) -> Any:
    # Compared by value: jsonb reorders keys and rewrites numbers, text keeps them as written.
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            parsed = json.loads(value, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            pass
        else:
            return JsonValue(value, canonical_json(parsed))
    return odd(vendor, value, "JSON text")


def as_ip(vendor: str, value: Any) -> Any:
    # inet on PostgreSQL (psycopg reads an address object, psycopg2 text), char(39) elsewhere.
    try:
        interface = ipaddress.ip_interface(str(value))
    except ValueError:
        return odd(vendor, value, "an IP address")
    if interface.network.prefixlen == interface.max_prefixlen:
        return interface.ip
    return interface  # a netmask Django never writes: unequal to any plain address


def as_text(vendor: str, value: Any) -> Any:
    return value if isinstance(value, str) else odd(vendor, value, "text")


def as_integer(vendor: str, value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return odd(vendor, value, "an integer")


def as_plain(vendor: str, value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


NORMALISE: dict[str, Callable[[str, Any], Any]] = {
    "bool": as_bool,
    "integer": as_integer,
    "text": as_text,
    "float": as_float,
    "decimal": as_decimal,
    "date": as_date,
    "datetime": as_datetime,
    "time": as_time,
    "duration": as_duration,
    "uuid": as_uuid,
    "binary": as_binary,
    "json": as_json,
    "ip": as_ip,
    "plain": as_plain,
}


def select(vendor: str, table: Table) -> str:
    quote = "`" if vendor == "mariadb" else '"'
    columns = []
    for column, kind in table.columns:
        name = f"{quote}{column}{quote}"
        # jsonb as its text: the drivers would parse it, and read JSON null as SQL NULL.
        columns.append(f"{name}::text" if vendor == "postgresql" and kind == "json" else name)
    return f"SELECT {', '.join(columns)} FROM {quote}{table.name}{quote}"


def read_table(raw: Any, vendor: str, table: Table) -> dict[Row, Row]:
    """Every row of ``table`` through the open driver connection ``raw``, each value made
    canonical, keyed by the primary key's values."""
    vendor = vendor_of(vendor)
    cursor = raw.cursor()
    cursor.execute(select(vendor, table))
    normalisers = [NORMALISE[kind] for _, kind in table.columns]
    positions = [[column for column, _ in table.columns].index(pk) for pk in table.primary_key]
    rows = {}
    for fetched in cursor.fetchall():
        row = tuple(
            None if value is None else normalise(vendor, value)
            for normalise, value in zip(normalisers, fetched, strict=True)
        )
        rows[tuple(row[p] for p in positions)] = row
    return rows


def sort_key(key: Row) -> tuple[tuple[str, Any], ...]:
    # Keys of one table are of one type per column; the type name only keeps odd ones sortable.
    return tuple((type(part).__name__, part) for part in key)


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}... ({len(text)} characters)"


def compare_table(
    table: Table, source: dict[Row, Row], target: dict[Row, Row], limit: int
) -> list[str]:
    found = []
    if len(source) != len(target):
        found.append(f"{table.name}: {len(source)} rows in the source, {len(target)} in the target")
    rows: list[str] = []
    names = [column for column, _ in table.columns]
    for key in sorted(source.keys() | target.keys(), key=sort_key):
        pairs = zip(table.primary_key, key, strict=True)
        where = f"{table.name} {', '.join(f'{column}={shown(v)}' for column, v in pairs)}"
        if key not in target:
            rows.append(f"{where}: missing in the target")
        elif key not in source:
            rows.append(f"{where}: in the target only")
        elif source[key] != target[key]:
            changed = [
                f"{name} {shown(a)} became {shown(b)}"
                for name, a, b in zip(names, source[key], target[key], strict=True)
                if a != b or type(a) is not type(b)
            ]
            rows.append(f"{where}: {'; '.join(changed)}")
    found += rows[:limit]
    if len(rows) > limit:
        found.append(f"{table.name}: and {len(rows) - limit} more rows that differ")
    return found


def first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".strip().splitlines()[0]


def differences(
    source_vendor: str,
    source_name: str,
    target_vendor: str,
    target_name: str,
    tables: Iterable[Table],
    limit: int = 10,
) -> list[str]:
    """What differs between the two databases in ``tables``, one line per difference, at most
    ``limit`` rows per table (then a count): an empty list when every row is equal.

    A vendor is ``sqlite``, ``postgresql`` or ``mariadb``; a name is a SQLite file or a database
    name. Both are opened read-only.
    """
    found: list[str] = []
    with (
        connect(source_vendor, source_name, read_only=True) as source,
        connect(target_vendor, target_name, read_only=True) as target,
    ):
        for table in tables:
            read = {}
            for side, raw, vendor in (
                ("source", source, source_vendor),
                ("target", target, target_vendor),
            ):
                try:
                    read[side] = read_table(raw, vendor, table)
                except Exception as error:  # a missing table or column is a difference
                    found.append(f"{table.name}: cannot be read in the {side}: {first_line(error)}")
            if len(read) == 2:
                found += compare_table(table, read["source"], read["target"], limit)
    return found
