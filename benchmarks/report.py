"""Run every benchmark in one go and publish them in docs/benchmarks.md, with a plot.

    make bench        # or: python benchmarks/report.py [--quick]

Each benchmark prints its own table too. --quick runs fewer iterations (for a smoke test);
--only SCRIPT (for example --only instructions.py) runs that one again and republishes it
with the other figures of the last run, kept in docs/benchmarks.json; --publish measures
nothing and writes the page and the plot again from those figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = DOCS / "benchmarks.json"  # the rows behind the page, for --only
QUICK = "--quick" in sys.argv

# Many short rounds rather than a few long ones: on a shared machine the speed drifts over
# seconds, and a short round sees the same machine for every configuration in it.
RUNS = [
    ["request_overhead.py", *(["--number", "20", "--rounds", "4"] if QUICK else [])],
    ["guard_overhead.py", "--database", "sqlite", *(["--rounds", "4"] if QUICK else [])],
    ["guard_overhead.py", "--database", "postgresql", *(["--rounds", "4"] if QUICK else [])],
    ["flip_latency.py", *(["--rounds", "1"] if QUICK else ["--rounds", "9"])],
    ["instructions.py"],
]


def run_all(only: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as out:
        for index, args in enumerate(RUNS):
            if only is not None and args[0] != only:
                continue
            path = Path(out) / f"{index}.json"
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / args[0]),
                    *args[1:],
                    "--json",
                    str(path),
                ],
                check=True,
                cwd=ROOT,
            )
            rows += json.loads(path.read_text())
    return rows


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores"


def server_versions() -> str:
    found = []
    for command in (["psql", "--version"], ["redis-server", "--version"], ["mariadb", "--version"]):
        with contextlib.suppress(OSError):
            found.append(subprocess.run(command, capture_output=True, text=True).stdout.strip())
    return "; ".join(found)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in dict.fromkeys(r["group"] for r in rows) if g.startswith("Per request")]
    # Wall-clock and instruction counts side by side, mode off and on.
    groups += [
        g
        for g in dict.fromkeys(r["group"] for r in rows)
        if g.startswith("Instructions per request")
    ]
    columns = 2
    rows_of_plots = (len(groups) + 1) // columns
    fig, axes = plt.subplots(
        rows_of_plots, columns, figsize=(13, 4.8 * rows_of_plots), squeeze=False
    )
    for axis, group in zip(axes.flat, groups, strict=False):
        data = [r for r in rows if r["group"] == group]
        positions = list(range(len(data)))
        colours = [
            "#8a8f98"
            if r["config"] == r["baseline"]
            else "#1d5c8c"
            if r["config"].startswith("dbtools")
            else "#c9822b"
            for r in data
        ]
        axis.barh(positions, [r["value"] for r in data], color=colours)
        axis.set_yticks(positions, [r["config"].replace(", ", ",\n") for r in data], fontsize=8)
        axis.invert_yaxis()
        axis.set_title(group)
        axis.set_xlabel(
            "instructions per request (lower is better)"
            if group.startswith("Instructions")
            else "microseconds per request (lower is better)"
        )
        for y, r in enumerate(data):
            axis.text(r["value"], y, f" x{r['ratio']:.3f}", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for group in dict.fromkeys(r["group"] for r in rows):
        data = [r for r in rows if r["group"] == group]
        lines += [
            f"### {group}",
            "",
            f"| configuration | {data[0]['unit']} | ratio to {data[0]['baseline']} | spread |",
            "|---|---:|---:|---:|",
        ]
        for r in data:
            extra = (
                f" (command returned after {r['command_returned']:.2f} s)"
                if "command_returned" in r
                else ""
            )
            spread = (
                f"{r['low']:.3f}-{r['high']:.3f}" if r.get("low", 1) != r.get("high", 1) else ""
            )
            value = (
                f"{r['value']:,.0f}"
                if r["unit"].startswith("instructions")
                else f"{r['value']:.3f}"
            )
            lines.append(f"| {r['config']}{extra} | {value} | x{r['ratio']:.3f} | {spread} |")
        lines.append("")
    return "\n".join(lines)


READING = """## Reading these figures

- **Per request** goes through Django's bare WSGI handler with sessions and authentication, for
  a logged-in visitor: SessionMiddleware loads the session, AuthenticationMiddleware the user,
  and the view makes one small query of its own, three queries on SQLite in all. With a mode
  on, ours still serves the page (read-only), while django-maintenance-mode answers its 503
  page without running the view. As nothing can write a session while a mode is on, ours
  reads a visitor's session once per process and keeps it: the same visitor's next requests
  skip the session query, which is why ours costs less than no middleware then. "Each request
  a visitor's first" is the cost when the session is never found kept (a visitor's first
  request to a process in a mode): the session is frozen and kept, and each statement judged.
  django-maintenance-mode reads its state on every request (a file, or a Redis round trip);
  ours reads the copy a background thread keeps.
- **Instructions** are the same requests and queries counted in CPU instructions by valgrind's
  callgrind (`benchmarks/instructions.py`): each configuration in a fresh process, N and 3N
  operations, the difference over 2N. The count does not drift with the machine's speed, so a
  difference of a fraction of a percent shows; what remains is that any change of code shifts
  where objects land in memory, worth a few tenths of a percent per request either way: "a
  middleware that does nothing" shows that floor. Instructions are not time (a Redis round
  trip waits on the network and costs few of them), so both are given. With the state in
  Redis, the count also holds what the background thread does on its timer (a read every
  `DBTOOLS_REFRESH`), which under valgrind's fiftyfold slowdown falls on far fewer requests
  than in real time: that row overstates it.
- **Guard** is the cost per query of the database guard, counted in instructions too (with
  PostgreSQL, those of the Django process only, not the server's). django-read-only calls its
  execute wrapper on every query and, while read-only, checks the start of each statement.
  Ours, with no mode on, compares a change token when the cursor is made and when the
  statement runs; with a mode on it also judges the whole statement with its allowlist (the
  verdict kept per statement text) and keeps the database's own read-only session in step.
- **Flip latency** is the time from the switch to the last of the workers refusing a write,
  while 4 clients keep sending writes on new connections (median of 9 switches). "From the
  switch" times the command's work in a process already running; "whole command" starts it in
  a new process, whose start-up (Python, Django) is most of it. A worker can only be seen
  refusing when a client reaches it, so how fast the clients cover every worker bounds both
  designs. django-maintenance-mode's processes read the state on every request. Ours are sent
  the state through Redis pub/sub the moment it is written, take a mode turned on up at once
  and confirm it from the store; with any other store they poll every `DBTOOLS_REFRESH` (1 s).
  `dbtools on` still waits out `DBTOOLS_REFRESH` before returning, so that when it returns even
  a process that missed the message honours the new state.
"""


def main() -> None:
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    publish_only = "--publish" in sys.argv
    rows = [] if publish_only else run_all(only)
    if only is not None or publish_only:
        # One benchmark measured again: its groups replace theirs in the last full run.
        fresh = {r["group"] for r in rows}
        kept = [r for r in json.loads(RESULTS.read_text()) if r["group"] not in fresh]
        rows = kept + rows
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")
    DOCS.mkdir(exist_ok=True)
    plot(rows, DOCS / "benchmarks.png")
    packages = ", ".join(
        f"{name} {version(name)}"
        for name in (
            "Django",
            "django-db-tools",
            "django-read-only",
            "django-maintenance-mode",
            "psycopg",
            "redis",
        )
    )
    now = datetime.now(timezone.utc)
    when = f"{now:%Y-%m-%d %H:%M} UTC"
    # A page written again from kept figures says so: its date is not when they were measured.
    produced = (
        f"Written on {when} from the figures of the last run of `make bench`"
        " (`python benchmarks/report.py`), kept in benchmarks.json."
        if publish_only
        else f"Produced by `make bench` (`python benchmarks/report.py`) on {when}."
    )
    page = f"""# Benchmarks

{produced}
Every row of a table was measured in the same run as its baseline: many short rounds, each
configuration taking its turn in every round (from a different starting point each round).
The ratio is the median of the round-by-round ratios to the baseline; "spread" is the middle
half of them (first to third quartile), which shows how much of a difference is noise on this
machine. Times are medians too. Lower is better; a ratio just below 1 is noise around the
baseline (one far below it, ours with a mode on, is explained under the tables).

- Machine: {machine()}
- Python {platform.python_version()}; {packages}
- Servers: {server_versions()}

![Per-request cost, mode off and on](benchmarks.png)

{table(rows)}
{READING}"""
    (DOCS / "benchmarks.md").write_text(page)
    print(f"\nWrote {DOCS / 'benchmarks.md'} and {DOCS / 'benchmarks.png'}")


if __name__ == "__main__":
    main()
