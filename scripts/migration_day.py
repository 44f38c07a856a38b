"""Migration day under load: the demo moved from MariaDB to PostgreSQL with no restart.

    make loadtest                                   # after the load and fault run
    python scripts/migration_day.py --duration 40   # the short run CI makes

The demo runs under gunicorn (several workers) on MariaDB, its state in a Redis server of the
run's own, while the load test's visitors read, post forms, write through the JSON API, open
notes and log in. While the site is writable, `dbtools copy --live` copies it into
PostgreSQL (the alias ``new``); visitors keep writing; then, still under load, `dbtools on
--get-only`, `dbtools sync`, `dbtools cutover --to new` and `dbtools off`, and the visitors go
on writing, now into PostgreSQL. Both databases have an audit trigger on the app's tables.
At the end it prints the window (from `on` to the return of `off`) and the checks, and exits
non-zero when any fails:
- no acknowledged write is missing from PostgreSQL, from before the window (they reached it
  through the copy and `sync`) or after it;
- no row changed on MariaDB from `on` to the end, and writes made after `off` are on
  PostgreSQL;
- no response other than 2xx, 3xx or the 503 refusal, and every read served in the window.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from loadtest import Database, Record, Site, Visitor, log  # noqa: E402

from tests.processes import RedisServer  # noqa: E402

NEW_DB = "dbtools_load_new"
STEPS = (
    ("on", ["dbtools", "on", "--get-only"]),
    ("sync", ["dbtools", "sync", "--from", "default", "--to", "new"]),
    ("cutover", ["dbtools", "cutover", "--to", "new", "--noinput"]),
    ("off", ["dbtools", "off"]),
)


class Day:
    """What the controller did, and when (wall clock, as the audit triggers note it)."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.seconds: dict[str, float] = {}
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.acknowledged_before_off = 0

    def run(self, site: Site, name: str, args: list[str]) -> bool:
        self.started[name] = time.time()
        result = site.manage(*args)
        self.ended[name] = time.time()
        self.seconds[name] = self.ended[name] - self.started[name]
        log(f"{name}: {self.seconds[name]:.2f} s, exit {result.returncode}")
        if result.returncode:
            self.failures.append(f"{' '.join(args)} failed: {result.stderr[-1500:]}")
        return result.returncode == 0


def controller(site: Site, day: Day, record: Record, deadline: float) -> None:
    time.sleep(3)  # the site writable under load before anything moves
    copy = ["dbtools", "copy", "--live", "--from", "default", "--to", "new", "--noinput"]
    if not day.run(site, "copy --live", copy):
        return
    time.sleep(3)  # writes after the snapshot: they reach PostgreSQL through sync
    for name, args in STEPS:
        if not day.run(site, name, args):
            return
    with record.lock:
        day.acknowledged_before_off = len(record.acknowledged)
    if time.monotonic() > deadline - 3:
        day.failures.append("the run was too short for writes after `off`: raise --duration")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of load in all")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()
    log(
        f"migration day: MariaDB to PostgreSQL, {options.clients} clients, "
        f"{options.workers} gunicorn workers, {options.duration} s"
    )
    var = Path(tempfile.mkdtemp(prefix="dbtools-migration-day-"))
    old, new = Database("mariadb"), Database("postgresql", NEW_DB)
    redis = RedisServer(var)
    redis.start()
    site = Site("mariadb", options.workers, redis, var, old.create())
    new.create()
    site.env.update(DEMO_NEW_DATABASE="postgresql", DEMO_NEW_DB_NAME=NEW_DB)
    record, day = Record(), Day()
    try:
        site.start()
        migrated = site.manage("migrate", "--database", "new", "-v0")
        if migrated.returncode:
            sys.exit(migrated.stderr)
        old.install_audit()
        new.install_audit()
        deadline = time.monotonic() + options.duration
        threads = [
            threading.Thread(target=Visitor(site, record, n).run, args=(deadline,))
            for n in range(options.clients)
        ]
        threads.append(threading.Thread(target=controller, args=(site, day, record, deadline)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        site.stop()
        redis.stop()
    return 0 if report(old, new, record, day) else 1


def report(old: Database, new: Database, record: Record, day: Day) -> bool:
    finished = "off" in day.ended
    stored = new.note_texts()
    lost = [t for t in record.acknowledged if t not in stored]
    # Writes go on until `on` has reached every process, which it returns on.
    on, off = day.ended.get("on", 0.0), day.started.get("off", 0.0)
    now = time.time()
    changed_on_old = old.changes_between(on, now) if finished else -1
    changed_on_new_after = new.changes_between(off, now) if finished else 0
    reads_in_window = [code for at, code in record.reads if on <= at <= day.ended.get("off", 0)]
    after_off = len(record.acknowledged) - day.acknowledged_before_off
    unserved = sum(1 for code in reads_in_window if code != 200)
    # (what is counted, how many, whether that count passes)
    checks = [
        ("commands that failed", len(day.failures), not day.failures),
        ("acknowledged writes missing from PostgreSQL", len(lost), not lost),
        (
            "row changes on MariaDB from the return of `on` to the end (audit)",
            changed_on_old,
            finished and changed_on_old == 0,
        ),
        ("responses other than 2xx, 3xx or the 503 refusal", len(record.bad), not record.bad),
        ("reads not served in the window", unserved, unserved == 0 and bool(reads_in_window)),
        ("acknowledged writes after `off` (some)", after_off, after_off > 0),
        (
            "row changes on PostgreSQL after `off` (some, audit)",
            changed_on_new_after,
            changed_on_new_after > 0,
        ),
    ]
    print("\n=== migration day: what happened")
    for key, count in sorted(record.statuses.items()):
        print(f"  {key:<24} {count}")
    for name, seconds in day.seconds.items():
        print(f"  {name:<24} {seconds:.2f} s")
    print(f"  acknowledged writes      {len(record.acknowledged)} ({after_off} after `off`)")
    if finished:
        window = day.ended["off"] - day.started["on"]
        print(f"  read-only window, from `on` to the return of `off`: {window:.2f} s")
    for text in lost[:10]:
        print(f"  lost: {text!r}")
    print("=== migration day: checks")
    for name, count, passed in checks:
        print(f"  {'ok  ' if passed else 'FAIL'} {name}: {count}")
    for line in (day.failures + record.bad)[:10]:
        print(f"       {line}")
    return all(passed for _, _, passed in checks)


if __name__ == "__main__":
    sys.exit(main())
