"""Processes that serve no request: management commands, and the test runner itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from dbtools import ReadOnlyError, writes_allowed
from tests.database import run_outside

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def notes_outside() -> list[str]:
    return [row[0] for row in run_outside("SELECT text FROM testapp_note ORDER BY id")]


def test_a_management_command_is_blocked_while_a_mode_is_on(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    with pytest.raises(ReadOnlyError):
        call_command("add_note", "from cron")
    assert notes_outside() == []


def test_the_same_command_writes_inside_writes_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = True
    with writes_allowed():
        call_command("add_note", "from the migration script")
    assert notes_outside() == ["from the migration script"]


def run_django(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "DBTOOLS_TEST_DB": "sqlite",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_command_in_its_own_process_is_blocked_by_the_environment_switch(tmp_path: Path) -> None:
    assert run_django(tmp_path, "migrate", "-v0").returncode == 0
    refused = run_django(tmp_path, "add_note", "cron job", GET_ONLY_MODE="true")
    assert refused.returncode != 0
    assert "Write blocked on database 'default'" in refused.stderr
    written = run_django(tmp_path, "add_note", "after the migration", GET_ONLY_MODE="false")
    assert written.returncode == 0, written.stderr
    import sqlite3

    rows = sqlite3.connect(tmp_path / "dbtools_test.sqlite3").execute(
        "SELECT text FROM testapp_note"
    )
    assert [row[0] for row in rows] == ["after the migration"]


def pytest_with_a_mode_on(
    test_file: str, switch: str, name: str
) -> subprocess.CompletedProcess[str]:
    """Run one test file of this repository in a new pytest, with ``switch`` exported."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "--create-db",
            str(ROOT / "tests" / test_file),
        ],
        cwd=ROOT,
        env={**os.environ, switch: "true", "DBTOOLS_TEST_DB_NAME": name},
        capture_output=True,
        text=True,
        timeout=300,
    )


def database_name(tmp_path: Path, stem: str) -> str:
    backend = os.environ.get("DBTOOLS_TEST_DB", "sqlite")
    return str(tmp_path / f"{stem}.sqlite3") if backend == "sqlite" else f"test_dbtools_{stem}"


def test_test_databases_are_created_and_migrated_while_a_mode_is_on(tmp_path: Path) -> None:
    """A suite run with READ_ONLY_MODE exported still gets its test database."""
    result = pytest_with_a_mode_on(
        "test_exempt_paths.py", "READ_ONLY_MODE", database_name(tmp_path, "nested")
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "passed" in result.stdout


def test_a_sites_suite_runs_with_a_mode_on(tmp_path: Path) -> None:
    """Django's test machinery (fixtures, flushes) is never refused; the tests' own writes are."""
    result = pytest_with_a_mode_on(
        "a_site_suite.py", "GET_ONLY_MODE", database_name(tmp_path, "suite")
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
