"""The read-only window: today's way (a full copy in it, then a restart) against the short one.

    make bench-window
    python benchmarks/sync_window.py [--narrow N] [--wide N] [--changed PERMILLE]

On the copy benchmark's generated data (benchmarks/copy_site: narrow rows and rows shaped like
a Django site's, over 1 GB on the source by default), for MariaDB and PostgreSQL to
PostgreSQL, side by side:
- today's way: inside the window, ``dbtools copy`` of everything (and its verification), then
  a restart onto the new database (timed as starting the site's process afresh);
- the short window: ``dbtools copy --live`` while the site is writable, a thousandth of the
  rows changed while it runs (updates scattered over every chunk of keys, a few deletes and
  inserts), then inside the window ``dbtools on``, ``sync`` (which finds the changes, applies
  them and verifies), ``cutover --to new`` and ``off``.
Prints both windows, and sync against the full copy (the target: at most 1/5); writes
docs/sync-window.md, .json and .png.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from copy_throughput import (  # noqa: E402
    DOCS,
    PAIRS,
    PREFIX,
    PYTHON,
    TARGET,
    Databases,
    Run,
    generate,
    maria_admin,
    pg_admin,
    site_env,
    source_bytes,
    timed,
)

from benchmarks.harness import machine, option  # noqa: E402

TARGET_RATIO = 0.2


def change(vendor: str, name: str, narrow: int, wide: int, permille: int) -> int:
    """Scatter changes over the source's keys: updates in every chunk, a few deletes, inserts."""
    step = max(1, 1000 // permille)
    statements = [
        f"UPDATE bench_app_narrow SET number = number + 1 WHERE id % {step} = 0",
        f"UPDATE bench_app_wide SET title = CONCAT(title, ' (edited)') WHERE id % {step} = 7",
        f"DELETE FROM bench_app_wide WHERE id IN ({wide - 1}, {wide - 2})",
        f"INSERT INTO bench_app_narrow (id, number, code, flag, created) "
        f"SELECT id + {narrow}, number, code, flag, created FROM bench_app_narrow WHERE id <= 3",
    ]
    if vendor == "postgresql":
        statements[1] = statements[1].replace("CONCAT(title, ' (edited)')", "title || ' (edited)'")
        for statement in statements:
            pg_admin(statement, name)
    else:
        for statement in statements:
            maria_admin(statement, name)
    return narrow // step + wide // step + 2 + 3


def manage(
    vendor: str, source: str, *args: str, mode: bool = False, state: Path | None = None
) -> Run:
    env = site_env(vendor, source, mode=mode)
    if state is not None:
        env["COPY_BENCH_STATE_FILE"] = str(state)
    return timed([PYTHON, "-m", "django", *args], env)


@dataclass
class Window:
    pair: str
    megabytes: float
    rows: int
    changed: int
    today: dict[str, float]  # step -> seconds, in the order run
    short: dict[str, float]
    live_copy: float
    applied: str
    # `dbtools verify` of the pair just after the sync: one digest pass over both databases,
    # the least any sync that finds the changes by digests can take.
    digest_pass: float

    @property
    def ratio(self) -> float:
        return sum(self.short.values()) / sum(self.today.values())

    @property
    def sync_ratio(self) -> float:
        return self.short["sync"] / self.today["copy and verify"]


def fresh_target(dbs: Databases, vendor: str, source: str) -> None:
    dbs.create("postgresql", TARGET)
    manage(vendor, source, "migrate", "--database", "new", "-v0")


def window(vendor: str, narrow: int, wide: int, permille: int) -> Window:
    dbs = Databases()
    source = generate(dbs, vendor, f"{PREFIX}sync_{vendor}", narrow, wide)
    megabytes = source_bytes(vendor, source) / 1e6
    try:
        fresh_target(dbs, vendor, source)
        copy = ["dbtools", "copy", "--from", "default", "--to", "new", "--noinput"]
        today = {
            "copy and verify": manage(vendor, source, *copy, mode=True).seconds,
            # The restart onto the new database: the site's process started afresh.
            "restart": manage(vendor, source, "check", "--database", "new").seconds,
        }
        fresh_target(dbs, vendor, source)
        with tempfile.TemporaryDirectory() as var:
            state = Path(var) / "state.json"
            live = [*copy, "--live", "--no-verify"]
            changed: list[int] = []
            # The changes land while the live copy reads its snapshot.
            changer = threading.Timer(
                1.0, lambda: changed.append(change(vendor, source, narrow, wide, permille))
            )
            changer.start()
            live_copy = manage(vendor, source, *live, state=state).seconds
            changer.join()
            short: dict[str, float] = {}
            applied = ""
            for step, args in (
                ("on", ["dbtools", "on", "--get-only"]),
                ("sync", ["dbtools", "sync", "--from", "default", "--to", "new"]),
                ("cutover", ["dbtools", "cutover", "--to", "new", "--noinput"]),
                ("off", ["dbtools", "off"]),
            ):
                run = manage(vendor, source, *args, state=state)
                short[step] = run.seconds
                if step == "sync":
                    found = re.search(r"(\d+) new, (\d+) changed and (\d+) deleted", run.output)
                    applied = found[0] if found else run.output[-500:]
                    verify = ["dbtools", "verify", "--from", "default", "--to", "new"]
                    digest_pass = manage(vendor, source, *verify, state=state).seconds
        print(f"  sync: {applied}")
        return Window(
            f"{PAIRS[vendor]}",
            megabytes,
            narrow + wide,
            changed[0] if changed else 0,
            today,
            short,
            live_copy,
            applied,
            digest_pass,
        )
    finally:
        dbs.drop_all()


def main() -> None:
    narrow = option("--narrow", 1_000_000)
    wide = option("--wide", 2_000_000)
    permille = option("--changed", 1)
    print(f"{narrow:,} narrow + {wide:,} wide rows, {permille}/1000 changed during the live copy")
    windows = []
    for vendor in ("mariadb", "postgresql"):
        found = window(vendor, narrow, wide, permille)
        windows.append(found)
        print(
            f"{found.pair} ({found.megabytes:,.0f} MB): today's window "
            f"{sum(found.today.values()):.1f} s, the short one {sum(found.short.values()):.1f} s "
            f"(x{found.ratio:.3f}); sync x{found.sync_ratio:.3f} of the full copy "
            f"({'pass' if found.sync_ratio <= TARGET_RATIO else 'FAIL'}, target x{TARGET_RATIO}); "
            f"one digest pass (verify) {found.digest_pass:.1f} s, "
            f"x{found.digest_pass / found.today['copy and verify']:.3f} of the full copy"
        )
    publish(windows, narrow, wide, permille)
    sys.exit(0 if all(w.sync_ratio <= TARGET_RATIO for w in windows) else 1)


def publish(windows: list[Window], narrow: int, wide: int, permille: int) -> None:
    DOCS.joinpath("sync-window.json").write_text(
        json.dumps([asdict(w) for w in windows], indent=2) + "\n"
    )
    plot(windows)
    lines = [
        "# The read-only window: a full copy inside it, against copy --live, sync and cutover",
        "",
        f"Produced by `make bench-window` (`python benchmarks/sync_window.py`) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {narrow:,} narrow and "
        f"{wide:,} Django-like rows (benchmarks/copy_site), {permille}/1000 of them changed "
        "while the live copy ran. Seconds are wall clock, each command's start-up included.",
        "",
        f"- Machine: {machine()}",
        "",
        "![The two windows](sync-window.png)",
        "",
        "| pair | source size | today's window: copy and verify + restart | short window: "
        "on + sync + cutover + off | ratio | sync / full copy (target <= 0.2) "
        "| one digest pass (verify) / full copy |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for w in windows:
        today = " + ".join(f"{s:.1f}" for s in w.today.values())
        short = " + ".join(f"{s:.1f}" for s in w.short.values())
        verdict = "pass" if w.sync_ratio <= TARGET_RATIO else "FAIL"
        lines.append(
            f"| {w.pair} | {w.megabytes:,.0f} MB | {today} = {sum(w.today.values()):.1f} s | "
            f"{short} = {sum(w.short.values()):.1f} s | x{w.ratio:.3f} | "
            f"x{w.sync_ratio:.3f} ({verdict}) | "
            f"x{w.digest_pass / w.today['copy and verify']:.3f} ({w.digest_pass:.1f} s) |"
        )
    lines += [
        "",
        "Before the short window: `copy --live` took "
        + ", ".join(f"{w.live_copy:.1f} s ({w.pair})" for w in windows)
        + ", with the site writable. What sync applied: "
        + "; ".join(f"{w.pair}: {w.applied}" for w in windows)
        + ".",
        "",
        "One digest pass is `dbtools verify` of the pair, run just after the sync (outside the",
        "window): both databases digest every row once. Any sync that finds its changes by",
        "digests, as this one does, takes at least that long, so its ratio to the full copy is",
        "the floor of sync's.",
        "",
        "The restart is timed as the site's process started afresh (`manage.py check`), the",
        "least a restart costs; a real deploy adds its own time to today's window only.",
        "",
    ]
    DOCS.joinpath("sync-window.md").write_text("\n".join(lines))


def plot(windows: list[Window]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 1.2 + 1.1 * len(windows)))
    labels, y = [], 0
    colours = {
        "copy and verify": "#c44e52",
        "restart": "#dd8452",
        "on": "#8172b3",
        "sync": "#4c72b0",
        "cutover": "#55a868",
        "off": "#937860",
    }
    for w in windows:
        for name, steps in (("today", w.today), ("short", w.short)):
            left = 0.0
            for step, seconds in steps.items():
                axis.barh(y, seconds, left=left, color=colours[step], label=step)
                left += seconds
            axis.text(left, y, f" {left:.1f} s", va="center")
            way = "full copy in the window" if name == "today" else "live copy before, sync in"
            labels.append(f"{w.pair}\n{way}")
            y += 1
    handles, names = axis.get_legend_handles_labels()
    unique = dict(zip(names, handles, strict=True))
    axis.legend(unique.values(), unique.keys(), loc="lower right", fontsize=8)
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("read-only window, seconds")
    figure.tight_layout()
    figure.savefig(DOCS / "sync-window.png", dpi=110)


if __name__ == "__main__":
    main()
