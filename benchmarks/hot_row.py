"""A page that bumps one hot row, from concurrent clients: latency with a mode on, and without.

    python benchmarks/hot_row.py [--rounds 3] [--seconds 8] [--clients 8] [--workers 4]

The demo's note page adds one to the note's view counter on every GET. Every client opens
the same note, so every request updates the same row. With a mode on, that update is
discarded (``DBTOOLS_SAFE_REQUEST_WRITES = "discard"``): it runs in a transaction rolled
back when the response is ready, holding the row's lock until then, so the requests queue
on it. This measures how much, under gunicorn on PostgreSQL and MariaDB: p50 and p99 of the
page against the same page with no mode on, round by round, and counts every answer (a lock
waited on past 2 seconds gets the 503 refusal; anything else than 200 or that is a failure).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from loadtest import Database, Site, percentile  # noqa: E402

from benchmarks.harness import Config, Group, emit, in_turn, option  # noqa: E402
from tests.processes import RedisServer  # noqa: E402

CONFIGS = {"no mode": None, "GET-only mode, writes discarded": "--get-only"}


def hammer(url: str, clients: int, seconds: float) -> tuple[list[float], Counter[int]]:
    """``clients`` threads opening ``url`` for ``seconds``: each answer's time, and its codes."""
    times: list[float] = []
    codes: Counter[int] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    response.read()
                    code = response.status
            except urllib.error.HTTPError as error:
                code = error.code
            except OSError:
                code = 599
            with lock:
                codes[code] += 1
                if code == 200:
                    times.append(time.monotonic() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, codes


def run(vendor: str, rounds: int, seconds: float, clients: int, workers: int) -> list[Group]:
    var = Path(tempfile.mkdtemp(prefix=f"dbtools-hot-{vendor}-"))
    db = Database(vendor)
    redis = RedisServer(var)
    redis.start()
    site = Site(vendor, workers, redis, var, db.create())
    titles = {
        p: f"Hot-row page p{p}, {vendor}, {clients} clients, {workers} workers" for p in (50, 99)
    }
    groups = {
        p: Group(
            title,
            [Config(name, print, baseline=i == 0) for i, name in enumerate(CONFIGS)],
            unit="ms",
        )
        for p, title in titles.items()
    }
    for group in groups.values():
        group.samples = {name: [] for name in CONFIGS}
    answers: dict[str, Counter[int]] = {name: Counter() for name in CONFIGS}
    try:
        site.start()
        hammer(site.url + "/notes/1/", clients, 2)  # connections and imports, not counted
        for round_number in range(rounds):
            for name in in_turn(list(CONFIGS), round_number):
                mode = CONFIGS[name]
                site.manage("dbtools", *(["on", mode] if mode else ["off"]))
                times, codes = hammer(site.url + "/notes/1/", clients, seconds)
                answers[name] += codes
                for p, group in groups.items():
                    group.samples[name].append(percentile(times, p))
        site.manage("dbtools", "off")
    finally:
        site.stop()
        redis.stop()
    for name, codes in answers.items():
        counted = ", ".join(f"{code}: {count}" for code, count in sorted(codes.items()))
        print(f"{vendor}, {name}: answers {counted}")
        if set(codes) - {200, 503}:
            sys.exit(f"{vendor}, {name}: answers other than 200 and the refusal: {counted}")
    return list(groups.values())


def main() -> None:
    rounds = option("--rounds", 3)
    seconds = float(option("--seconds", 8))
    clients = option("--clients", 8)
    workers = option("--workers", 4)
    groups = []
    for vendor in ("postgresql", "mariadb"):
        groups += run(vendor, rounds, seconds, clients, workers)
    emit(groups)
    for group in groups:
        medians = [statistics.median(group.samples[name]) for name in CONFIGS]
        print(f"{group.title}: {' / '.join(f'{m:.1f} ms' for m in medians)}")


if __name__ == "__main__":
    main()
