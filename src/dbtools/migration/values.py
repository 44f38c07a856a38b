"""Each value read through its field as the ORM would, written as the target's backend saves it.

And the values a target cannot hold stop the copy, named, rather than being truncated,
rounded or turned into NULL on the way.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from dbtools.migration.tables import Table, stored_kind

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]

DATE_TYPES = frozenset({"DateField", "DateTimeField"})
TEXT_TYPES = frozenset({"CharField", "TextField"})


class JsonNull:
    """JSON's null in a JSONField, which the ORM reads as None, as it reads SQL's NULL."""

    def __repr__(self) -> str:
        return "JSON null"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNull)

    def __hash__(self) -> int:
        return 0


JSON_NULL = JsonNull()


class BadValue(Exception):
    """A value the target cannot hold: where it is, and what is wrong with it."""

    def __init__(self, table: Table, pk: object, field: str, value: object, problem: str) -> None:
        start = repr(value)
        if len(start) > 60:
            start = start[:57] + "..."
        super().__init__(
            f"{table.name} ({table.label}), primary key {pk!r}, field {field!r}: {problem} "
            f"(value {start})."
        )


class Reader:
    """Turns rows as the source's driver returns them into the values the ORM would see."""

    def __init__(self, table: Table, connection: BaseDatabaseWrapper) -> None:
        self.table = table
        self.connection = connection
        self.columns: list[tuple[Any, list[Converter]]] = []
        for field in table.fields:
            column = field.get_col(table.name)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            self.columns.append((column, converters))
        # mysqlclient parses each DATETIME and DATE in Python, and reads a zero date
        # ('0000-00-00'), or any other that MySQL holds and Python can't, as None. So the
        # query reads them as numbers: microseconds or days since 2000-01-01 (PostgreSQL's own
        # binary form of both), and a date no other database can hold as a number below all
        # of those, which keeps its digits.
        self.date_checks = [
            index
            for index, field in enumerate(table.fields)
            if connection.vendor == "mysql" and field.get_internal_type() in DATE_TYPES
        ]
        self.decoders: list[Callable[[int], Any] | None] = [None] * len(table.fields)
        for index in self.date_checks:
            dated = table.fields[index].get_internal_type() == "DateTimeField"
            self.decoders[index] = _datetime_from_number if dated else _date_from_number
        self.json_columns = frozenset(
            i for i, f in enumerate(table.fields) if f.get_internal_type() == "JSONField"
        )

    def selected(self, columns: list[str]) -> list[str]:
        """The select list that reads ``columns`` (quoted, one per field) for ``value``."""
        selected = list(columns)
        for index in self.date_checks:
            column = columns[index]
            if self.decoders[index] is _datetime_from_number:
                number = f"TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'2000-01-01 00:00:00', {column})"
                digits, below = f"CAST(FLOOR({column} + 0) AS SIGNED)", BELOW_DATETIMES
            else:
                number = f"DATEDIFF({column}, DATE'2000-01-01')"
                digits, below = f"CAST({column} + 0 AS SIGNED)", BELOW_DATES
            # Date arithmetic gives NULL for exactly the dates Python can't hold.
            selected[index] = (
                f"CASE WHEN {column} + INTERVAL 0 DAY IS NOT NULL THEN {number} "
                f"WHEN {column} IS NOT NULL THEN {below} - {digits} END"
            )
        return selected

    def read(self, row: Sequence[Any]) -> list[Any]:
        self.check_dates(row)
        return [self.value(index, raw) for index, raw in enumerate(row)]

    def check_dates(self, row: Sequence[Any]) -> None:
        """Refuse a date Python can't hold, read as a number below every date's."""
        for index in self.date_checks:
            number = row[index]
            dated = self.decoders[index] is _datetime_from_number
            below = BELOW_DATETIMES if dated else BELOW_DATES
            if number is None or number > below:
                continue
            digits = f"{below - number:0{14 if dated else 8}d}"
            text = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
            if dated:
                text += f" {digits[8:10]}:{digits[10:12]}:{digits[12:14]}"
            raise BadValue(
                self.table,
                row[self.pk_index],
                self.table.fields[index].name,
                text,
                "a date MySQL holds but no other database can (a zero date, a zero "
                "month or day, a day past the month's end, or year 0), which mysqlclient "
                "reads as None",
            )

    def json_text(self, index: int) -> bool:
        """Whether column ``index`` is a plain JSONField's: the driver gives its stored text,
        which the field only parses (no decoder of its own, nothing else converting it)."""
        field = self.table.fields[index]
        return (
            type(field) is models.JSONField
            and field.decoder is None
            and self.columns[index][1] == [field.from_db_value]
        )

    def value(self, index: int, raw: Any) -> Any:
        """Column ``index``'s value as the driver returned it, as the ORM would see it."""
        column, converters = self.columns[index]
        decode = self.decoders[index]
        value = raw if decode is None or raw is None else decode(raw)
        for converter in converters:
            value = converter(value, column, self.connection)
        if value is None and raw is not None and index in self.json_columns:
            return JSON_NULL  # kept apart from SQL's NULL, as the database keeps it
        return value

    @property
    def pk_index(self) -> int:
        return self.table.fields.index(self.table.pk)


# What a MySQL date is read as (see ``Reader``): from 2000-01-01, and below every date.
EPOCH = datetime(2000, 1, 1)
BELOW_DATETIMES = -(2**62)  # microseconds: year 1 is about -6.3e16
BELOW_DATES = -(2**30)  # days: year 1 is -730,119


def _datetime_from_number(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


def _date_from_number(days: int) -> date:
    return EPOCH.date() + timedelta(days=days)


class Writer:
    """Turns the ORM's values into what the target's backend saves, refusing what it can't hold."""

    def __init__(
        self,
        table: Table,
        connection: BaseDatabaseWrapper,
        source: BaseDatabaseWrapper | None = None,
    ) -> None:
        self.table = table
        self.connection = connection
        found = [_checks_for(field, connection, source) for field in table.fields]
        self.checks = [_combined(checks) for checks in found]
        # Whether the target itself refuses, by an error, every value the column's checks
        # refuse (PostgreSQL: a NUL in text or JSON): a COPY can then send it unchecked.
        self.refused_by_target = [
            connection.vendor == "postgresql"
            and all(getattr(c, "func", c) in REFUSED_BY_POSTGRESQL for c in checks)
            for checks in found
        ]
        self.as_read = [_saved_as_read(field, connection) for field in table.fields]
        self.pk_index = table.fields.index(table.pk)

    def prepare(self, values: list[Any]) -> list[Any]:
        self.current_pk = values[self.pk_index]
        return [self.value(index, value) for index, value in enumerate(values)]

    def value(self, index: int, value: Any) -> Any:
        """Column ``index``'s ORM value as the target's backend saves it, or BadValue."""
        field = self.table.fields[index]
        if value is None:
            if not field.null and not _stores_empty_as_null(field, self.connection):
                self.refuse(field, value, "NULL in a column that does not allow it")
            return None
        check = self.checks[index]
        problem = check(value) if check else None
        if problem:
            self.refuse(field, value, problem)
        if type(value) in self.as_read[index] and (type(value) is not datetime or value.tzinfo):
            return value
        if value is JSON_NULL:
            return self.connection.ops.adapt_json_value(None, field.encoder)  # type: ignore[attr-defined]
        try:
            return field.get_db_prep_save(value, connection=self.connection)
        except (TypeError, ValueError, ArithmeticError) as error:
            self.refuse(field, value, f"cannot be saved: {error}")

    def refuse(self, field: models.Field[Any, Any], value: object, problem: str) -> NoReturn:
        raise BadValue(self.table, self.current_pk, field.name, value, problem)

    current_pk: object = None


# Django's own fields whose saved value is the Python value itself when it is of one of
# PLAIN_TYPES: get_db_prep_save would only check the type and hand it back (or wrap it for
# psycopg to type a bound parameter, which COPY and executemany do not need). A subclass may
# save otherwise, so only these classes themselves.
AS_READ_FIELDS = frozenset(
    {
        models.CharField,
        models.TextField,
        models.SlugField,
        models.EmailField,
        models.URLField,
        models.BooleanField,
        models.FloatField,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.AutoField,
        models.BigAutoField,
        models.SmallAutoField,
    }
)
PLAIN_TYPES = frozenset({str, int, bool, float})
# And on PostgreSQL through psycopg 3, which takes these values as they are: Django's
# backend hands them to the driver unchanged (an aware datetime only: a naive one is made
# aware first).
AS_READ_ON_POSTGRESQL: dict[type[models.Field[Any, Any]], frozenset[type]] = {
    models.DateTimeField: frozenset({datetime}),
    models.DateField: frozenset({date}),
    models.TimeField: frozenset({time}),
    models.UUIDField: frozenset({uuid.UUID}),
    models.DecimalField: frozenset({Decimal}),
    models.DurationField: frozenset({timedelta}),
    models.BinaryField: frozenset({bytes}),
}


def _saved_as_read(
    field: models.Field[Any, Any], connection: BaseDatabaseWrapper
) -> frozenset[type]:
    """The types of value ``field`` (or the key a foreign key points at) saves unchanged."""
    while type(field) in (models.ForeignKey, models.OneToOneField):
        field = field.target_field  # type: ignore[attr-defined]
    if type(field) in AS_READ_FIELDS:
        return PLAIN_TYPES
    driver = getattr(getattr(connection, "Database", None), "__name__", "")
    if connection.vendor == "postgresql" and driver == "psycopg":
        return AS_READ_ON_POSTGRESQL.get(type(field), frozenset())
    return frozenset()


def _stores_empty_as_null(field: models.Field[Any, Any], connection: BaseDatabaseWrapper) -> bool:
    # Oracle-style backends read '' as NULL; none of ours does, but the flag says it.
    return bool(
        connection.features.interprets_empty_strings_as_nulls and field.empty_strings_allowed
    )


Check = Callable[[Any], str | None]


def _checks_for(
    field: models.Field[Any, Any],
    connection: BaseDatabaseWrapper,
    source: BaseDatabaseWrapper | None,
) -> list[Check]:
    """What refuses a value of ``field`` that ``connection``'s column would not keep as it is.

    Only what the source's own column could hold: PostgreSQL holds no NUL, PostgreSQL and
    MySQL enforce a column's length and a decimal's digits, and the same integer type has
    the same range on both sides of most pairs. SQLite enforces none of them.
    """
    kind = stored_kind(field)
    loose = source is None or source.vendor == "sqlite"
    # From a database that holds what PostgreSQL does not: a NUL, any integer as a boolean.
    into_postgresql = connection.vendor == "postgresql" and (
        source is None or source.vendor != "postgresql"
    )
    checks: list[Check] = []
    if kind in TEXT_TYPES or isinstance(field, (models.CharField, models.TextField)):
        if into_postgresql:
            checks.append(nul_problem)
        limit = getattr(field, "max_length", None)
        if limit and loose:
            checks.append(functools.partial(_length_problem, limit))
    if kind == "JSONField" and into_postgresql:
        checks.append(json_nul_problem)
    ranges = connection.ops.integer_field_ranges
    if kind in ranges:
        bounds = connection.ops.integer_field_range(kind)
        if loose or source.ops.integer_field_range(kind) != bounds:  # type: ignore[union-attr]
            checks.append(functools.partial(_range_problem, *bounds))
    if isinstance(field, models.DecimalField) and loose:
        checks.append(functools.partial(_decimal_problem, field))
    if kind == "BooleanField" and into_postgresql:
        checks.append(boolean_problem)  # MySQL's tinyint(1) and SQLite hold any integer
    return checks


def _combined(checks: list[Check]) -> Check | None:
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return functools.partial(_first_problem, checks)


def _first_problem(checks: list[Check], value: object) -> str | None:
    for check in checks:
        problem = check(value)
        if problem:
            return problem
    return None


def _length_problem(limit: int, value: object) -> str | None:
    if isinstance(value, str) and len(value) > limit:
        return f"{len(value)} characters, longer than the column's {limit}"
    return None


def _range_problem(low: int | None, high: int | None, value: object) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        return f"out of the target column's range [{low}, {high}]"
    return None


def boolean_problem(value: object) -> str | None:
    if type(value) is not bool:
        return "neither true nor false (0 or 1), which PostgreSQL's boolean cannot hold"
    return None


def nul_problem(value: object) -> str | None:
    if isinstance(value, str) and "\x00" in value:
        return "text with a NUL byte, which PostgreSQL cannot store"
    return None


def json_nul_problem(value: object) -> str | None:
    if _holds_nul(value):
        return "JSON with a NUL character (\\u0000), which PostgreSQL's jsonb cannot store"
    return None


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _decimal_problem(field: models.DecimalField[Any, Any], value: object) -> str | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    places = field.decimal_places or 0
    digits = field.max_digits
    sign, figures, exponent = value.as_tuple()
    if isinstance(exponent, int) and -exponent > places and value != round(value, places):
        return f"more than {places} decimal places: it would be rounded"
    if digits is not None:
        whole = len(figures) + exponent if isinstance(exponent, int) else len(figures)
        if whole > digits - places:
            return f"more than {digits - places} digits before the decimal point"
    return None


# The checks whose every refusal PostgreSQL makes itself, with an error, in a COPY too. Not
# the length: varchar(n) cuts off spaces past its length without a word.
REFUSED_BY_POSTGRESQL = frozenset({nul_problem, json_nul_problem})
