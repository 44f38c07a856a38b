"""Rows from the source's driver to what the target's COPY takes, in one pass per value.

``values.Reader`` then ``values.Writer`` is the general route: every value through its field,
as the ORM would read it and as the target's backend would save it. For the pairs and
fields where that route is known to end where it began (an integer read and sent as it is),
or in a value of a form the driver can send as it is (MySQL's naive UTC datetime, JSON's
text), this module takes the short way and leaves out the objects in between. What it sends
is what the general route would have sent, byte for byte once in the database; a value
neither short way expects goes the general route, and so meets the same refusals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from django.db import DatabaseError, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from dbtools.migration import target
from dbtools.migration.tables import Table
from dbtools.migration.values import PLAIN_TYPES, Reader, Writer, nul_problem

Step = Callable[[Any], Any]

# PostgreSQL's type oids that a short way writes with another type of the same binary form.
TIMESTAMP, TIMESTAMPTZ = 1114, 1184
BYTEA, JSONB = 17, 3802
JSONB_VERSION = b"\x01"  # jsonb's binary form: this byte, then the JSON's text


class Transfer:
    """Writes batches of rows, as the source's driver returns them, to the target."""

    def __init__(self, table: Table, source_alias: str, target_alias: str) -> None:
        source, destination = connections[source_alias], connections[target_alias]
        self.table = table
        self.target_alias = target_alias
        self.reader = Reader(table, source)
        self.writer = Writer(table, destination, source)
        self.width = len(table.fields)
        self.pk_index = table.fields.index(table.pk)
        self.dated = bool(self.reader.date_checks)
        # The short way is for PostgreSQL's binary COPY, whose types are known per column.
        self.types: list[int] | None = None
        self.steps: list[tuple[int, Step]] = []
        if target.uses_copy(destination):
            self.types = target.column_types(target_alias, table)
            for index, field in enumerate(table.fields):
                step = self._short(index, field)
                if step is not None:
                    self.steps.append((index, step))

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Write one batch in one transaction, the short way where there is one.

        A value the short way does not expect makes the driver or the database refuse the
        batch: it is then written again the general route, which names a value it refuses.
        """
        try:
            target.write(self.target_alias, self.table, [self.convert(r) for r in rows], self.types)
        except _write_failures(connections[self.target_alias]):
            if self.types is None:
                raise
            target.write(self.target_alias, self.table, [self.general(row) for row in rows])

    def convert(self, row: Sequence[Any]) -> list[Any]:
        """One row for ``write``: the short way into COPY, else the general route."""
        if self.types is None:
            return self.general(row)
        if self.dated and any(row[self.width :]):
            self.reader.check_dates(row)
        values = list(row[: self.width])
        self.writer.current_pk = values[self.pk_index]
        for index, step in self.steps:
            values[index] = step(values[index])
        return values

    def general(self, row: Sequence[Any]) -> list[Any]:
        return self.writer.prepare(self.reader.read(row))

    def _general(self, index: int) -> Step:
        reader, writer = self.reader, self.writer

        def general(raw: Any) -> Any:
            return writer.value(index, reader.value(index, raw))

        return general

    def _short(self, index: int, field: models.Field[Any, Any]) -> Step | None:
        """The least that gives the general route's result for column ``index``; None: none."""
        _, converters = self.reader.columns[index]
        check = self.writer.checks[index]
        saved_as_read = self.writer.as_read[index]
        general = self._general(index)
        source = self.reader.connection
        assert self.types is not None
        if not converters and saved_as_read == PLAIN_TYPES:
            # Django's plain fields: the driver's value is the one saved. A value of another
            # type, or a NULL where none may be, makes COPY refuse the batch (see ``write``).
            if check is None:
                return None
            return _without_nul(general) if check is nul_problem else _checked(check, general)
        if not converters and saved_as_read:
            return _as_read(saved_as_read, general)
        if (
            converters == [_bound(source.ops, "convert_datetimefield_value")]
            and source.timezone == timezone.utc
            and self.types[index] == TIMESTAMPTZ
            and check is None
        ):
            # MySQL's DATETIME, read naive in UTC: timestamp's binary form is timestamptz's.
            self.types[index] = TIMESTAMP
            return _naive(general)
        if converters == [_bound(source.ops, "convert_booleanfield_value")] and check is None:
            return _boolean(general)
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


def _without_nul(general: Step) -> Step:
    # The check inline: the one every text column from MySQL or SQLite into PostgreSQL has.
    return lambda value: value if type(value) is str and "\x00" not in value else general(value)


def _as_read(types: frozenset[type], general: Step) -> Step:
    if datetime in types:
        # An aware datetime only: the general route makes a naive one aware.
        return lambda value: (
            value if type(value) is datetime and value.tzinfo is not None else general(value)
        )
    return lambda value: value if type(value) in types else general(value)


def _naive(general: Step) -> Step:
    return lambda value: (
        value if type(value) is datetime and value.tzinfo is None else general(value)
    )


BOOLEANS = {0: False, 1: True}


def _boolean(general: Step) -> Step:
    def boolean(value: Any) -> Any:
        found = BOOLEANS.get(value)
        return found if found is not None else general(value)

    return boolean


def _json_text(general: Step) -> Step:
    def json_text(value: Any) -> Any:
        # Text that may hold a NUL (\u0000) goes the general route, which parses and checks it.
        if type(value) is str and "\\u0000" not in value:
            return JSONB_VERSION + value.encode()
        prepared = general(value)
        if prepared is None:
            return None
        # The general route's psycopg Jsonb, in jsonb's binary form: the column goes as bytes.
        return JSONB_VERSION + (prepared.dumps or json.dumps)(prepared.obj).encode()

    return json_text
