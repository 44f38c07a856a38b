"""Digests of a table's rows, chunk by chunk of integer keys, computed where the rows are.

Each database turns every row into one canonical text (the same bytes on PostgreSQL,
MySQL/MariaDB and SQLite for the same values: integers and decimals as digits, booleans as
0 or 1, datetimes in UTC to the microsecond, UUIDs as 32 hex digits, durations in
microseconds, binary in hex, each text after its length) and digests each chunk's rows the
way the two databases of the pair compute for the least (``method``), so that only a count
and a number per chunk cross the network. A column no database spells the same way
(floats, JSON, IP addresses, and on SQLite decimals and times) is read instead, through its
field, and digested here. Chunks that differ are then compared row by row.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from dbtools.migration import source
from dbtools.migration.tables import INTEGER_KEYS, Field, Table, stored_kind
from dbtools.migration.values import Reader

CHUNK = 10_000  # keys per chunk
PART = 100  # keys per part, sync's unit
SPAN = 10_000_000  # keys whose parts sync reads at once
Chunks = dict[int, tuple[int, int]]  # chunk -> (rows, sum of the rows' digests)

TEXTS = frozenset(
    {"CharField", "TextField", "SlugField", "EmailField", "URLField", "FileField", "FilePathField"}
)

# kind -> vendor -> SQL template of the value's canonical text ({} is the quoted column).
CANONICAL: dict[str, dict[str, str]] = {
    "integer": {
        "postgresql": "{}::text",
        "mysql": "{}",  # CONCAT writes a number as CAST(… AS CHAR) does, for less
        "sqlite": "CAST({} AS TEXT)",
    },
    "boolean": {
        "postgresql": "{}::int::text",  # NULL stays NULL
        "mysql": "{}",
        "sqlite": "CAST({} AS TEXT)",
    },
    "text": {"postgresql": "{}", "mysql": "{}", "sqlite": "{}"},
    # The column's own scale on both: numeric(20, 6) and decimal(20, 6) write six places.
    "decimal": {"postgresql": "{}::text", "mysql": "CAST({} AS CHAR)"},
    "date": {
        "postgresql": "to_char({}, 'YYYY-MM-DD')",
        "mysql": "DATE_FORMAT({}, '%%Y-%%m-%%d')",
        "sqlite": "{}",
    },
    # Microseconds since 2000-01-01 in UTC: cheaper to write than the date's text.
    "datetime": {
        "postgresql": (
            "(EXTRACT(EPOCH FROM {} - TIMESTAMPTZ '2000-01-01 00:00:00+00') * 1000000)"
            "::bigint::text"
        ),
        # A date no other database holds (a zero date, a day past the month's end, which
        # TIMESTAMPDIFF would roll over into the next month) as its text.
        "mysql": "CASE WHEN {0} + INTERVAL 0 DAY IS NULL THEN CAST({0} AS CHAR)"
        " ELSE TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'2000-01-01 00:00:00', {0}) END",
        # Django writes the microseconds, six digits, only when there are some; strftime
        # would round them into the seconds, so it reads the first 19 characters only. Any
        # other shape (an offset, say) stays as written, and so differs from the other side.
        "sqlite": (
            "CASE WHEN length({0}) = 19 OR (length({0}) = 26 AND substr({0}, 20, 1) = '.'"
            " AND substr({0}, 21) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]') THEN"
            " CAST((CAST(strftime('%%s', substr({0}, 1, 19)) AS INTEGER) - 946684800) * 1000000"
            " + CAST(substr({0} || '000000', 21, 6) AS INTEGER) AS TEXT) ELSE {0} END"
        ),
    },
    "time": {
        "postgresql": "to_char(DATE '2000-01-01' + {}, 'HH24:MI:SS.US')",
        "mysql": "TIME_FORMAT({}, '%%H:%%i:%%s.%%f')",
        "sqlite": "CASE WHEN length({0}) = 8 THEN {0} || '.000000' ELSE {0} END",
    },
    "uuid": {
        "postgresql": "replace({}::text, '-', '')",
        "mysql": "LOWER(REPLACE(CAST({} AS CHAR), '-', ''))",
        "sqlite": "LOWER({})",
    },
    "duration": {
        "postgresql": "(EXTRACT(EPOCH FROM {}) * 1000000)::bigint::text",
        "mysql": "CAST({} AS CHAR)",
        "sqlite": "CAST({} AS TEXT)",
    },
    "binary": {
        "postgresql": "encode({}, 'hex')",
        "mysql": "LOWER(HEX({}))",
        "sqlite": "CASE WHEN {0} IS NULL THEN NULL ELSE LOWER(HEX({0})) END",  # HEX(NULL) is ''
    },
}
# How the two databases of a pair digest a table's rows (``method``).
HASHTEXT = "hashtext"  # two PostgreSQL databases: each row's 64-bit hashtextextended, summed
CONCAT = "concat"  # MySQL/MariaDB and PostgreSQL, short rows: one MD5 per chunk (rows: SHA-224)
SHA224 = "sha224"  # MySQL/MariaDB and no SQLite: 40 bits of each row's SHA-224, summed
MD5 = "md5"  # the rest: 40 bits of each row's MD5, summed
# 40 bits of a row's hash, as an integer, summed per chunk: a chunk's sum stays within a
# 64-bit integer, which is all SQLite's SUM takes. MySQL's MD5 costs it twice its SHA-224,
# PostgreSQL's about the same.
ROW_DIGEST = {
    MD5: {
        "postgresql": "('x' || substr(md5(convert_to({}, 'UTF8')), 1, 10))::bit(40)::bigint",
        "mysql": "CAST(CONV(SUBSTRING(MD5({}), 1, 10), 16, 10) AS UNSIGNED)",
        "sqlite": "dbtools_md5_40({})",
    },
    SHA224: {
        "postgresql": (
            "('x' || left(encode(sha224(convert_to({}, 'UTF8')), 'hex'), 10))::bit(40)::bigint"
        ),
        "mysql": "CAST(CONV(SUBSTRING(SHA2({}, 224), 1, 10), 16, 10) AS UNSIGNED)",
    },
}
# PostgreSQL sets its MD5 up anew on each call, which costs it more than reading a short
# row; hashtextextended costs a tenth of that. It is internal, not promised to stay the same
# from one major version to the next (though hash partitions rely on it), so two servers
# must agree on a sample first. "C": bytes, whatever collation the columns have.
HASHTEXT_DIGEST = 'hashtextextended(({}) COLLATE "C", 0)'
# Not ASCII: two servers of different encodings hash its bytes apart.
HASHTEXT_SAMPLE = "SELECT " + HASHTEXT_DIGEST.format("'dbtools|9:échantillon|n'")
# A chunk's rows, one after the other, hashed once. PostgreSQL orders them itself; MySQL
# reads InnoDB's rows along the key, in its order, and ordering them again would cost it a
# third more. Rows in another order only make the chunk differ, to be compared row by row;
# they never make two chunks match.
CHUNK_DIGEST = {
    "postgresql": "md5(convert_to(string_agg({row}, '/' ORDER BY {key}), 'UTF8'))",
    "mysql": "MD5(GROUP_CONCAT({row} SEPARATOR '/'))",
}
# Characters of text a row may hold for its chunk to be hashed whole: past that, copying
# and ordering the chunk's text costs PostgreSQL more than an MD5 of each row.
SHORT_ROW = 1000
FRAMED = {  # a text after its length in bytes, so that a '|' or '/' in it stays in it
    "postgresql": "octet_length({0})::text || ':' || {0}",
    "mysql": "CONCAT(LENGTH({0}), ':', {0})",
    "sqlite": "length(CAST({0} AS BLOB)) || ':' || {0}",
}


# Before each row's text in its own digest: 40 bits of a hash are few enough for two texts
# to be found that digest alike, but not for a salt drawn anew for each run.
SALT = secrets.token_hex(8)


def method(table: Table, connections_: tuple[BaseDatabaseWrapper, BaseDatabaseWrapper]) -> str:
    """How the two databases digest ``table``'s rows alike, as cheaply as they both can."""
    vendors = {c.vendor for c in connections_}
    if vendors == {"postgresql"} and len({_sample(c.alias) for c in connections_}) == 1:
        return HASHTEXT
    if vendors == {"postgresql", "mysql"} and _short_rows(table):
        return CONCAT
    if "mysql" in vendors and "sqlite" not in vendors:
        return SHA224
    return MD5


@functools.cache
def _sample(alias: str) -> int:
    """The server's hash of the sample: the same for every table, so asked once."""
    with connections[alias].cursor() as cursor:
        cursor.execute(HASHTEXT_SAMPLE)
        return int(cursor.fetchone()[0])


def _short_rows(table: Table) -> bool:
    """Whether every row's texts are short: no column of unbounded size (TextField,
    JSONField, BinaryField), and CharFields of few characters."""
    characters = 0
    for field in table.fields:
        if kind(field) == "text":
            length = getattr(field, "max_length", None)
            if length is None:
                return False
            characters += int(length)
        elif kind(field) in ("", "binary"):
            return False
    return characters <= SHORT_ROW


def kind(field: Field) -> str:
    internal = stored_kind(field)
    if internal in INTEGER_KEYS:
        return "integer"
    if internal in TEXTS:
        return "text"
    return {
        "BooleanField": "boolean",
        "DecimalField": "decimal",
        "DateField": "date",
        "DateTimeField": "datetime",
        "TimeField": "time",
        "UUIDField": "uuid",
        "DurationField": "duration",
        "BinaryField": "binary",
    }.get(internal, "")


def split(
    table: Table, connections_: tuple[BaseDatabaseWrapper, BaseDatabaseWrapper]
) -> tuple[list[Field], list[Field]]:
    """The fields both databases can spell canonically, and those read and digested here."""
    in_database: list[Field] = []
    here: list[Field] = []
    for field in table.fields:
        templates = CANONICAL.get(kind(field), {})
        # MySQL keeps a datetime as its connection's zone wrote it: UTC unless told otherwise.
        in_utc = kind(field) != "datetime" or (
            settings.USE_TZ and all(c.timezone_name == "UTC" for c in connections_)
        )
        # Two databases of one engine write any value alike, as text.
        same = connections_[0].vendor == connections_[1].vendor
        if (same or all(c.vendor in templates for c in connections_)) and in_utc:
            in_database.append(field)
        else:
            here.append(field)
    return in_database, here


def alike_as_written(here: list[Field]) -> list[Field]:
    """Of the columns read and digested here, those that are the same value wherever the two
    databases write them alike as text: JSON (MySQL and SQLite keep the text as written,
    jsonb writes its own). Not floats (SQLite writes 15 digits), nor datetimes kept in another
    zone than UTC."""
    return [f for f in here if stored_kind(f) == "JSONField"]


# A value as its database writes it as text: for two databases of the same engine.
AS_TEXT = {
    "postgresql": "{}::text",
    "mysql": "{}",  # CONCAT writes it as text
    "sqlite": "CAST({} AS TEXT)",
}
# MySQL hashes a text in its column's character set: in UTF-8, as the others, if the column
# is kept in another (converting every column would cost it as much again).
TO_UTF8 = "CONVERT({} USING utf8mb4)"
# A float, every bit of it, for two databases of the same engine: as text, SQLite writes
# 15 digits and PostgreSQL as many as extra_float_digits says.
FLOAT = {
    "postgresql": "encode(float8send({}), 'hex')",
    "mysql": "CAST({} AS CHAR)",  # 17 digits
    "sqlite": (
        "CASE WHEN typeof({0}) = 'real' THEN printf('%%!.17g', {0}) ELSE CAST({0} AS TEXT) END"
    ),
}


def _template(connection: BaseDatabaseWrapper, field: Field) -> str:
    vendor = connection.vendor
    if stored_kind(field) == "FloatField":
        return FLOAT[vendor]
    template = CANONICAL.get(kind(field), {}).get(vendor) or AS_TEXT[vendor]
    if vendor == "mysql" and kind(field) in ("text", ""):
        in_utf8 = _utf8_columns(connection.alias, str(field.model._meta.db_table))
        if field.column not in in_utf8:
            return TO_UTF8
    return template


@functools.cache
def _utf8_columns(alias: str, table: str) -> frozenset[str]:
    """A MySQL table's columns kept in UTF-8."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME = %s AND CHARACTER_SET_NAME IN ('utf8mb4', 'utf8mb3', 'utf8')",
            [table],
        )
        return frozenset(str(name) for (name,) in cursor.fetchall())


def _row_text(
    connection: BaseDatabaseWrapper, fields: list[Field], salted: bool = False, of: str = ""
) -> str:
    """SQL of one row's canonical text, made of ``fields``; ``salted``: after this run's
    ``SALT``, for a digest of the row alone; ``of``: the quoted table its columns are of, in
    a query that reads another."""
    vendor = connection.vendor
    quote = connection.ops.quote_name
    head = [f"'{SALT}'"] if salted else []
    values = []
    for field in fields:
        column = quote(str(field.column))
        value = _template(connection, field).format(f"{of}.{column}" if of else column)
        if kind(field) in ("text", ""):  # the only spellings that may hold '|' or '/'
            value = FRAMED[vendor].format(value)
        values.append((value, field.null))
    # NULL as 'n', which no value is spelled as (a text begins with its length). A NULL in a
    # column the model says is never NULL would make the row's text NULL, and the row would
    # count without being digested: such a row is written again with every NULL as 'n'
    # (COALESCE reads its second text only then, which saves PostgreSQL a tenth).
    safe = [f"COALESCE({value}, 'n')" for value, _ in values]
    row = _joined(
        vendor, head + [s if null else v for s, (v, null) in zip(safe, values, strict=True)]
    )
    if all(null for _, null in values):
        return row
    return f"COALESCE({row}, {_joined(vendor, head + safe)})"


def _joined(vendor: str, parts: list[str]) -> str:
    if not parts:
        return "''"
    if vendor == "mysql":
        return "CONCAT(" + ", '|', ".join(parts) + ")"
    return " || '|' || ".join(parts)


def _row_digest(
    connection: BaseDatabaseWrapper, method_: str, fields: list[Field], of: str = ""
) -> str:
    """SQL of one row's digest, an integer (``of``: as ``_row_text``)."""
    row = _row_text(connection, fields, salted=True, of=of)
    if method_ == HASHTEXT:
        return HASHTEXT_DIGEST.format(row)
    return ROW_DIGEST[SHA224 if method_ == CONCAT else method_][connection.vendor].format(row)


def chunks(
    alias: str,
    table: Table,
    method_: str,
    in_database: list[Field],
    here: list[Field],
    low: int,
    size: int = CHUNK,
    keys: tuple[int, int] | None = None,
) -> dict[int, tuple[int, int, int]]:
    """Per chunk: rows, digest of the columns the database spells, digest of the rest."""
    computed = chunks_in_database(alias, table, method_, in_database, low, size, keys)
    read = chunks_here(alias, table, here, low, size, keys)
    return {c: (rows, digest, read.get(c, (0, 0))[1]) for c, (rows, digest) in computed.items()}


def rows(
    alias: str,
    table: Table,
    method_: str,
    in_database: list[Field],
    here: list[Field],
    keys: tuple[int, int],
    pks: Sequence[int] | None = None,
) -> dict[int, tuple[int, int]]:
    """Per key from ``keys[0]`` to before ``keys[1]`` (of those, only ``pks`` if given): the
    row's two digests, as ``chunks``."""
    computed = rows_in_database(alias, table, method_, in_database, keys, pks)
    read = rows_here(alias, table, here, keys, pks)
    return {k: (d, read.get(k, 0)) for k, d in computed.items()}


def chunks_in_database(
    alias: str,
    table: Table,
    method_: str,
    fields: list[Field],
    low: int,
    size: int = CHUNK,
    keys: tuple[int, int] | None = None,
) -> Chunks:
    """Rows and digest of each chunk of ``size`` keys from ``low``, computed by the database
    (only the keys from ``keys[0]`` to before ``keys[1]``, if given). No ``fields``: the rows
    only, read from the key's index, and a digest of 0."""
    connection = connections[alias]
    vendor = connection.vendor
    quote = connection.ops.quote_name
    key = quote(str(table.pk.column))
    if not fields:
        digest = "0"
    elif method_ == CONCAT:
        row = _row_text(connection, fields)
        digest = CHUNK_DIGEST[vendor].format(row=row, key=key)
    else:
        digest = f"SUM({_row_digest(connection, method_, fields)})"
    name = quote(table.name)
    if vendor == "mysql" and keys is None:
        with _digesting(connection):
            return _chunk_by_chunk(connection, name, key, digest, low, size)
    chunk = _chunk_of(connection, key, size)
    within = f" WHERE {key} >= %s AND {key} < %s" if keys else ""
    sql = f"SELECT {chunk}, COUNT(*), {digest} FROM {name}{within} GROUP BY 1"  # noqa: S608
    if vendor == "sqlite":
        _define_md5_40(connection)
    with _digesting(connection), connection.cursor() as cursor:
        cursor.execute(sql, [low, *(keys or ())])
        return {int(c): (int(n), _number(d)) for c, n, d in cursor.fetchall()}


# Each database set for digest queries: PostgreSQL's hash of a span's parts spills to disk
# within the default 4 MB of work_mem, taking twice as long, and its JIT compiler takes
# longer to compile a query that digests a few parts' rows than to run it; MySQL's
# GROUP_CONCAT would cut a chunk's text short at its default of 1,024 bytes. PostgreSQL's
# settings last as long as the transaction only: through a pooler, a session's settings
# would stay with the server connection for its next client.
FOR_DIGESTS = {
    "postgresql": "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off",
    "mysql": f"SET SESSION group_concat_max_len = {2**30}",
}


@contextlib.contextmanager
def _digesting(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """A block of digest queries on ``connection``, set for them (``FOR_DIGESTS``)."""
    within = (
        transaction.atomic(using=connection.alias)
        if connection.vendor == "postgresql"
        else contextlib.nullcontext()
    )
    with within:
        if connection.vendor in FOR_DIGESTS:
            with connection.cursor() as cursor:
                cursor.execute(FOR_DIGESTS[connection.vendor])
        yield


def _chunk_by_chunk(
    connection: BaseDatabaseWrapper, name: str, key: str, digest: str, low: int, size: int
) -> Chunks:
    """MySQL/MariaDB groups rows by an expression in a temporary table, row by row: over a
    whole table, one query per chunk instead, read along the key's index, each also finding
    the next key there is (so a stretch of keys with no row costs no query)."""
    found: Chunks = {}
    start: int | None = low
    sql = (
        f"SELECT COUNT(*), {digest}, (SELECT MIN({key}) FROM {name} WHERE {key} >= %s) "  # noqa: S608
        f"FROM {name} WHERE {key} >= %s AND {key} < %s"
    )
    with connection.cursor() as cursor:
        while start is not None:
            chunk = (int(start) - low) // size
            first, after = low + chunk * size, low + (chunk + 1) * size
            cursor.execute(sql, [after, first, after])
            rows, total, start = cursor.fetchone()
            if rows:
                found[chunk] = (int(rows), _number(total))
    return found


def _number(digest: Any) -> int:
    """A chunk's digest as an integer: a sum, or an MD5's hex digits (NULL: no row)."""
    if digest is None:
        return 0
    return int(digest, 16) if isinstance(digest, str) else int(digest)


def chunks_here(
    alias: str,
    table: Table,
    fields: list[Field],
    low: int,
    size: int = CHUNK,
    keys: tuple[int, int] | None = None,
) -> Chunks:
    """The same for ``fields`` read through their fields, digested in this process."""
    found: dict[int, tuple[int, int]] = {}
    for pk, digest in _read_and_digested(alias, table, fields, keys):
        chunk = (pk - low) // size
        rows, total = found.get(chunk, (0, 0))
        found[chunk] = (rows + 1, total + digest)
    return found


def rows_in_database(
    alias: str,
    table: Table,
    method_: str,
    fields: list[Field],
    keys: tuple[int, int],
    pks: Sequence[int] | None = None,
    ranges: Sequence[tuple[int, int]] | None = None,
) -> dict[int, int]:
    """Each row's digest, by key, for the keys from ``keys[0]`` to before ``keys[1]``; of
    those, only ``pks`` if given, or else only those within ``ranges`` (each from its first
    key to before its second) if given."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    name = quote(table.name)
    key = f"{name}.{quote(str(table.pk.column))}"
    row = _row_digest(connection, method_, fields, of=name)
    sql = f"SELECT {key}, {row} FROM {name} WHERE {key} >= %s AND {key} < %s"  # noqa: S608
    params: list[Any] = list(keys)
    if ranges is not None:
        # Each range read along the key's index: a filter on the keys' parts would read
        # every row between the first range and the last.
        constants = _constants(connection, ranges)
        join = "STRAIGHT_JOIN" if connection.vendor == "mysql" else "JOIN"
        sql = (
            f"WITH dbtools_ranges (dbtools_from, dbtools_last) AS ({constants})"  # noqa: S608
            f" SELECT {key}, {row} FROM dbtools_ranges {join} {name}"
            f" ON {key} >= dbtools_ranges.dbtools_from AND {key} <= dbtools_ranges.dbtools_last"
        )
        params = []
    if connection.vendor == "sqlite":
        _define_md5_40(connection)
    found: dict[int, int] = {}
    with _digesting(connection), connection.cursor() as cursor:
        for named in _slices(pks):
            within = "" if named is None else f" AND {key} IN ({', '.join(['%s'] * len(named))})"
            cursor.execute(sql + within, [*params, *(named or ())])
            found.update((int(k), int(d)) for k, d in cursor.fetchall())
    return found


def _constants(connection: BaseDatabaseWrapper, ranges: Sequence[tuple[int, int]]) -> str:
    """SQL of a table of each range's first and last keys (MySQL has no VALUES list that
    MariaDB also reads). The last key, not the one after it: past a signed 64-bit integer,
    PostgreSQL would compare every key as a numeric, with no index."""
    signed = connection.vendor != "mysql"  # MySQL's keys may be unsigned
    bounds = [(int(a), min(int(b) - 1, 2**63 - 1) if signed else int(b) - 1) for a, b in ranges]
    if connection.vendor == "mysql":
        return " UNION ALL ".join(f"SELECT {a}, {last}" for a, last in bounds)
    return "VALUES " + ", ".join(f"({a}, {last})" for a, last in bounds)


def _chunk_of(connection: BaseDatabaseWrapper, key: str, size: int) -> str:
    """SQL of a row's chunk number (its first %s is the lowest key)."""
    if connection.vendor == "mysql":
        return f"(({key} - %s) DIV {size})"  # '/' would make a decimal of each key
    return f"(({key} - %s) / {size})"  # integers, none below the lowest: rounded down


def rows_here(
    alias: str,
    table: Table,
    fields: list[Field],
    keys: tuple[int, int],
    pks: Sequence[int] | None = None,
) -> dict[int, int]:
    """The same for ``fields`` read through their fields, digested in this process."""
    found: dict[int, int] = {}
    for named in _slices(pks):
        found.update(_read_and_digested(alias, table, fields, keys, named))
    return found


def _slices(pks: Sequence[int] | None) -> Iterator[list[int] | None]:
    """``pks`` a query's worth at a time; None: once, for every key."""
    if pks is None:
        yield None
        return
    yield from source.in_clauses(pks)


def _read_and_digested(
    alias: str,
    table: Table,
    fields: list[Field],
    keys: tuple[int, int] | None,
    pks: list[int] | None = None,
) -> Iterator[tuple[int, int]]:
    """Each row's key and the digest of ``fields`` read through the fields, in this process."""
    if not fields:
        return
    narrowed = table.only(frozenset(f.name for f in fields))
    reader = Reader(narrowed, connections[alias])
    index = narrowed.fields.index(narrowed.pk)
    spellings = [_spelling(reader, i) for i in range(len(narrowed.fields))]
    read = source.batches(alias, narrowed, 5000, keys=None if pks else keys, pks=pks, raw=True)
    with closing(read) as batches:
        for batch in batches:
            for row in batch:
                reader.check_dates(row)
                spelled = [spell(raw) for spell, raw in zip(spellings, row, strict=True)]
                text = SALT + "[" + ", ".join(spelled) + "]"
                yield int(row[index]), _md5_40(text)


def _spelling(reader: Reader, index: int) -> Callable[[Any], str]:
    """Column ``index``'s value, as the driver returns it, in one spelling for one value."""
    general = functools.partial(_spelled, reader, index)
    if reader.json_text(index):
        # The text as the database keeps it, parsed once (in C: integers as they are, a
        # number with a point or an exponent through ``_json_number``) and written out by
        # key; SQL's NULL apart from JSON's null.
        def json_text(raw: Any) -> str:
            if raw is None:
                return "NULL"
            if type(raw) is not str:
                return general(raw)
            return _JSON_OUT.encode(parsed_json(raw))

        return json_text
    if kind(reader.table.fields[index]) == "integer" and not reader.columns[index][1]:
        # An integer as every driver returns it: its digits (the key of every row read here).
        return lambda raw: str(raw) if type(raw) is int else general(raw)
    return general


def _spelled(reader: Reader, index: int, raw: Any) -> str:
    return json.dumps(_plain(reader.value(index, raw)), default=str)


def _json_number(text: str) -> int | float:
    """A JSON number with a point or an exponent, by value: PostgreSQL's jsonb writes 1e3 out
    as 1000 and keeps 1.50 as written, MySQL and SQLite keep what was written. A whole number
    becomes the int it is (exactly, however large); another, the float it reads as."""
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(text)


# Made once: json.loads and json.dumps with options make a decoder or an encoder each call.
_JSON_IN = json.JSONDecoder(parse_float=_json_number)
_JSON_OUT = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)


def parsed_json(text: str) -> Any:
    """A JSON text as its database keeps it, parsed with every number exact: not through
    Django's ``json.loads``, which reads 1.2345678901234567890123e22 as a float, while jsonb
    keeps it as the integer it is."""
    return _JSON_IN.decode(text)


def _plain(value: Any) -> Any:
    """One spelling for one value, whichever database it was read from."""
    if isinstance(value, memoryview):
        return value.tobytes().hex()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):  # by key, whatever order each database keeps the keys in
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    # Numbers by value: PostgreSQL's jsonb writes 1.5e300 out in full, read back as an int.
    if isinstance(value, float):
        value = Decimal(repr(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if isinstance(value, Decimal):
        return str(value.normalize()) if value.is_finite() else str(value)
    return value


def _md5_40(text: str | None) -> int:
    if text is None:
        return 0
    return int(hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:10], 16)


def _define_md5_40(connection: BaseDatabaseWrapper) -> None:
    """For a connection opened before this module was imported (the receiver below)."""
    if connection.connection is None:
        connection.ensure_connection()  # the receiver defines it
        return
    with contextlib.suppress(sqlite3.OperationalError):  # busy: defined when it opened
        _defined_on_sqlite(connection)


@receiver(connection_created)
def _defined_on_sqlite(connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """Every SQLite connection gets the digest function as it opens: SQLite refuses to
    define one while a statement of the connection is under way (a live copy's read)."""
    if connection.vendor != "sqlite":
        return
    define: Callable[..., None] = connection.connection.create_function
    define("dbtools_md5_40", 1, _md5_40, deterministic=True)


# Keys further apart than this would overflow the 64-bit arithmetic of chunk numbers
# (random 64-bit keys, say).
WIDEST = 2**62


def key_bounds(alias: str, table: Table) -> tuple[int, int] | None:
    """The table's lowest and highest keys; None: no row."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    key = quote(str(table.pk.column))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN({key}), MAX({key}) FROM {quote(table.name)}")  # noqa: S608
        low, high = cursor.fetchone()
    return None if low is None else (int(low), int(high))


def too_far_apart(bounds: Sequence[tuple[int, int] | None]) -> bool:
    """Whether the keys of both sides (``key_bounds`` of each), together, are too far apart
    to be chunked."""
    low = lowest(bounds)
    return low is not None and max(b[1] for b in bounds if b is not None) - low >= WIDEST


def lowest(bounds: Sequence[tuple[int, int] | None]) -> int | None:
    """The lowest key of both sides (``key_bounds`` of each); None: neither has a row."""
    return min((b[0] for b in bounds if b is not None), default=None)


def lowest_key(alias: str, table: Table, at_least: int) -> int | None:
    """The table's lowest key of those from ``at_least`` on; None: no row."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    key = quote(str(table.pk.column))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MIN({key}) FROM {quote(table.name)} WHERE {key} >= %s",  # noqa: S608
            [at_least],
        )
        value = cursor.fetchone()[0]
    return None if value is None else int(value)
