"""``dbtools verify``: the same rows on both sides, value by value, and counters past the keys."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connections

from dbtools.current import current_state
from dbtools.migration import digests, preflight, records, sequences, source
from dbtools.migration.digests import CHUNK
from dbtools.migration.progress import Output
from dbtools.migration.sides import Sides, sides
from dbtools.migration.tables import Field, Table
from dbtools.migration.values import JSON_NULL, Reader
from dbtools.state import utcnow

SHOWN = 10  # keys named per kind of difference
BATCH = 5000


@dataclass
class Report:
    table: Table
    source_rows: int = 0
    target_rows: int = 0
    differing: list[str] = field(default_factory=list)
    missing: list[Any] = field(default_factory=list)
    extra: list[Any] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"differing": 0, "missing": 0, "extra": 0}
    )

    @property
    def matches(self) -> bool:
        return not any(self.counts.values())

    def lines(self) -> list[str]:
        state = "match" if self.matches else "DIFFER"
        found = [f"{self.table.label:<40} {self.source_rows:>10} / {self.target_rows:<10} {state}"]
        for kind, keys, what in (
            ("differing", self.differing, "differ"),
            ("missing", self.missing, "missing on the target"),
            ("extra", self.extra, "extra on the target"),
        ):
            total = self.counts[kind]
            if total:
                more = " …" if total > len(keys) else ""
                found.append(f"    {total} row(s) {what}: {', '.join(map(str, keys))}{more}")
        return found


def verify(
    source_alias: str,
    target_alias: str,
    tables: list[Table],
    out: Output,
    jobs: int = 1,
    scope: Mapping[Table, Sequence[int]] | None = None,
) -> bool:
    """Compare every table; print a line per model; whether everything matches.

    ``scope``: for the tables it names, only the rows of those keys, and the row counts (what
    a sync changed: the rest was found identical just before, and nothing else writes).
    """
    preflight.check_aliases(source_alias, target_alias)
    if scope is not None:
        touched = sum(len(keys) for keys in scope.values())
        out.write(
            f"Compared again: the {touched} row(s) the changes touched, the tables copied again "
            "whole, and every table's row count.\n"
        )
    out.write(f"{'model':<40} {'source':>10} / {'target':<10}\n")

    def one(table: Table) -> Report:
        try:
            with sides() as pair:
                keys = None if scope is None else scope.get(table)
                return compare(source_alias, target_alias, table, pair, keys)
        finally:
            if jobs > 1:
                connections.close_all()

    if jobs > 1:
        with ThreadPoolExecutor(jobs, thread_name_prefix="dbtools-verify") as pool:
            reports = list(pool.map(one, tables))
    else:
        reports = [one(t) for t in tables]
    for report in reports:
        out.write("\n".join(report.lines()) + "\n")
    behind = sequences.behind(target_alias, tables)
    for line in behind:
        out.write(f"sequence behind on {target_alias!r}: {line}\n")
    matched = all(r.matches for r in reports) and not behind
    if matched:
        # For cutover: identical under this mode, so nothing was written since, while it holds.
        state = current_state()
        since = state.since.isoformat() if state.active and state.since else None
        noted = {"at": utcnow().isoformat(), "mode_since": since, "mode": state.mode.value}
        records.put("identical", source_alias, target_alias, noted)
    out.write(
        ("Everything matches." if matched else "Differences found.")
        + f" {sum(r.source_rows for r in reports)} rows in {len(reports)} tables.\n"
    )
    return matched


def compare(
    source_alias: str,
    target_alias: str,
    table: Table,
    pair: Sides,
    keys: Sequence[int] | None = None,
) -> Report:
    """The differences in ``table``; only in the rows of ``keys``, if given, and its count."""
    report = Report(table)
    key = table.fields.index(table.pk)
    bounds = (
        pair.both(digests.key_bounds, source_alias, target_alias, table)
        if table.integer_key
        else None
    )
    if bounds is None or digests.too_far_apart(bounds):
        # Text keys sort by each database's collation, and keys further apart than chunk
        # numbers reach would overflow them: matched by value instead, in memory.
        by_key = {row[key]: row for row in _rows(source_alias, table)}
        on_target = {row[key]: row for row in _rows(target_alias, table)}
        report.source_rows, report.target_rows = len(by_key), len(on_target)
        for pk in sorted(by_key.keys() - on_target.keys(), key=str):
            _note(report, "missing", pk)
        for pk in sorted(on_target.keys() - by_key.keys(), key=str):
            _note(report, "extra", pk)
        for pk in sorted(by_key.keys() & on_target.keys(), key=str):
            _compare_rows(report, table, pk, by_key[pk], on_target[pk])
        return report
    if keys is not None:
        report.source_rows, report.target_rows = pair.both(
            source.count, source_alias, target_alias, table
        )
        _merge_rows_of(report, source_alias, target_alias, table, keys)
        return report
    low = digests.lowest(bounds)
    if low is None:
        return report
    databases = (connections[source_alias], connections[target_alias])
    in_database, here = digests.split(table, databases)
    method = digests.method(table, databases)
    # First every column as each database writes it, all digested there: a value written
    # alike is the same value (JSON as jsonb writes it, say, if MySQL kept it so). Where the
    # first chunk shows them spelled apart, every chunk is digested with the columns no two
    # databases write alike read here. In a chunk that differs, each row is digested the same
    # way, and only the rows whose digests differ are read and compared value by value: a
    # thousand scattered changes touch every chunk, and a row spelled apart is no change.
    alike = digests.alike_as_written(here)
    spelled = [in_database + alike, [f for f in here if f not in alike]]
    by_value = [in_database, here]
    first = (low, low + CHUNK)
    if not alike or _spelled_apart(
        source_alias, target_alias, table, pair, method, spelled, by_value, first
    ):
        spelled = by_value
    mine, theirs = pair.both(
        digests.chunks, source_alias, target_alias, table, method, *spelled, low
    )
    report.source_rows = sum(rows for rows, _, _ in mine.values())
    report.target_rows = sum(rows for rows, _, _ in theirs.values())
    for chunk in sorted(mine.keys() | theirs.keys()):
        if mine.get(chunk) != theirs.get(chunk):
            within = (low + chunk * CHUNK, low + (chunk + 1) * CHUNK)
            left, right = pair.both(
                digests.rows, source_alias, target_alias, table, method, *spelled, within
            )
            suspects = sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))
            _merge_rows_of(report, source_alias, target_alias, table, suspects)
    return report


def _spelled_apart(
    source_alias: str,
    target_alias: str,
    table: Table,
    pair: Sides,
    method: str,
    spelled: list[list[Field]],
    by_value: list[list[Field]],
    keys: tuple[int, int],
) -> bool:
    """Whether the chunk of ``keys`` differs as each database writes it but not by value."""
    low = keys[0]
    written = pair.both(
        digests.chunks, source_alias, target_alias, table, method, *spelled, low, CHUNK, keys
    )
    if written[0] == written[1]:
        return False
    valued = pair.both(
        digests.chunks, source_alias, target_alias, table, method, *by_value, low, CHUNK, keys
    )
    return valued[0] == valued[1]


def _merge_rows_of(
    report: Report, source_alias: str, target_alias: str, table: Table, keys: Sequence[Any]
) -> None:
    """``_merge`` of the rows of ``keys`` on each side, a query's worth of keys at a time."""
    for named in source.in_clauses(keys):
        _merge(
            report,
            table,
            _rows(source_alias, table, pks=named),
            _rows(target_alias, table, pks=named),
        )


def _merge(
    report: Report, table: Table, left_rows: Iterator[list[Any]], right_rows: Iterator[list[Any]]
) -> None:
    """Two streams of rows in key order: what is missing, extra, or different."""
    key = table.fields.index(table.pk)
    left, right = next(left_rows, None), next(right_rows, None)
    while left is not None or right is not None:
        if left is not None and (right is None or left[key] < right[key]):
            _note(report, "missing", left[key])
            left = next(left_rows, None)
        elif right is not None and (left is None or right[key] < left[key]):
            _note(report, "extra", right[key])
            right = next(right_rows, None)
        elif left is not None and right is not None:
            _compare_rows(report, table, left[key], left, right)
            left, right = next(left_rows, None), next(right_rows, None)


def _rows(
    alias: str,
    table: Table,
    keys: tuple[int, int] | None = None,
    pks: list[Any] | None = None,
) -> Iterator[list[Any]]:
    reader = Reader(table, connections[alias])
    json_columns = [i for i, f in enumerate(table.fields) if f.get_internal_type() == "JSONField"]
    # A plain JSONField's text parsed here, its numbers exact, as the digests read them.
    exact = {i for i in json_columns if reader.json_text(i)}
    with closing(source.batches(alias, table, BATCH, keys=keys, pks=pks, raw=True)) as batches:
        for batch in batches:
            for raw in batch:
                reader.check_dates(raw)
                row = [
                    _exact_json(value)
                    if index in exact and type(value) is str
                    else reader.value(index, value)
                    for index, value in enumerate(raw)
                ]
                row = [v.tobytes() if isinstance(v, memoryview) else v for v in row]
                for index in json_columns:
                    row[index] = _json_value(row[index])
                yield row


def _exact_json(text: str) -> Any:
    value = digests.parsed_json(text)
    return JSON_NULL if value is None else value  # JSON's null apart from SQL's NULL


def _json_value(value: Any) -> Any:
    """A JSON value with its numbers compared by value, not by how the database spells them.

    PostgreSQL's jsonb keeps a number as a numeric and writes 1.5e300 out in full, which
    Python reads back as an int; MySQL and SQLite keep what was written.
    """
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return value


def _compare_rows(report: Report, table: Table, pk: Any, left: list[Any], right: list[Any]) -> None:
    if left == right:
        return
    fields = [f.name for f, a, b in zip(table.fields, left, right, strict=True) if a != b]
    report.counts["differing"] += 1
    if len(report.differing) < SHOWN:
        report.differing.append(f"{pk} ({', '.join(fields)})")


def _note(report: Report, kind: str, pk: Any) -> None:
    report.counts[kind] += 1
    keys = report.missing if kind == "missing" else report.extra
    if len(keys) < SHOWN:
        keys.append(pk)
