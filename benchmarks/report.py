"""Run every benchmark in one go and publish them in docs/benchmarks.md, with a plot.

    make bench        # or: python benchmarks/report.py [--quick]

Each benchmark prints its own table too. --quick runs fewer iterations (for a smoke test);
--only SCRIPT (for example --only instructions.py) runs that one again and republishes it
with the other figures of the last run, kept in docs/benchmarks.json; --publish measures
nothing and writes the page and the plot again from those figures.
"""

from __future__ import annotations

import compileall
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCS = ROOT / "docs"
RESULTS = DOCS / "benchmarks.json"  # the rows behind the page, for --only

from benchmarks.harness import machine  # noqa: E402

QUICK = "--quick" in sys.argv

# Many short rounds rather than a few long ones: on a shared machine the speed drifts over
# seconds, and a short round sees the same machine for every configuration in it.
RUNS = [
    ["request_overhead.py", *(["--number", "20", "--rounds", "4"] if QUICK else [])],
    ["guard_overhead.py", "--database", "sqlite", *(["--rounds", "4"] if QUICK else [])],
    ["guard_overhead.py", "--database", "postgresql", *(["--rounds", "4"] if QUICK else [])],
    ["flip_latency.py", *(["--rounds", "1"] if QUICK else ["--rounds", "15"])],
    ["instructions.py"],
    ["hot_row.py", *(["--rounds", "1", "--seconds", "3"] if QUICK else [])],
]


def compile_sources() -> None:
    """Write the bytecode of this checkout's modules, as a deployed site has it.

    The peers come installed with theirs; ours run from the checkout, and where
    PYTHONDONTWRITEBYTECODE is set every new process (a switch command, a worker) would
    compile them again, which no site in production does.
    """
    for folder in ("src", "example", "benchmarks", "tests"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def run_all(only: str | None = None) -> list[dict[str, Any]]:
    compile_sources()
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


# A row of ours is set against every peer in its table, except in the guard's tables, where
# each state of ours meets django-read-only in the same state.
LIKE_FOR_LIKE = {
    "dbtools, mode off": "django-read-only, writes allowed",
    "dbtools, GET-only mode on (reads)": "django-read-only, read-only",
}
FLOOR = "a middleware that does nothing"
# Two instruction counts closer than this share of the baseline are level: moving code
# shifts where objects land in memory by about that much.
LAYOUT = 0.003


def is_ours(row: dict[str, Any]) -> bool:
    return str(row["config"]).startswith("dbtools")


def counted_title(title: str) -> str:
    """The instruction-count table that holds the same rows as a timed table."""
    if title.startswith("Per request, "):
        return "Instructions per request, " + title.removeprefix("Per request, ")
    if title.startswith("Guard, "):
        return "Instructions per query, " + title.removeprefix("Guard, ")
    return ""


def by_the_clock(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """Ahead when ours took less time in three rounds of four, behind when more."""
    if "samples" not in ours or "samples" not in theirs:
        return ""
    ratios = [a / b for a, b in zip(ours["samples"], theirs["samples"], strict=True)]
    if len(ratios) > 1:
        low, _, high = statistics.quantiles(ratios, n=4)
    else:
        low = high = ratios[0]
    verdict = "ahead" if high < 1 else "behind" if low > 1 else "level"
    return f"{verdict} (x{ours['ratio']:.3f} vs x{theirs['ratio']:.3f})"


def in_instructions(ours: dict[str, Any], theirs: dict[str, Any], baseline: dict[str, Any]) -> str:
    gap = (ours["value"] - theirs["value"]) / baseline["value"]
    verdict = "ahead" if gap < -LAYOUT else "behind" if gap > LAYOUT else "level"
    return f"{verdict} (x{ours['ratio']:.3f} vs x{theirs['ratio']:.3f})"


def standing(rows: list[dict[str, Any]]) -> str:
    """Every row of ours against each peer, by the clock and in instructions."""
    found = {(r["group"], r["config"]): r for r in rows}
    lines = [
        "## Where dbtools stands",
        "",
        "Each row of ours against each peer doing the same job, from the tables below. By the",
        "clock, ours is ahead when it took less time than the peer in three rounds of four",
        "(the third quartile of the round-by-round ratio below 1), behind when it took more in",
        "three of four, and level otherwise. In instructions, level means closer than",
        f"{LAYOUT:.1%} of the baseline, the shift any change of code makes. Ratios are to the",
        "table's baseline.",
        "",
        "| table | ours | peer | by the clock | in instructions |",
        "|---|---|---|---|---|",
    ]
    tally: Counter[str] = Counter()
    for group in dict.fromkeys(r["group"] for r in rows):
        if group.startswith("Instructions"):
            continue
        data = [r for r in rows if r["group"] == group]
        counted = counted_title(group)
        for ours in filter(is_ours, data):
            if ours["config"] in LIKE_FOR_LIKE:
                peers = [r for r in data if r["config"] == LIKE_FOR_LIKE[ours["config"]]]
            else:
                skipped = (ours["baseline"], FLOOR)
                peers = [r for r in data if not is_ours(r) and r["config"] not in skipped]
            for theirs in peers:
                clock = by_the_clock(ours, theirs)
                count = ""
                if (counted, ours["config"]) in found:
                    count = in_instructions(
                        found[(counted, ours["config"])],
                        found[(counted, theirs["config"])],
                        found[(counted, ours["baseline"])],
                    )
                tally.update(verdict.split()[0] for verdict in (clock, count) if verdict)
                lines.append(
                    f"| {group} | {ours['config']} | {theirs['config']} | {clock} | {count} |"
                )
    summary = ", ".join(f"{tally[v]} {v}" for v in ("ahead", "level", "behind"))
    lines += ["", f"In all: {summary}.", ""]
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
  trip waits on the network and costs few of them), so both are given. Only the main thread,
  the one serving the requests, is counted: with the state in Redis, ours also has a
  background thread that reads the store every `DBTOOLS_REFRESH` and listens for switches,
  whose work comes on a timer, not with each request (under valgrind's fiftyfold slowdown
  it would fall on fifty times fewer requests than in real time). The clock figures hold it.
- **Guard** is the cost per query of the database guard, counted in instructions too (with
  PostgreSQL, those of the Django process only, not the server's). django-read-only calls its
  execute wrapper on every query and, while read-only, checks the start of each statement.
  Ours, with no mode on, compares a change token when the cursor is made and when the
  statement runs; with a mode on it also judges the whole statement with its allowlist (the
  verdict kept per statement text) and keeps the database's own read-only session in step.
- **Hot-row page** is the demo's note page, which adds one to a view counter on every GET,
  opened by every client at once, so every request updates the same row (under gunicorn, on
  PostgreSQL and MariaDB). With GET-only mode on, that update is discarded: it runs in a
  transaction rolled back when the response is ready, holding the row's lock until then, so
  the requests queue on it. p50 and p99 are per round, against the same page with no mode on;
  every answer was a 200 (a lock waited on for more than 2 seconds would get the refusal).
- **Flip latency** is the time from the switch to the last of the workers refusing a write,
  while 4 clients keep sending writes on new connections. Every fleet runs from the start and
  each round gives every switch its turn, so the ratio and its spread are round by round as in
  the other tables. "From the switch" times the command's work in a process already running;
  "whole command" starts it in a new process, whose start-up (Python, Django) is most of it,
  and where ours first imports the Redis client (redis-py imports its asyncio half with it),
  which a switch kept in a file does not need. A worker can only be seen
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
    if publish_only:
        produced = (
            f"Written on {when} from the figures of the last run of `make bench`"
            " (`python benchmarks/report.py`), kept in benchmarks.json."
        )
    elif only is not None:
        produced = (
            f"Produced by `make bench` (`python benchmarks/report.py`); {only} measured again"
            f" on {when} (`--only {only}`), the other figures kept from the run before."
        )
    else:
        produced = f"Produced by `make bench` (`python benchmarks/report.py`) on {when}."
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

{standing(rows)}
![Per-request cost, mode off and on](benchmarks.png)

{table(rows)}
{READING}"""
    (DOCS / "benchmarks.md").write_text(page)
    print(f"\nWrote {DOCS / 'benchmarks.md'} and {DOCS / 'benchmarks.png'}")


if __name__ == "__main__":
    main()
