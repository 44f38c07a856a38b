"""The Wagtail admin with ``dbtools.contrib.wagtail``: the banner on every admin page while a mode
is on, nothing while none is, and the README's URL order for the status endpoint.

A real Wagtail site (tests/wagtail_site/), run in a process of its own: Wagtail's apps in
tests/settings.py would change every other test of the suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.redis_support import CI

if importlib.util.find_spec("wagtail") is None:
    reason = "wagtail is not installed: pip install -r requirements/test.txt"
    if CI:
        pytest.fail(f"CI=true requires it: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
# Set by the tests themselves, never taken from the shell running the suite.
OWN_VARIABLES = ("READ_ONLY_MODE", "GET_ONLY_MODE", "DBTOOLS_WAGTAIL_ORDER")
MESSAGE = "The Wagtail test site is moving its database."  # tests/wagtail_site/settings.py
BANNER = 'class="dbtools-banner"'
ADMIN_PAGES = ["dashboard", "explorer", "edit"]  # the pages tests/wagtail_site/visit.py visits


def wagtail_site(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python *args`` with the Wagtail site's settings, its SQLite file in ``tmp``."""
    environment = {
        **{k: v for k, v in os.environ.items() if k not in OWN_VARIABLES},
        "DJANGO_SETTINGS_MODULE": "tests.wagtail_site.settings",
        "PYTHONPATH": str(ROOT),
        "DBTOOLS_WAGTAIL_DB": str(tmp / "wagtail.sqlite3"),
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=tmp,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What tests/wagtail_site/visit.py was served: one migrate for the whole module."""
    tmp = tmp_path_factory.mktemp("wagtail")
    report = tmp / "served.json"
    run = wagtail_site(tmp, "-m", "tests.wagtail_site.visit", str(report))
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = json.loads(report.read_text())
    return result


@pytest.mark.parametrize("page", [*ADMIN_PAGES, "login"])
def test_every_wagtail_admin_page_shows_the_banner_above_its_content_in_get_only_mode(
    served: dict[str, Any], page: str
) -> None:
    seen = served["get_only"][page]
    assert seen["status"] == 200
    body = seen["body"]
    assert body.count(BANNER) == 1
    assert "Read-only for maintenance." in body and MESSAGE in body
    assert body.index(BANNER) < body.index("<main")


@pytest.mark.parametrize("page", [*ADMIN_PAGES, "login"])
def test_the_wagtail_admin_shows_nothing_of_the_banner_when_no_mode_is_on(
    served: dict[str, Any], page: str
) -> None:
    seen = served["off"][page]
    assert seen["status"] == 200
    assert "dbtools-banner" not in seen["body"]
    assert MESSAGE not in seen["body"]


def test_in_anonymous_mode_editors_are_sent_to_a_login_page_with_the_banner(
    served: dict[str, Any],
) -> None:
    for page in ADMIN_PAGES:
        assert served["anonymous"][page]["status"] == 302
        assert served["anonymous"][page]["location"].startswith("/admin/login/?next=")
    login = served["anonymous"]["login"]
    assert login["status"] == 200 and login["body"].count(BANNER) == 1 and MESSAGE in login["body"]


@pytest.mark.parametrize("mode", ["off", "get_only", "anonymous"])
def test_the_status_url_listed_before_wagtails_catch_all_answers_with_the_json_status(
    served: dict[str, Any], mode: str
) -> None:
    status = served[mode]["status"]
    assert status["status"] == 200
    assert status["type"] == "application/json"
    assert json.loads(status["body"])["mode"] == mode


def test_the_readme_setup_passes_the_system_checks(served: dict[str, Any]) -> None:
    assert [id for id in served["checks"] if id.startswith("dbtools.")] == []


def test_the_banner_app_listed_after_wagtail_admin_is_warned_about_by_w003(
    tmp_path: Path,
) -> None:
    run = wagtail_site(tmp_path, "-m", "django", "check", DBTOOLS_WAGTAIL_ORDER="wrong")
    assert run.returncode == 0, run.stderr
    assert "(dbtools.W003) dbtools.contrib.wagtail comes after wagtail.admin" in run.stderr
