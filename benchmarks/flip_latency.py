"""Time from a switch to the last worker refusing, across gunicorn workers.

    python benchmarks/flip_latency.py [--rounds R] [--workers W]

The demo runs under gunicorn with W workers, its state in Redis. For each switch, a poller
sends requests on new connections without pause and records, per worker process, when it
first refused; the latency is the time to the last worker's first refusal. Measured twice:
from the switch itself, made by `call_command` in a process already running (what the designs
differ on: a push, a read on every request, a poll), and from starting the command in a new
process, as an operator does (Python's and Django's start-up included). Compared in the same
run, in rounds in which every switch takes its turn: `dbtools on` (the state in Redis, pushed
to the workers over pub/sub; DBTOOLS_REFRESH=1, the default, underneath) and
django-maintenance-mode's `maintenance_mode on` with its file and its cache (Redis) backends.
The ratio is the median of the round-by-round ratios, as in the other benchmarks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import Config, Group, emit, in_turn, option  # noqa: E402
from tests.processes import free_port, served_by, start_gunicorn  # noqa: E402

EXAMPLE = ROOT / "example"
SWITCHER = """
import io
import sys
import django
django.setup()
from django.core.management import call_command
for line in sys.stdin:
    call_command(*line.split(), stdout=io.StringIO())
    print("done", flush=True)
"""
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
        self.server = start_gunicorn("tests.fleet:application", workers, port, ROOT, self.env)

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *args],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start_switcher(self) -> None:
        """A process with Django set up, that runs the commands it reads, one per line."""
        self.switcher = subprocess.Popen(
            [sys.executable, "-c", SWITCHER],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.switch_warm("check")

    def switch_warm(self, *command: str) -> None:
        assert self.switcher.stdin is not None and self.switcher.stdout is not None
        self.switcher.stdin.write(" ".join(command) + "\n")
        self.switcher.stdin.flush()
        if self.switcher.stdout.readline().strip() != "done":
            raise RuntimeError(f"{' '.join(command)} failed in the switcher")

    def flip(self, switch: Callable[[], None]) -> tuple[float, float]:
        """Seconds to the last worker's first refusal of a write, and to the switch's return."""
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
        switch()
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
        self.switcher.terminate()
        self.switcher.wait(timeout=20)
        self.server.terminate()
        self.server.wait(timeout=20)


# name: (the peer's backend the fleet runs with, the switch on, the switch off). Ours runs on
# the file-backend fleet: its state is in Redis whatever the peer's backend.
SWITCHES = {
    "dbtools, Redis (pub/sub)": ("file", ["dbtools", "on", "--anonymous"], ["dbtools", "off"]),
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
WAYS: dict[str, Callable[[Fleet, list[str]], Callable[[], None]]] = {
    "from the switch": lambda fleet, command: lambda: fleet.switch_warm(*command),
    "whole command, new process": lambda fleet, command: lambda: fleet.manage(*command),
}
SETTLE = 1.5  # seconds after a switch off, before the next switch on


def main() -> None:
    rounds = option("--rounds", 3)
    workers = option("--workers", 4)
    groups = {
        way: Group(
            f"Flip latency, {workers} gunicorn workers, {way}",
            [Config(name, print, baseline=i == 0) for i, name in enumerate(SWITCHES)],
            unit="s to the last worker refusing",
        )
        for way in WAYS
    }
    for group in groups.values():
        group.samples = {name: [] for name in SWITCHES}
    returned: dict[tuple[str, str], dict[str, Any]] = {}
    # Every fleet runs from the start, and each round gives every switch its turn (from a
    # different one each round), as the other benchmarks do: a slow minute of a shared
    # machine falls on all of them alike.
    fleets = {backend: Fleet(workers, backend) for backend in ("file", "cache")}
    try:
        for fleet in fleets.values():
            fleet.start_switcher()
        turns = [(way, name) for way in WAYS for name in SWITCHES]
        # A first round, not counted: a fleet's first switch pays for connections and
        # imports that every later one finds ready.
        for round_number in range(-1, rounds):
            for way, name in in_turn(turns, round_number):
                backend, on, off = SWITCHES[name]
                fleet = fleets[backend]
                latency, took = fleet.flip(WAYS[way](fleet, on))
                fleet.switch_warm(*off)
                time.sleep(SETTLE)
                if round_number < 0:
                    continue
                group = groups[way]
                group.samples[name].append(latency)
                note = returned.setdefault((group.title, name), {"command_returned": 0.0})
                note["command_returned"] = max(note["command_returned"], took)
    finally:
        for fleet in fleets.values():
            fleet.close()
    emit(list(groups.values()), returned)


if __name__ == "__main__":
    main()
