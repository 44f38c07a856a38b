"""What a copy shows while it runs: bars on a terminal, a line per table otherwise, a summary."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from tqdm import tqdm


class Output(Protocol):
    """Where a command writes: a file, or Django's OutputWrapper around one."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


@dataclass
class Done:
    label: str
    table: str
    rows: int = 0
    seconds: float = 0.0
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Progress:
    """Thread-safe: each job reports its table's batches here."""

    out: Output
    total_rows: int
    tables: int
    bars: bool = field(default=False)
    finished: list[Done] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _overall: tqdm[Any] | None = None
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.bars = self.bars or bool(getattr(self.out, "isatty", lambda: False)())
        if self.bars:
            self._overall = tqdm(
                total=self.total_rows,
                desc=f"all {self.tables} tables",
                unit=" rows",
                unit_scale=True,
                file=self.out,
                position=0,
                dynamic_ncols=True,
            )
        self._positions: list[int] = []

    def start(self, done: Done, total: int) -> Table:
        with self._lock:
            position = min(set(range(1, len(self._positions) + 2)) - set(self._positions))
            self._positions.append(position)
        bar = (
            tqdm(
                total=total,
                desc=done.table,
                unit=" rows",
                unit_scale=True,
                file=self.out,
                position=position,
                leave=False,
                dynamic_ncols=True,
            )
            if self.bars
            else None
        )
        return Table(self, done, bar, position)

    def summary(self) -> None:
        if self._overall is not None:
            self._overall.close()
        elapsed = time.monotonic() - self._started
        width = max([len(d.table) for d in self.finished] + [5])
        self.out.write(f"\n{'table':<{width}}  {'rows':>10}  {'seconds':>8}  {'rows/s':>10}\n")
        for done in self.finished:
            note = f"  {done.note}" if done.note else ""
            self.out.write(
                f"{done.table:<{width}}  {done.rows:>10}  {done.seconds:>8.2f}  "
                f"{done.rate:>10.0f}{note}\n"
            )
        rows = sum(d.rows for d in self.finished)
        rate = rows / elapsed if elapsed > 0 else 0.0
        self.out.write(f"{'total':<{width}}  {rows:>10}  {elapsed:>8.2f}  {rate:>10.0f}\n")
        self.out.flush()


class Table:
    """One table in flight."""

    def __init__(
        self, progress: Progress, done: Done, bar: tqdm[Any] | None, position: int
    ) -> None:
        self.progress = progress
        self.done = done
        self.bar = bar
        self.position = position
        self.started = time.monotonic()

    def advance(self, rows: int) -> None:
        self.done.rows += rows
        if self.bar is not None:
            self.bar.update(rows)
            with self.progress._lock:
                if self.progress._overall is not None:
                    self.progress._overall.update(rows)

    def finish(self, note: str = "") -> None:
        done = self.done
        done.seconds = time.monotonic() - self.started
        done.note = note
        progress = self.progress
        with progress._lock:
            progress.finished.append(done)
            progress._positions.remove(self.position)
            if self.bar is not None:
                self.bar.close()
            else:
                extra = f" ({note})" if note else ""
                progress.out.write(
                    f"{done.table}: {done.rows} rows in {done.seconds:.2f} s, "
                    f"{done.rate:.0f} rows/s{extra}\n"
                )
                progress.out.flush()
