"""Rows from the source's driver to what the target's COPY takes, with as little as can be between.

``values.Reader`` then ``values.Writer`` is the general route: every value through its field,
as the ORM would read it and as the target's backend would save it. For the pairs and
fields where that route is known to end where it began (an integer read and sent as it is),
or in a value of a form COPY can take as it is (a MySQL date read as PostgreSQL's binary
form of it, JSON's text), this module takes the short way: most columns go as the driver
returned them, untouched by Python. What it sends is what the general route would have
sent, byte for byte once in the database. A value the short way cannot take makes the
driver or the database refuse the batch, which then goes the general route, and so meets
the same refusals, named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from dbtools.migration import target
from dbtools.migration.tables import Table
from dbtools.migration.values import PLAIN_TYPES, Reader, Writer, boolean_problem

Step = Callable[[Any], Any]
Rows = Sequence[Sequence[Any]]

# PostgreSQL's type oids that a short way writes with another type of the same binary form.
INT4, INT8, DATE, TIMESTAMPTZ = 23, 20, 1082, 1184
BYTEA, JSONB = 17, 3802
JSONB_VERSION = b"\x01"  # jsonb's binary form: this byte, then the JSON's text
FLAGS = frozenset({0, 1, None})  # a boolean as MySQL and SQLite hold it (True == 1)


class Transfer:
    """Writes batches of rows, as the source's driver returns them, to the target."""

    def __init__(
        self, table: Table, source_alias: str, target_alias: str, durable: bool = True
    ) -> None:
        """``durable=False``: each batch's commit does not wait for the disk."""
        source, destination = connections[source_alias], connections[target_alias]
        self.table = table
        self.target_alias = target_alias
        self.durable = durable
        self.reader = Reader(table, source)
        self.writer = Writer(table, destination, source)
        self.pk_index = table.fields.index(table.pk)
        # The short way is for PostgreSQL's binary COPY, whose types are known per column.
        self.types: list[int] | None = None
        self.steps: list[tuple[int, Step]] = []
        self.flags: list[int] = []  # booleans read as 0 and 1, checked a batch at a time
        if target.uses_copy(destination):
            self.types = target.column_types(target_alias, table)
            for index, field in enumerate(table.fields):
                step = self._short(index, field)
                if step is not None:
                    self.steps.append((index, step))

    def write(self, rows: Rows) -> None:
        """Write one batch in one transaction, the short way where there is one.

        A value the short way does not expect makes the driver or the database refuse the
        batch: it is then written again the general route, which names a value it refuses.
        """
        short = self._short_rows(rows)
        if short is not None:
            try:
                target.write(self.target_alias, self.table, short, self.types, self.durable)
                return
            except _write_failures(connections[self.target_alias]):
                pass  # written again below, through the fields
        general = [self.general(row) for row in rows]
        target.write(self.target_alias, self.table, general, durable=self.durable)

    def prepared(self, rows: Rows) -> Rows:
        """The batch as ``write`` first sends it."""
        short = self._short_rows(rows)
        return [self.general(row) for row in rows] if short is None else short

    def general(self, row: Sequence[Any]) -> list[Any]:
        return self.writer.prepare(self.reader.read(row))

    def _short_rows(self, rows: Rows) -> Rows | None:
        if self.types is None:
            return None
        for index in self.flags:
            if not set(map(itemgetter(index), rows)) <= FLAGS:
                return None
        if not self.steps:
            return rows  # every column as the driver returned it
        return [self._stepped(row) for row in rows]

    def _stepped(self, row: Sequence[Any]) -> list[Any]:
        values = list(row)
        self.writer.current_pk = values[self.pk_index]
        for index, step in self.steps:
            values[index] = step(values[index])
        return values

    def _general(self, index: int) -> Step:
        reader, writer = self.reader, self.writer

        def general(raw: Any) -> Any:
            return writer.value(index, reader.value(index, raw))

        return general

    def _short(self, index: int, field: models.Field[Any, Any]) -> Step | None:
        """What column ``index`` needs to give the general route's result; None: nothing."""
        _, converters = self.reader.columns[index]
        check = self.writer.checks[index]
        unchecked = check is None or self.writer.refused_by_target[index]
        saved_as_read = self.writer.as_read[index]
        general = self._general(index)
        source = self.reader.connection
        assert self.types is not None
        if index in self.reader.date_checks:
            # A MySQL date read as days or microseconds since 2000-01-01: PostgreSQL's binary
            # form of a date and of a timestamptz (in UTC). A date no other database can hold
            # is read as a number below any date's, which PostgreSQL refuses as out of range.
            if converters == [] and self.types[index] == DATE and check is None:
                self.types[index] = INT4
                return None
            if (
                converters == [_bound(source.ops, "convert_datetimefield_value")]
                and source.timezone == timezone.utc
                and self.types[index] == TIMESTAMPTZ
                and check is None
            ):
                self.types[index] = INT8
                return None
            return general
        if not converters and saved_as_read == PLAIN_TYPES:
            # Django's plain fields: the driver's value is the one saved. A value of another
            # type, or a NULL where none may be, makes COPY refuse the batch (see ``write``),
            # as PostgreSQL refuses a NUL; not an integer out of range, which psycopg would
            # wrap around, nor a longer text, whose spaces varchar(n) would cut: checked here.
            return None if unchecked or check is None else _checked(check, general)
        if not converters and saved_as_read:
            if source.vendor in ("mysql", "postgresql") and unchecked and settings.USE_TZ:
                # Their drivers read one type per column type: a UUID, a Decimal, an aware
                # datetime (under USE_TZ), as the field saves it.
                return None
            return _as_read(saved_as_read, general)
        if converters == [_bound(source.ops, "convert_booleanfield_value")] and check in (
            None,
            boolean_problem,
        ):
            # psycopg's boolean takes 0 and 1 as they are; a batch holding any other integer
            # goes the general route, which refuses it.
            self.flags.append(index)
            return None
        encoder = getattr(field, "encoder", None)
        if self.reader.json_text(index) and encoder is None and self.types[index] == JSONB:
            self.types[index] = BYTEA  # jsonb's binary form, made here from the text
            return _json_text(general)
        return general


def _write_failures(connection: BaseDatabaseWrapper) -> tuple[type[BaseException], ...]:
    """What the driver raises for a value it cannot dump, and the database for one it refuses."""
    driver: Any = connection.Database  # type: ignore[attr-defined]
    return (TypeError, ValueError, ArithmeticError, DatabaseError, driver.Error)


def _bound(operations: Any, name: str) -> Any:
    return getattr(operations, name, None)


def _checked(check: Callable[[Any], str | None], general: Step) -> Step:
    return lambda value: value if value is not None and check(value) is None else general(value)


def _as_read(types: frozenset[type], general: Step) -> Step:
    if datetime in types:
        # An aware datetime only: the general route makes a naive one aware.
        return lambda value: (
            value if type(value) is datetime and value.tzinfo is not None else general(value)
        )
    return lambda value: value if type(value) in types else general(value)


def _json_text(general: Step) -> Step:
    def json_text(value: Any) -> Any:
        # PostgreSQL parses the text and refuses JSON it cannot hold (one with \u0000).
        if type(value) is str:
            return JSONB_VERSION + value.encode()
        prepared = general(value)
        if prepared is None:
            return None
        # The general route's psycopg Jsonb, in jsonb's binary form: the column goes as bytes.
        return JSONB_VERSION + (prepared.dumps or json.dumps)(prepared.obj).encode()

    return json_text
