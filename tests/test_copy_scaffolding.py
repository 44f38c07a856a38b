"""The copy tests' scaffolding on its own, before any copy: the two-database site migrates both
aliases, populate_copy fills one, and the independent comparison tells a filled database from an
empty one, the same data written on two backends apart from nothing, and one changed value from
the rest.

The site (tests/copy_site/) runs in processes of its own, as the copy tests run it. Its databases
are dbtools_scaffold_src and dbtools_scaffold_dst on the servers (DBTOOLS_COPY_DB_PREFIX changes
the "dbtools_scaffold" part, for two runs side by side) and files in tmp_path for SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.copy_site import databases
from tests.copy_site.compare import differences
from tests.copy_site.tables import copied_tables
from tests.redis_support import missing
from tests.settings import BACKEND

# The site's databases are its own whatever the suite runs on: once per suite run is enough.
pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="runs with the suite's SQLite pass")

ROOT = Path(__file__).resolve().parent.parent
PREFIX = os.environ.get("DBTOOLS_COPY_DB_PREFIX", "dbtools_scaffold")
PAIRS = [("sqlite", "postgresql"), ("mariadb", "sqlite")]
ROWS = 200
# Set by the tests themselves, never taken from the shell running the suite.
OWN_VARIABLES = ("READ_ONLY_MODE", "GET_ONLY_MODE")
# Tables populate_copy writes to; migrate alone fills django_content_type and auth_permission.
FILLED = {
    "auth_group",
    "auth_group_permissions",
    "auth_user",
    "auth_user_groups",
    "auth_user_user_permissions",
    "copyapp_article",
    "copyapp_article_tags",
    "copyapp_code",
    "copyapp_comment",
    "copyapp_everything",
    "copyapp_left",
    "copyapp_node",
    "copyapp_place",
    "copyapp_reading",
    "copyapp_restaurant",
    "copyapp_right",
    "copyapp_tag",
    "copyapp_token",
    "django_admin_log",
    "django_session",
}


@dataclass
class Site:
    source: str
    target: str
    folder: Path
    session_key: str = ""
    empty_target: tuple[str, ...] = ()

    def name(self, vendor: str, role: str) -> str:
        if vendor == "sqlite":
            return str(self.folder / f"{role}.sqlite3")
        return f"{PREFIX}_{'src' if role == 'source' else 'dst'}"

    @property
    def source_name(self) -> str:
        return self.name(self.source, "source")

    @property
    def target_name(self) -> str:
        return self.name(self.target, "target")

    def run(self, *args: str, **env: str) -> str:
        """``python *args`` in the site's environment; its standard output."""
        environment = {
            **{k: v for k, v in os.environ.items() if k not in OWN_VARIABLES},
            "DJANGO_SETTINGS_MODULE": "tests.copy_site.settings",
            "PYTHONPATH": str(ROOT),
            "COPY_SOURCE": self.source,
            "COPY_SOURCE_NAME": self.source_name,
            "COPY_TARGET": self.target,
            "COPY_TARGET_NAME": self.target_name,
            "COPY_STATE_FILE": str(self.folder / "state.json"),
            **env,
        }
        done = subprocess.run(
            [sys.executable, *args],
            cwd=self.folder,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def populate(self, alias: str) -> str:
        """Fill ``alias`` with populate_copy; the session key it prints."""
        printed = self.run(
            "-m", "django", "populate_copy", "--database", alias, "--rows", str(ROWS)
        )
        return printed.strip().removeprefix("session=")

    def whoami(self, session_key: str, vendor: str, name: str) -> str:
        """Who /whoami/ says the cookie logs in, on the site reading ``name``."""
        return self.run(
            "-m", "tests.copy_site.whoami", session_key, COPY_SOURCE=vendor, COPY_SOURCE_NAME=name
        )

    def differences(self) -> list[str]:
        return differences(
            self.source, self.source_name, self.target, self.target_name, copied_tables()
        )


@pytest.fixture(scope="module", params=PAIRS, ids=lambda pair: "-to-".join(pair))
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """Both aliases migrated, the source populated, then (what an empty target looked like
    noted) the target populated with the same data."""
    source, target = request.param
    for vendor in {source, target}:
        reason = databases.unreachable(vendor)
        if reason:
            missing(reason)
    site = Site(source, target, tmp_path_factory.mktemp(f"{source}-{target}"))
    roles = ((source, site.source_name), (target, site.target_name))
    for vendor, name in roles:
        databases.create(vendor, name)
    try:
        for alias in ("default", "new"):
            site.run("-m", "django", "migrate", "--database", alias, "--noinput", "-v0")
        site.session_key = site.populate("default")
        site.empty_target = tuple(site.differences())
        site.populate("new")
        yield site
    finally:
        for vendor, name in roles:
            databases.drop(vendor, name)


def test_populate_prints_a_session_key_whose_cookie_logs_copier_in(site: Site) -> None:
    assert len(site.session_key) == 32
    assert site.whoami(site.session_key, site.source, site.source_name) == "copier"
    assert site.whoami("x" * 32, site.source, site.source_name) == ""


def test_a_target_without_the_data_differs_in_every_table_populate_fills(site: Site) -> None:
    counts = {
        line.split(":")[0] for line in site.empty_target if "rows in the source, 0 in" in line
    }
    assert counts == FILLED
    everything = [line for line in site.empty_target if line.startswith("copyapp_everything id=")]
    assert everything[0] == "copyapp_everything id=1: missing in the target"
    assert len(everything) == 10  # then a count, not 200 lines
    assert f"copyapp_everything: and {ROWS - 10} more rows that differ" in site.empty_target


def test_the_source_compared_with_itself_has_no_differences(site: Site) -> None:
    tables = copied_tables()
    assert differences(site.source, site.source_name, site.source, site.source_name, tables) == []


def test_the_same_data_written_through_django_on_two_backends_has_no_differences(
    site: Site,
) -> None:
    assert site.differences() == []


def test_one_value_changed_in_the_target_is_the_one_difference(site: Site) -> None:
    # Row 3 holds 0 in every integer column (populate cycles minimum, maximum, zero, random).
    with databases.connect(site.target, site.target_name) as raw:
        raw.cursor().execute("UPDATE copyapp_everything SET small = 1 WHERE id = 3")
    try:
        assert site.differences() == ["copyapp_everything id=3: small 0 became 1"]
    finally:
        with databases.connect(site.target, site.target_name) as raw:
            raw.cursor().execute("UPDATE copyapp_everything SET small = 0 WHERE id = 3")


def test_copied_tables_are_the_migrated_tables_but_django_migrations(site: Site) -> None:
    listed = {table.name for table in copied_tables()}
    for vendor, name in ((site.source, site.source_name), (site.target, site.target_name)):
        assert databases.table_names(vendor, name) - {"django_migrations"} == listed


def test_copied_tables_leave_out_proxy_and_unmanaged_models_and_keep_many_to_many_tables() -> None:
    tables = {table.name: table for table in copied_tables()}
    assert "copyapp_unmanaged" not in tables
    assert "copyapp_proxytag" not in tables
    assert {"copyapp_article_tags", "copyapp_reading", "auth_user_groups"} <= tables.keys()
    assert tables["copyapp_restaurant"].primary_key == ("place_ptr_id",)
    assert tables["copyapp_code"].primary_key == ("code",)
    assert dict(tables["copyapp_token"].columns) == {
        "key": "uuid",
        "code_id": "text",
        "label": "text",
    }
