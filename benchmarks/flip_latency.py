"""Time from the switch command starting to the last worker refusing, across gunicorn workers.

    python benchmarks/flip_latency.py [--rounds R] [--workers W]

The demo runs under gunicorn with W workers, its state in Redis. For each switch, a poller
sends requests on new connections without pause and records, per worker process, when it
first refused; the latency is the time from starting the command to the last worker's first
refusal. Compared in the same run: `manage.py dbtools on` (the state in Redis, pushed to the
workers over pub/sub; DBTOOLS_REFRESH=1, the default, underneath) and django-maintenance-mode's
`manage.py maintenance_mode on` with its file and its cache (Redis) backends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import option  # noqa: E402
from tests.processes import free_port, served_by, wait_for_http  # noqa: E402

EXAMPLE = ROOT / "example"
REDIS_URL = os.environ.get("DBTOOLS_REDIS_URL", "redis://127.0.0.1:6379/9")


class Fleet:
    def __init__(self, workers: int, maintenance_backend: str) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="dbtools-flip-"))
        self.workers = workers
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("READ_ONLY_MODE", "GET_ONLY_MODE")},
            "DJANGO_SETTINGS_MODULE": "benchmarks.fleet_settings",
            "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}",
            "DEMO_VAR_DIR": str(self.var),
            "DEMO_DEBUG": "0",
            "DBTOOLS_STATE": "cache",
            "DEMO_REDIS_URL": REDIS_URL,
            "DEMO_REDIS_PREFIX": f"flip-{uuid4().hex}",
            "MAINTENANCE_BACKEND": maintenance_backend,
        }
        self.manage("migrate", "-v0")
        self.manage("load_demo")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "tests.fleet:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(self.url + "/healthz")

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *args],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def flip(self, *command: str) -> tuple[float, float]:
        """Seconds to the last worker's first refusal of a write, and to the command's return."""
        first_refusal: dict[str, float] = {}
        stop = threading.Event()
        started = time.monotonic()

        def poll() -> None:
            while not stop.is_set():
                try:
                    status, pid = served_by(self.url + "/api/notes/", {"text": "probe"})
                except OSError:
                    continue
                if status == 503 and pid not in first_refusal:
                    first_refusal[pid] = time.monotonic() - started

        pollers = [threading.Thread(target=poll) for _ in range(4)]
        for thread in pollers:
            thread.start()
        self.manage(*command)
        returned = time.monotonic() - started
        deadline = time.monotonic() + 15
        while len(first_refusal) < self.workers and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        for thread in pollers:
            thread.join()
        if len(first_refusal) < self.workers:
            raise RuntimeError(f"only {len(first_refusal)} of {self.workers} workers refused")
        return max(first_refusal.values()), returned

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=20)


def main() -> None:
    rounds = option("--rounds", 3)
    workers = option("--workers", 4)
    switches = {
        "dbtools, Redis (pub/sub)": (
            "file",
            ["dbtools", "on", "--anonymous"],
            ["dbtools", "off"],
        ),
        "maintenance-mode, file backend": (
            "file",
            ["maintenance_mode", "on"],
            ["maintenance_mode", "off"],
        ),
        "maintenance-mode, cache backend (Redis)": (
            "cache",
            ["maintenance_mode", "on"],
            ["maintenance_mode", "off"],
        ),
    }
    results = []
    for name, (backend, on, off) in switches.items():
        fleet = Fleet(workers, backend)
        try:
            latencies, returns = [], []
            for _ in range(rounds):
                latency, returned = fleet.flip(*on)
                latencies.append(latency)
                returns.append(returned)
                fleet.manage(*off)
                time.sleep(1.5)
        finally:
            fleet.close()
        results.append((name, sorted(latencies)[len(latencies) // 2], max(returns)))
    base = results[0][1]
    print(f"\nFlip latency, {workers} gunicorn workers (median of {rounds}; s; ratio to dbtools)")
    rows = []
    for name, latency, returned in results:
        print(
            f"  {name:<44} {latency:8.2f} s  x{latency / base:6.3f}"
            f"   (command returned {returned:.2f} s)"
        )
        rows.append(
            {
                "group": f"Flip latency, {workers} gunicorn workers",
                "config": name,
                "value": latency,
                "unit": "s to the last worker refusing",
                "ratio": latency / base,
                "baseline": results[0][0],
                "command_returned": returned,
            }
        )
    if "--json" in sys.argv:
        Path(sys.argv[sys.argv.index("--json") + 1]).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
