"""The read-only window: a full copy inside it, against ``copy --live`` before it and ``sync``.

    python benchmarks/sync_window.py [--narrow N] [--wide N] [--changed PERMILLE]

On the copy benchmark's generated data (benchmarks/copy_site: narrow rows and rows shaped like
a Django site's), for MariaDB and PostgreSQL to PostgreSQL, side by side:
- today's way: inside the window, ``dbtools copy`` of everything (and its verification);
- the short window: ``dbtools copy --live`` the day before, then a thousandth of the rows
  changed (updates scattered over every chunk of keys, a few deletes and inserts), and inside
  the window ``dbtools sync`` (which finds the changes, applies them and verifies).
Prints both windows and their ratio; the target is sync at most 1/5 of the full copy.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from copy_throughput import (  # noqa: E402
    PREFIX,
    PYTHON,
    TARGET,
    Databases,
    generate,
    maria_admin,
    pg_admin,
    site_env,
    timed,
)

from benchmarks.harness import option  # noqa: E402

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


def manage(vendor: str, source: str, *args: str, mode: bool = True) -> float:
    run = timed([PYTHON, "-m", "django", *args], site_env(vendor, source, mode=mode))
    return run.seconds


def window(vendor: str, narrow: int, wide: int, permille: int) -> tuple[float, float, int]:
    dbs = Databases()
    source = generate(dbs, vendor, f"{PREFIX}sync_{vendor}", narrow, wide)
    try:
        dbs.create("postgresql", TARGET)
        manage(vendor, source, "migrate", "--database", "new", "-v0", mode=False)
        full = manage(vendor, source, "dbtools", "copy", "--from", "default", "--to", "new")
        dbs.create("postgresql", TARGET)
        manage(vendor, source, "migrate", "--database", "new", "-v0", mode=False)
        live = ["dbtools", "copy", "--live", "--from", "default", "--to", "new", "--no-verify"]
        manage(vendor, source, *live, mode=False)
        changed = change(vendor, source, narrow, wide, permille)
        run = timed(
            [PYTHON, "-m", "django", "dbtools", "sync", "--from", "default", "--to", "new"],
            site_env(vendor, source, mode=True),
        )
        applied = re.search(r"(\d+) new, (\d+) changed and (\d+) deleted rows applied", run.output)
        print(f"  sync: {applied[0] if applied else run.output[-500:]}")
        return full, run.seconds, changed
    finally:
        dbs.drop_all()


def main() -> None:
    narrow = option("--narrow", 1_000_000)
    wide = option("--wide", 200_000)
    permille = option("--changed", 1)
    print(f"{narrow:,} narrow + {wide:,} wide rows, {permille}/1000 changed after the live copy")
    failed = False
    for vendor in ("mariadb", "postgresql"):
        full, sync, changed = window(vendor, narrow, wide, permille)
        ratio = sync / full
        verdict = "pass" if ratio <= TARGET_RATIO else "FAIL"
        failed |= verdict == "FAIL"
        print(
            f"{vendor} → postgresql: window with a full copy (and its verify) {full:.1f} s; "
            f"with sync of {changed:,} changed rows (and its verify) {sync:.1f} s: "
            f"x{ratio:.3f} ({verdict}, target x{TARGET_RATIO})"
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
