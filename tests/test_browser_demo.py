"""The demo walk-through, in a real browser (Debian's chromium driven by Playwright).

Log in, write a note, `dbtools on` from "a second terminal", see the banner, write and get the
refusal page with the typed text shown back, `dbtools off`, write again. Each page is checked
for accessibility errors a person would hit, and the banner and refusal page are saved as
screenshots under docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port, wait_for_http
from tests.redis_support import missing
from tests.settings import BACKEND

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("DBTOOLS_CHROMIUM", "/usr/bin/chromium")
# As root and on a closed network, chromium needs these to start quietly.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What a person meets: missing labels, unreadable contrast, no language, and the like.
BLOCKING_IMPACTS = {"serious", "critical"}


class Demo:
    def __init__(self, var: Path) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "DEMO_VAR_DIR": str(var),
            "DBTOOLS_REFRESH": "0.2",
            "PYTHONPATH": str(EXAMPLE),
        }
        for name in ("READ_ONLY_MODE", "GET_ONLY_MODE", "DBTOOLS_STATE", "DBTOOLS_STATE_FILE"):
            self.env.pop(name, None)
        self.database = var / "demo.sqlite3"
        self.server: subprocess.Popen[bytes] | None = None
        self.url = ""

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self) -> None:
        self.manage("migrate", "--noinput", "-v0")
        self.manage("load_demo")
        port = free_port()
        self.server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=EXAMPLE,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_for_http(self.url + "/healthz")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=20)

    def notes(self) -> list[str]:
        with sqlite3.connect(self.database) as db:
            return [row[0] for row in db.execute("SELECT text FROM notes_note ORDER BY id")]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def accessibility_errors(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    page.evaluate("window.scrollTo(0, 0)")  # axe scrolls elements into view to read colours
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in BLOCKING_IMPACTS
    ]


if BACKEND == "sqlite":  # the demo runs on SQLite: once per suite run is enough

    @pytest.fixture
    def demo(tmp_path: Path) -> Iterator[Demo]:
        demo = Demo(tmp_path)
        demo.start()
        yield demo
        demo.stop()

    @pytest.fixture
    def page() -> Iterator[Any]:
        if not shutil.which(CHROMIUM):
            missing(f"chromium is not installed at {CHROMIUM} (Debian: apt install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1100, "height": 760})
            yield context.new_page()
            browser.close()

    @pytest.mark.browser
    def test_the_walk_through(demo: Demo, page: Any) -> None:
        # Logged out: the notes are readable, no banner, and the page is accessible.
        page.goto(demo.url + "/")
        assert page.locator(".dbtools-banner").count() == 0
        assert accessibility_errors(page) == []

        page.get_by_role("link", name="Log in", exact=True).click()
        assert accessibility_errors(page) == []
        page.get_by_label("Username").fill("demo")
        page.get_by_label("Password").fill("demo")
        page.get_by_role("button", name="Log in").click()
        assert page.get_by_text("Signed in as").is_visible()

        page.get_by_label("Your note").fill("Written before the migration")
        page.get_by_role("button", name="Save note").click()
        assert page.get_by_text("Your note is saved.").is_visible()
        assert "Written before the migration" in demo.notes()
        assert accessibility_errors(page) == []

        # A second terminal: `python manage.py dbtools on`.
        output = demo.manage("dbtools", "on", "--message", "We are moving to PostgreSQL.")
        assert "GET-only mode is on everywhere" in output
        page.reload()
        banner = page.locator(".dbtools-banner")
        assert banner.is_visible()
        assert "We are moving to PostgreSQL." in banner.inner_text()
        assert page.get_by_text("Signed in as").is_visible()  # GET-only: still logged in
        assert accessibility_errors(page) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "banner.png"))

        typed = "A long note I would hate to lose <b>with markup</b> & all"
        page.get_by_label("Your note").fill(typed)
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Save note").click()
        assert navigation.value.status == 503
        assert page.get_by_role("heading", name="You can read, but changes are paused").is_visible()
        assert page.get_by_text("We are moving to PostgreSQL.").is_visible()
        shown_back = page.get_by_label("text")
        assert shown_back.input_value() == typed  # escaped in the HTML, intact on screen
        assert page.locator("b", has_text="with markup").count() == 0
        assert (
            page.locator("input[name=csrfmiddlewaretoken], textarea#csrfmiddlewaretoken").count()
            == 0
        )
        assert "csrfmiddlewaretoken" not in page.content()
        assert accessibility_errors(page) == []
        page.screenshot(path=str(SCREENSHOTS / "refusal.png"), full_page=True)
        assert typed not in demo.notes()

        # `python manage.py dbtools off`, and writing works again.
        demo.manage("dbtools", "off")
        page.goto(demo.url + "/")
        assert page.locator(".dbtools-banner").count() == 0
        page.get_by_label("Your note").fill("Written after the migration")
        page.get_by_role("button", name="Save note").click()
        assert page.get_by_text("Your note is saved.").is_visible()
        assert demo.notes()[-1] == "Written after the migration"


if BACKEND == "sqlite":

    @pytest.fixture(scope="module")
    def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
        """The project as a newcomer gets it: a clone of this commit, nothing installed."""
        clone = tmp_path_factory.mktemp("clone") / "django-db-tools"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=60)
        return clone

    @pytest.mark.browser
    @pytest.mark.parametrize("switch", ["GET_ONLY_MODE", "READ_ONLY_MODE"])
    def test_make_demo_from_a_fresh_clone_serves_in_the_mode_exported(
        fresh_clone: Path, page: Any, switch: str
    ) -> None:
        port = free_port()
        # What the suite's own process exported is not a newcomer's shell.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DBTOOLS_", "DEMO_", "DJANGO_", "PYTEST_"))
            and k not in ("PYTHONPATH", "VIRTUAL_ENV")
        }
        env.pop("READ_ONLY_MODE" if switch == "GET_ONLY_MODE" else "GET_ONLY_MODE", None)
        env.update({switch: "true", "DEMO_ADDRESS": f"127.0.0.1:{port}"})
        env["PATH"] = os.pathsep.join(
            p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(ROOT))
        )
        log = fresh_clone / f"demo-{switch}.log"
        with log.open("wb") as output:
            make = subprocess.Popen(
                ["make", "demo"],
                cwd=fresh_clone,
                env=env,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 300
            while not answers(url + "/healthz"):
                assert make.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            page.goto(url + "/")
            banner = page.locator(".dbtools-banner")
            assert banner.is_visible()
            # The demo's own data was written before the site began serving read-only.
            notes = page.locator("ul.notes li a")
            assert notes.count() > 0
            # A note's page counts its views (a write on GET): served, the count not kept.
            notes.first.click()
            assert page.get_by_text("read 0 times").is_visible()
            page.reload()
            assert page.get_by_text("read 0 times").is_visible()
            assert page.get_by_role("link", name="Log in", exact=True).is_visible()
            page.get_by_role("link", name="Log in", exact=True).click()
            page.get_by_label("Username").fill("demo")
            page.get_by_label("Password").fill("demo")
            with page.expect_navigation() as navigation:
                page.get_by_role("button", name="Log in").click()
            # Logging in writes a session: refused, and said so, in either mode.
            assert navigation.value.status == 503
            assert page.get_by_role("heading").first.is_visible()
            assert accessibility_errors(page) == []
            assert "Traceback" not in log.read_text()
        finally:
            os.killpg(make.pid, 15)
            make.wait(timeout=30)
