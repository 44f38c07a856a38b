"""A fleet on real Redis: the demo under gunicorn (4 workers) and under uvicorn (ASGI, 2 workers).

After `dbtools on` returns, every unsafe request to any worker is refused and no write lands;
after `dbtools off` returns, every worker accepts writes again.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4

import pytest

from tests.processes import free_port, served_by, wait_for, wait_for_http
from tests.settings import BACKEND

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"


class Fleet:
    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "PYTHONPATH": f"{EXAMPLE}{os.pathsep}{ROOT}",
            "DEMO_VAR_DIR": str(tmp_path),
            "DEMO_DEBUG": "0",
            "DBTOOLS_STATE": "cache",
            "DEMO_REDIS_URL": redis_url,
            "DEMO_REDIS_PREFIX": f"fleet-{uuid4().hex}",
        }
        for name in ("READ_ONLY_MODE", "GET_ONLY_MODE"):
            self.env.pop(name, None)
        self.database = tmp_path / "demo.sqlite3"
        self.servers: list[subprocess.Popen[bytes]] = []

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result

    def serve(self, *command: str, port: int) -> str:
        self.servers.append(
            subprocess.Popen(
                [sys.executable, "-m", *command],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/healthz")
        return base

    def notes(self) -> int:
        with sqlite3.connect(self.database) as db:
            return int(db.execute("SELECT COUNT(*) FROM notes_note").fetchone()[0])

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
            server.wait(timeout=20)


def every_worker(base: str, workers: int, data: dict[str, str] | None) -> list[int]:
    """Requests until each of ``workers`` processes answered at least three; their statuses.

    They go in waves of ``workers`` at once: one after another, the kernel may hand nearly
    every connection to the same idle worker, and the others would never be asked."""
    seen: dict[str, int] = {}
    statuses: list[int] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in range(200):
            for status, pid in pool.map(
                lambda _: served_by(base + "/api/notes/", data), range(workers)
            ):
                statuses.append(status)
                seen[pid] = seen.get(pid, 0) + 1
            if len(seen) >= workers and min(seen.values()) >= 3:
                return statuses
    raise AssertionError(f"only reached workers {seen}")


if BACKEND == "sqlite":  # the demo runs on SQLite: once per suite run is enough

    @pytest.fixture
    def fleet(tmp_path: Path, redis_url: str) -> Iterator[Fleet]:
        fleet = Fleet(tmp_path, redis_url)
        fleet.manage("migrate", "-v0")
        fleet.manage("load_demo")
        yield fleet
        fleet.stop()

    @pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
    def test_the_switch_reaches_every_worker(fleet: Fleet, server: str) -> None:
        port = free_port()
        if server == "gunicorn":
            base = fleet.serve(
                "gunicorn",
                "-w",
                "4",
                "-b",
                f"127.0.0.1:{port}",
                "tests.fleet:application",
                port=port,
            )
            workers = 4
        else:
            base = fleet.serve(
                "uvicorn",
                "--workers",
                "2",
                "--port",
                str(port),
                "tests.fleet:asgi_application",
                port=port,
            )
            workers = 2
        note = {"text": "written by the fleet test"}
        assert set(every_worker(base, workers, note)) == {201}
        written = fleet.notes()

        output = fleet.manage("dbtools", "on").stdout
        assert "Waiting" in output
        assert set(every_worker(base, workers, note)) == {503}
        assert set(every_worker(base, workers, None)) == {200}
        assert fleet.notes() == written

        fleet.manage("dbtools", "off")
        assert set(every_worker(base, workers, note)) == {201}
        assert fleet.notes() > written

    def test_the_switch_is_pushed_to_every_worker_before_their_next_poll(fleet: Fleet) -> None:
        fleet.env["DBTOOLS_REFRESH"] = "60"  # no worker polls again during this test
        port = free_port()
        base = fleet.serve(
            "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}", "tests.fleet:application", port=port
        )
        note = {"text": "written by the fleet test"}
        assert set(every_worker(base, 4, note)) == {201}  # every worker is up and listening

        for command, status in (("on", 503), ("off", 201)):
            switch = subprocess.Popen(
                [sys.executable, str(EXAMPLE / "manage.py"), "dbtools", command],
                env=fleet.env,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                wait_for(lambda s=status: set(every_worker(base, 4, note)) == {s}, seconds=20)
                assert switch.poll() is None, "the command is still waiting out DBTOOLS_REFRESH"
            finally:
                switch.kill()
                switch.wait()
