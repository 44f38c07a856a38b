"""``dbtools copy``: every table Django manages, from one alias to another, in batches."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass
from queue import Queue
from typing import Any

from django.core.management.base import CommandError
from django.db import connections

from dbtools.migration import preflight, records, sequences, snapshot, source, target, verifying
from dbtools.migration.progress import Done, Output, Progress
from dbtools.migration.tables import Table, copied_tables
from dbtools.migration.transfer import Rows, Transfer
from dbtools.migration.values import BadValue
from dbtools.permission import writes_allowed
from dbtools.state import utcnow


@dataclass(frozen=True)
class CopyOptions:
    source: str
    target: str
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    batch_size: int = 5000
    jobs: int = 1
    truncate: bool = False
    resume: bool = False
    dry_run: bool = False
    verify: bool = True
    live: bool = False
    confirm: Callable[[str], bool] | None = None  # None: --noinput


class Interrupted(Exception):
    """Ctrl-C, taken at a batch boundary."""


def copy(options: CopyOptions, out: Output) -> None:
    """Copy, then verify unless told not to: a CommandError when the two differ.

    A live copy is verified against the snapshot it copied, read in the same transaction:
    the source has moved on since.
    """
    preflight.check_aliases(options.source, options.target)
    tables = copied_tables(options.source, options.target, options.include, options.exclude)
    preflight.check_migrations(options.source, options.target)
    if not options.live:
        preflight.check_source_read_only(options.source)
    live = snapshot.consistent(options.source) if options.live else nullcontext(None)
    with writes_allowed(), live as view:
        held = preflight.occupied(options.target, tables)
        counts = {t: source.count(options.source, t) for t in tables}
        if options.dry_run:
            _print_plan(options, tables, counts, held, out)
            return
        _load(options, tables, counts, held, view, out)
        if options.verify:
            out.write("\nVerifying" + (" against the snapshot copied" if view else "") + "…\n")
            # A snapshot is this thread's: its tables are compared one at a time, here.
            jobs = 1 if view is not None else options.jobs
            _verify(options, tables, out, jobs)
    records.put(
        "copy",
        options.source,
        options.target,
        {
            "at": utcnow().isoformat(),
            "live": options.live,
            "snapshot": view and view.taken_at.isoformat(),
        },
    )
    if view is not None:
        out.write(f"Copied {view.describe()}: writes made since are not in it (`dbtools sync`).\n")


def _verify(options: CopyOptions, tables: list[Table], out: Output, jobs: int) -> None:
    try:
        matched = verifying.verify(options.source, options.target, tables, out, jobs)
    except Exception as error:
        again = f"python manage.py dbtools verify --from {options.source} --to {options.target}"
        raise CommandError(
            f"The copy is done, but its verification stopped: {type(error).__name__}: {error}"
            f"\nVerify it with `{again}`."
        ) from error
    if not matched:
        raise CommandError(
            f"The copy does not match {options.source!r}: see the differences above."
        )


def _load(
    options: CopyOptions,
    tables: list[Table],
    counts: dict[Table, int],
    held: dict[Table, int],
    view: snapshot.Snapshot | None,
    out: Output,
) -> None:
    if not options.resume:
        if options.truncate and held:
            _confirm_truncate(options, held)
        elif not options.truncate:
            preflight.check_target_empty(options.target, held)
        # Every copied table at once: PostgreSQL truncates a table another refers to
        # only together with it, and the others are empty (checked above) or asked for.
        target.empty(options.target, tables)
    target.drop_foreign_keys(options.target, tables)
    progress = Progress(out, sum(counts.values()), len(tables))
    _copy_tables(options, tables, counts, progress, view)
    target.unchecked(options.target)  # this thread's connection: checked again below
    restored = target.restore_foreign_keys(options.target, tables)
    sequences.reset(options.target, tables)
    target.analyze(options.target, tables)
    progress.summary()
    if restored:
        out.write(f"{restored} foreign key(s) put back on {options.target!r}, as they were.\n")


def _copy_tables(
    options: CopyOptions,
    tables: list[Table],
    counts: dict[Table, int],
    progress: Progress,
    view: snapshot.Snapshot | None,
) -> None:
    stop = threading.Event()
    # SQLite takes one writer at a time: more jobs would only wait on its lock. Only
    # PostgreSQL lets other connections read a live copy's snapshot.
    single = connections[options.target].vendor == "sqlite" or (view and not view.shareable)
    jobs = 1 if single else max(1, options.jobs)
    with _stopping_at_batches(stop):
        if jobs == 1:
            for table in tables:
                _copy_table(options, table, counts[table], progress, stop)
            return
        with ThreadPoolExecutor(jobs, thread_name_prefix="dbtools-copy") as pool:
            futures = [
                pool.submit(
                    _in_own_connections, view, _copy_table, options, t, counts[t], progress, stop
                )
                for t in sorted(tables, key=lambda t: -counts[t])
            ]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in finished if f.exception() is not None]
            if failed:
                stop.set()
                wait(futures)
                raise failed[0].exception()  # type: ignore[misc]


def _in_own_connections(
    view: snapshot.Snapshot | None, function: Callable[..., None], *args: Any
) -> None:
    """A job thread: allowed to write for itself, reading the live copy's snapshot if any,
    its connections closed when it ends."""
    try:
        with writes_allowed(), snapshot.joined(view) if view else nullcontext():
            function(*args)
    finally:
        connections.close_all()


def _copy_table(
    options: CopyOptions, table: Table, total: int, progress: Progress, stop: threading.Event
) -> None:
    after = None
    note = ""
    if options.resume:
        copied = source.count(options.target, table)
        if copied and table.integer_key:
            after = source.largest_key(options.target, table)
            note = f"resumed after key {after}"
        elif copied:
            # Text keys sort by each database's collation: no "after" both agree on.
            target.empty(options.target, [table])
            note = "copied again whole (its key is not an integer)"
    target.unchecked(options.target)
    remaining = total if after is None else max(0, total - source.count(options.target, table))
    done = Done(table.label, table.name)
    running = progress.start(done, remaining)
    # A batch's commit need not wait for the disk: should the target's server crash, the last
    # few may be lost, and `--resume` copies them again. The copy's own last commits (its
    # foreign keys, in PostgreSQL's DDL) wait, and so make every batch before them durable.
    transfer = Transfer(table, options.source, options.target, durable=False)
    read = source.batches(options.source, table, options.batch_size, after, raw=True)
    behind = remaining > options.batch_size and target.uses_copy(connections[options.target])
    try:
        with closing(read) as rows, _writing(transfer, running.advance, behind) as write:
            for batch in rows:
                if stop.is_set():
                    raise Interrupted
                write(batch)
    except BadValue:
        stop.set()
        raise
    finally:
        running.finish(note)


@contextmanager
def _writing(
    transfer: Transfer, done: Callable[[int], None], behind: bool
) -> Iterator[Callable[[Rows], None]]:
    """Writes batches in order; ``behind``: on a thread of its own, while the next is read.

    Then PostgreSQL takes in one batch while the source sends the next, instead of each
    waiting on the other. One batch at most waits to be written, so memory stays flat, and
    every batch is committed before the next one starts: ``--resume`` still continues after
    the last. A write's error comes out of the next call, or on leaving.
    """

    def write(rows: Rows) -> None:
        transfer.write(rows)
        done(len(rows))

    if not behind:
        yield write
        return
    waiting: Queue[Rows | None] = Queue(maxsize=1)
    failed: list[BaseException] = []

    def writer() -> None:
        while (rows := waiting.get()) is not None:
            if not failed:  # after a failure, only drained
                try:
                    write(rows)
                except BaseException as error:  # noqa: BLE001 - raised again by the reader
                    failed.append(error)

    thread = threading.Thread(
        target=_in_own_connections, args=(None, writer), name=f"dbtools-write-{transfer.table.name}"
    )
    thread.start()

    def hand_over(rows: Rows) -> None:
        if failed:
            raise failed[0]
        waiting.put(rows)

    try:
        yield hand_over
    finally:
        waiting.put(None)
        thread.join()
    if failed:
        raise failed[0]


@contextmanager
def _stopping_at_batches(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C sets ``stop``; each table stops before its next batch."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum: int, frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: now
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if stop.is_set():
        raise Interrupted


def _confirm_truncate(options: CopyOptions, held: dict[Table, int]) -> None:
    rows = sum(held.values())
    question = (
        f"This deletes {rows} row(s) in {len(held)} table(s) of the database {options.target!r}"
        " before copying. Type 'yes' to continue: "
    )
    if options.confirm is not None and not options.confirm(question):
        raise CommandError("Nothing copied, nothing deleted.")


def _print_plan(
    options: CopyOptions,
    tables: list[Table],
    counts: dict[Table, int],
    held: dict[Table, int],
    out: Output,
) -> None:
    out.write(
        f"Plan: copy {len(tables)} tables from {options.source!r} to {options.target!r}, "
        "in this order:\n"
    )
    width = max([len(t.name) for t in tables] + [5])
    for table in tables:
        replaced = f"  (replaces the target's {held[table]} row(s))" if table in held else ""
        out.write(f"  {table.name:<{width}}  {counts[table]:>10} rows  {table.label}{replaced}\n")
    rate = _sample_rate(options, tables, counts)
    total = sum(counts.values())
    estimate = f"about {total / rate:.0f} s" if rate else "no rows to time"
    out.write(
        f"{total} rows in all; estimated time {estimate} (from reading a sample). "
        "Nothing written.\n"
    )


def _sample_rate(options: CopyOptions, tables: list[Table], counts: dict[Table, int]) -> float:
    """Rows per second read and converted from the largest tables, halved for the writes."""
    sample = sorted((t for t in tables if counts[t]), key=lambda t: -counts[t])[:3]
    rows, started = 0, time.monotonic()
    for table in sample:
        size = min(2000, options.batch_size)
        with closing(source.batches(options.source, table, size, raw=True)) as read:
            batch = next(read, [])
        transfer = Transfer(table, options.source, options.target)
        transfer.prepared(batch)
        rows += len(batch)
    elapsed = time.monotonic() - started
    return rows / elapsed / 2 if rows and elapsed > 0 else 0.0
