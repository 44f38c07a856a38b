"""``dbtools sync``: make the target hold exactly the source's rows, moving only what changed.

For each table with an integer key, both databases digest their rows chunk by chunk of keys,
each chunk by parts of a hundred keys (see ``digests``), first with every column as each
writes it; only the rows of the parts that differ are digested one by one, and a row that
differs only as spelled (JSON each engine writes its own way) is digested again by value.
The rows whose digests differ, or that one side lacks, are the changes. A thousand scattered
changes in a million rows touch nearly every chunk but one part in ten, so only the parts'
digests and then a few rows' digests cross the network, never the rows that are equal. A
table without an integer key is copied again whole. All the changes go into the target in
one transaction, then the counters are reset and the rows changed are verified.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import CommandError
from django.db import connections, transaction

from dbtools.migration import digests, preflight, records, sequences, snapshot, source, target
from dbtools.migration.progress import Output
from dbtools.migration.sides import Sides, sides
from dbtools.migration.tables import Table, copied_tables
from dbtools.migration.transfer import Transfer
from dbtools.permission import writes_allowed


@dataclass
class Changes:
    table: Table
    new: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    whole: str = ""  # why it is copied again whole, if it is
    seconds: float = 0.0

    @property
    def keys(self) -> list[int]:
        """Every key the changes touched, in order."""
        return sorted(self.new + self.changed + self.deleted)

    @property
    def any(self) -> bool:
        return bool(self.whole or self.new or self.changed or self.deleted)


def sync(
    source_alias: str,
    target_alias: str,
    include: Sequence[str],
    exclude: Sequence[str],
    live: bool,
    out: Output,
) -> tuple[list[Table], dict[Table, list[int]]]:
    """Apply the source's changes to the target.

    Returns the tables covered and, for each table not copied again whole, the keys its
    changes touched: the verification that follows need look again only at those rows.
    """
    preflight.check_aliases(source_alias, target_alias)
    tables = copied_tables(source_alias, target_alias, include, exclude)
    preflight.check_migrations(source_alias, target_alias)
    if not live:
        preflight.check_source_read_only(source_alias)
    if records.has_store() and records.get("copy", source_alias, target_alias) is None:
        raise CommandError(
            f"No copy of {source_alias!r} into {target_alias!r} is noted in the runtime store: "
            f"sync follows on a copy. Run `python manage.py dbtools copy --live --from "
            f"{source_alias} --to {target_alias}` first."
        )
    view_of = snapshot.consistent(source_alias) if live else nullcontext(None)
    found: list[Changes] = []
    with writes_allowed(), view_of as view, sides() as pair:
        for table in tables:
            started = time.monotonic()
            changes = _changes(source_alias, target_alias, table, pair)
            changes.seconds = time.monotonic() - started
            found.append(changes)
            out.write(_line(changes))
        _apply(source_alias, target_alias, [c for c in found if c.any])
        sequences.reset(target_alias, tables)
    _summary(found, out)
    if view is not None:
        out.write(f"Synced {view.describe()}: writes made since are not in it.\n")
    return tables, {c.table: c.keys for c in found if not c.whole}


def _changes(source_alias: str, target_alias: str, table: Table, pair: Sides) -> Changes:
    changes = Changes(table)
    if not table.integer_key:
        changes.whole = "its key is not an integer"
        return changes
    bounds = pair.both(digests.key_bounds, source_alias, target_alias, table)
    if digests.too_far_apart(bounds):
        changes.whole = f"its keys are {digests.WIDEST:,} or more apart"
        return changes
    low = digests.lowest(bounds)
    if low is None:
        return changes
    databases = (connections[source_alias], connections[target_alias])
    in_database, here = digests.split(table, databases)
    method = digests.method(table, databases)
    # First every column as each database writes it, digested there, where the columns no two
    # engines write alike are all JSON: a row written alike on both sides is the same row. A
    # row that differs so is digested again, its JSON read here, and only then counted as
    # changed. Once most such rows turn out to be spelled apart rather than changed, the
    # table is read the second way from then on.
    spelled_alike = bool(here) and digests.alike_as_written(here) == here

    # Each part of a hundred keys is digested, summed in each database, a span of keys at a
    # time in one query per side: a thousand scattered changes in a million rows touch nearly
    # every chunk of 10,000 keys, but only one part in ten. Only the rows of the parts that
    # differ are then digested one by one, and the rows that differ or that one side lacks
    # are the changes. Where columns are read here (spelled apart), every row of every chunk
    # is read and digested here anyway, a chunk at a time.
    def by_value(keys: tuple[int, int], pks: list[int]) -> tuple[dict[int, Any], dict[int, Any]]:
        return pair.both(
            digests.rows, source_alias, target_alias, table, method, in_database, here, keys, pks
        )

    start: int | None = low
    size = digests.CHUNK if here else digests.SPAN  # a first chunk tells how JSON is spelled
    while start is not None:
        first = low + (start - low) // digests.PART * digests.PART  # parts never split
        span = (first, first + size)
        read_here = bool(here) and not spelled_alike
        fields = [] if read_here else in_database + here  # [] : the parts' rows only
        found: tuple[Mapping[int, object], Mapping[int, object]]
        parts = pair.both(
            digests.chunks_in_database,
            source_alias,
            target_alias,
            table,
            method,
            fields,
            low,
            digests.PART,
            span,
        )
        if read_here:
            every = parts[0].keys() | parts[1].keys()
            per_chunk = digests.CHUNK // digests.PART
            for chunk in sorted({part // per_chunk for part in every}):
                # Within the span: a chunk a span's end cuts is read by each of its two spans.
                keys = (
                    max(span[0], low + chunk * digests.CHUNK),
                    min(span[1], low + (chunk + 1) * digests.CHUNK),
                )
                found = pair.both(
                    digests.rows,
                    source_alias,
                    target_alias,
                    table,
                    method,
                    in_database,
                    here,
                    keys,
                )
                _note(changes, found, keys, None)
        else:
            differ = sorted(
                p for p in parts[0].keys() | parts[1].keys() if parts[0].get(p) != parts[1].get(p)
            )
            for group in source.in_clauses(differ):
                keys = (low + group[0] * digests.PART, low + (group[-1] + 1) * digests.PART)
                found = pair.both(
                    digests.rows_in_database,
                    source_alias,
                    target_alias,
                    table,
                    method,
                    fields,
                    keys,
                    None,
                    _ranges(low, group),
                )
                alike = _note(changes, found, keys, by_value if here else None)
                spelled_alike = spelled_alike and alike  # from the next span on
        after = pair.both(digests.lowest_key, source_alias, target_alias, table, span[1])
        start = min((k for k in after if k is not None), default=None)
        size = digests.SPAN
    return changes


def _ranges(low: int, parts: list[int]) -> list[tuple[int, int]]:
    """The keys of ``parts`` (numbered from ``low``, in order), adjacent parts together."""
    ranges: list[tuple[int, int]] = []
    for part in parts:
        first, after = low + part * digests.PART, low + (part + 1) * digests.PART
        if ranges and ranges[-1][1] == first:
            first = ranges.pop()[0]
        ranges.append((first, after))
    return ranges


ByValue = Callable[[tuple[int, int], list[int]], tuple[Mapping[int, object], Mapping[int, object]]]


def _note(
    changes: Changes,
    found: tuple[Mapping[int, object], Mapping[int, object]],
    keys: tuple[int, int],
    by_value: ByValue | None,
) -> bool:
    """Add the rows ``found`` (each side's digests by key, within ``keys``) to ``changes``;
    whether to go on digesting every column as each database writes it. ``by_value``: the
    digests of the rows named, their columns spelled apart read through their fields."""
    left, right = found
    changed = sorted(k for k in left.keys() & right.keys() if left[k] != right[k])
    alike = by_value is not None
    if changed and by_value is not None:
        again = by_value(keys, changed)
        apart = len(changed)
        changed = [k for k in changed if again[0].get(k) != again[1].get(k)]
        alike = len(changed) * 2 >= apart
    changes.new += sorted(left.keys() - right.keys())
    changes.deleted += sorted(right.keys() - left.keys())
    changes.changed += changed
    return alike


def _apply(source_alias: str, target_alias: str, found: list[Changes]) -> None:
    """Every change in one transaction: the target is the old copy or the new one, never half."""
    if not found:
        return
    connection = connections[target_alias]
    # Rows go in whatever their keys point at yet (PostgreSQL's keys are deferred to the
    # commit, MySQL/SQLite stop checking for the session); every key is checked before it.
    target.unchecked(target_alias)
    try:
        with transaction.atomic(using=target_alias):
            for changes in found:
                table = changes.table
                if changes.whole:
                    # DELETE, not a flush's TRUNCATE: other tables refer to this one.
                    name, _, _ = table.quoted(connection)
                    with connection.cursor() as cursor:
                        cursor.execute(f"DELETE FROM {name}")  # noqa: S608 - a quoted name
                    _insert(source_alias, target_alias, table, None)
                    continue
                gone = changes.deleted + changes.changed
                for named in source.in_clauses(gone):
                    _delete(target_alias, table, named)
                for named in source.in_clauses(changes.new + changes.changed):
                    _insert(source_alias, target_alias, table, named)
            target.check_written_keys(target_alias, [c.table for c in found])
    finally:
        if connection.vendor in ("mysql", "sqlite"):
            connection.enable_constraint_checking()


def _delete(alias: str, table: Table, keys: list[int]) -> None:
    connection = connections[alias]
    name, key, _ = table.quoted(connection)
    marks = ", ".join(["%s"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {name} WHERE {key} IN ({marks})", keys)  # noqa: S608


def _insert(source_alias: str, target_alias: str, table: Table, keys: list[int] | None) -> None:
    transfer = Transfer(table, source_alias, target_alias)
    with closing(source.batches(source_alias, table, 5000, pks=keys, raw=True)) as batches:
        for batch in batches:
            transfer.write(batch)


def _line(changes: Changes) -> str:
    table = changes.table.name
    if changes.whole:
        return f"{table}: copied again whole ({changes.whole})\n"
    return (
        f"{table}: {len(changes.new)} new, {len(changes.changed)} changed, "
        f"{len(changes.deleted)} deleted ({changes.seconds:.2f} s)\n"
    )


def _summary(found: list[Changes], out: Output) -> None:
    new = sum(len(c.new) for c in found)
    changed = sum(len(c.changed) for c in found)
    deleted = sum(len(c.deleted) for c in found)
    whole = [c.table.name for c in found if c.whole]
    out.write(
        f"\n{len(found)} tables: {new} new, {changed} changed and {deleted} deleted rows applied"
        + (f"; copied again whole: {', '.join(whole)}" if whole else "")
        + f"; {sum(c.seconds for c in found):.2f} s finding them.\n"
    )
