"""`dbtools copy` and `dbtools verify` between real databases, checked from outside.

Each ordered pair runs the two-database site (tests/copy_site) in processes of its own, as a
user runs manage.py: migrate both aliases, fill the source with every field type and relation
shape (tests/copyapp), turn a mode on, copy. The rows are then compared through the drivers
(tests/copy_site/compare.py), not through the code under test, and the site is pointed at the
target to insert, follow a generic foreign key and log in with the source's session cookie.

They use all three servers, so they run once per suite run, with its SQLite pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.copy_site.site import Site, run_outside, schema
from tests.settings import BACKEND

ROOT = Path(__file__).resolve().parent.parent
ROWS = 1500
PAIRS = [
    ("mariadb", "postgresql"),
    ("postgresql", "postgresql"),
    ("sqlite", "postgresql"),
    ("postgresql", "mariadb"),
    ("postgresql", "sqlite"),
    ("mariadb", "sqlite"),
]
# The matrix's corners (other Pythons and Djangos) run the headline pair only: CI's main run
# has every pair, and the corners' share of CI time stays small.
if os.environ.get("DBTOOLS_FEWER_PAIRS"):
    PAIRS = PAIRS[:1]


if BACKEND == "sqlite":

    @pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
    def test_a_copy_keeps_every_row_and_the_site_works_on_the_target(
        source: str, target: str, tmp_path: Path
    ) -> None:
        site = Site(source, target, tmp_path)
        try:
            session = site.prepare()
            before = schema(target, site.name("target")) if target == "postgresql" else []
            site.ok("dbtools", "on")
            output = site.ok("dbtools", "copy", "--from", "default", "--to", "new", "--jobs", "2")
            # Every row equal, read through the drivers rather than the code under test.
            assert "Everything matches." in output
            assert site.differences() == []
            # Foreign keys taken off for the load are back, with the same names and definitions.
            if target == "postgresql":
                assert schema(target, site.name("target")) == before
                # The planner's statistics gathered after the load, not those of empty tables.
                analyzed = run_outside(
                    site,
                    "target",
                    "SELECT reltuples FROM pg_class WHERE relname = 'copyapp_everything'",
                )
                assert analyzed[0][0] >= ROWS / 2
            # What was copied, and what was not.
            assert "copyapp_unmanaged" not in output and "django_migrations" not in output
            assert "ProxyTag" not in output
            for table in ("copyapp_article_tags", "copyapp_reading", "django_session"):
                assert table in output
            # The site pointed at the target: new rows, a generic foreign key, a session.
            done = site.on_target("-m", "tests.copy_site.after_move", session)
            assert done.returncode == 0, done.stderr[-3000:]
            found = json.loads(done.stdout.strip().splitlines()[-1])
            assert found["first_insert_failures"] == []
            assert found["comments"] > 0 and found["dangling_comments"] == []
            assert found["logged_in_as"] == "copier"
        finally:
            site.drop()

    @pytest.fixture
    def site(tmp_path: Path) -> Iterator[Site]:
        site = Site("sqlite", "postgresql", tmp_path, "dbtools_copy_one")
        yield site
        site.drop()

    def copy(site: Site, *extra: str) -> subprocess.CompletedProcess[str]:
        return site.manage("dbtools", "copy", "--from", "default", "--to", "new", *extra)

    def differences(site: Site) -> str:
        """What verify prints, having found differences and said so with its exit status."""
        done = site.manage("dbtools", "verify", "--from", "default", "--to", "new")
        assert done.returncode != 0
        assert "Differences found." in done.stdout
        return done.stdout

    def test_verify_names_the_rows_that_differ_are_missing_or_extra(site: Site) -> None:
        site.prepare(rows=200)
        site.ok("dbtools", "on")
        copy(site, "--no-verify")
        run_outside(
            site,
            "target",
            "UPDATE copyapp_everything SET char = 'changed' WHERE id = 7",
            # JSON is compared first as each database writes it, then by value.
            """UPDATE copyapp_everything SET data = '{"dbtools": "changed"}' WHERE id = 8""",
            "DELETE FROM copyapp_everything WHERE id = 9",
            "INSERT INTO copyapp_tag (id, name) VALUES (100000, 'extra')",
        )
        # Two floats SQLite writes alike as text (to 15 digits): compared by value.
        run_outside(
            site, "source", "UPDATE copyapp_everything SET real = 0.30000000000000004 WHERE id = 12"
        )
        run_outside(site, "target", "UPDATE copyapp_everything SET real = 0.3 WHERE id = 12")
        found = differences(site)
        assert "3 row(s) differ: 7 (char), 8 (data), 12 (real)" in found
        assert "1 row(s) missing on the target: 9" in found
        assert "1 row(s) extra on the target: 100000" in found

    # Every way two databases digest rows (digests.method): MariaDB and PostgreSQL one MD5 per
    # chunk of short rows (articles) and SHA-224 per row (everything), two PostgreSQL
    # databases hashtextextended, SQLite MD5.
    DIGESTED_PAIRS = PAIRS[:3]

    @pytest.mark.parametrize(
        ("source", "target"), DIGESTED_PAIRS, ids=[f"{s}-to-{t}" for s, t in DIGESTED_PAIRS]
    )
    def test_verify_finds_texts_moved_across_the_separators_of_a_digest(
        source: str, target: str, tmp_path: Path
    ) -> None:
        """Texts holding the '|' between a row's values and the '/' between a chunk's rows,
        changed so that the values joined are the same text on both sides."""
        site = Site(source, target, tmp_path, "dbtools_copy_one")
        try:
            site.prepare(rows=20)
            site.ok("dbtools", "on")
            copy(site, "--no-verify")
            # A nullable text is written after a 'v', as its value joined is here.
            for role, vendor, char, char_null in (
                ("source", source, "a|vb", "c"),
                ("target", target, "a", "b|vc"),
            ):
                q = "`" if vendor == "mariadb" else '"'  # CHAR is a word of MySQL's
                run_outside(
                    site,
                    role,
                    f"UPDATE copyapp_everything SET {q}char{q} = '{char}',"
                    f" char_null = '{char_null}' WHERE id = 5",
                )
            # Rows joined in a chunk: '1|a|n/2|b|n/3|c|n' on both sides, the keys apart.
            insert = "INSERT INTO copyapp_article (id, title, published) VALUES (%s, '%s', NULL)"
            run_outside(
                site,
                "source",
                insert % (900001, "a"),
                insert % (900002, "b|n/900003|c"),
            )
            run_outside(
                site,
                "target",
                insert % (900001, "a|n/900002|b"),
                insert % (900003, "c"),
            )
            found = differences(site)
            assert "1 row(s) differ: 5 (char, char_null)" in found
            assert "1 row(s) differ: 900001 (title)" in found
            assert "1 row(s) missing on the target: 900002" in found
            assert "1 row(s) extra on the target: 900003" in found
        finally:
            site.drop()

    HIGH = 5_000_000_000_000_000_000  # random 64-bit keys: chunk numbers would overflow
    WIDE_INSERT = f"INSERT INTO copyapp_tag (id, name) VALUES ({-HIGH}, 'low'), ({HIGH}, 'high')"
    WIDE_KEYS = (
        [WIDE_INSERT],
        [WIDE_INSERT, f"UPDATE copyapp_tag SET name = 'changed' WHERE id = {HIGH}"],
        f"1 row(s) differ: {HIGH} (name)",
    )
    HOSTILE = {
        # The schema lets NULL in where the model does not: the row is still digested.
        "null-in-a-not-null-column": (
            "postgresql",
            "postgresql",
            [
                "ALTER TABLE copyapp_article ALTER title DROP NOT NULL",
                "UPDATE copyapp_article SET title = NULL WHERE id = 1",
            ],
            [
                "ALTER TABLE copyapp_article ALTER title DROP NOT NULL",
                "UPDATE copyapp_article SET title = NULL, published = '1999-01-01 00:00:00+00'"
                " WHERE id = 1",
            ],
            "1 row(s) differ: 1 (published)",
        ),
        # Two floats PostgreSQL writes alike as text with extra_float_digits = 0.
        "floats-to-the-last-bit": (
            "postgresql",
            "postgresql",
            [
                "ALTER DATABASE {name} SET extra_float_digits = 0",
                "UPDATE copyapp_everything SET real = 0.30000000000000004 WHERE id = 12",
            ],
            [
                "ALTER DATABASE {name} SET extra_float_digits = 0",
                "UPDATE copyapp_everything SET real = 0.3 WHERE id = 12",
            ],
            "1 row(s) differ: 12 (real)",
        ),
        # Django reads 10:00 at +05:00 from SQLite: five hours before PostgreSQL's.
        "sqlite-datetime-with-an-offset": (
            "sqlite",
            "postgresql",
            [
                "UPDATE copyapp_article SET published = '2020-01-01 10:00:00.123456+05:00'"
                " WHERE id = 1"
            ],
            ["UPDATE copyapp_article SET published = '2020-01-01 10:00:00.123456+00' WHERE id = 1"],
            "1 row(s) differ: 1 (published)",
        ),
        # UTF-8 kept in a latin1 column, as legacy MySQL sites do: its bytes are those of
        # the target's 'café', but not its text.
        "mysql-latin1-column": (
            "mariadb",
            "postgresql",
            [
                # Names latin1 holds (the generated ones have emoji), alike on both sides.
                "UPDATE copyapp_tag SET name = CONCAT('tag', id)",
                "ALTER TABLE copyapp_tag CONVERT TO CHARACTER SET latin1",
                "INSERT INTO copyapp_tag (id, name) VALUES (9000, 'cafÃ©')",
            ],
            [
                "UPDATE copyapp_tag SET name = 'tag' || id",
                "INSERT INTO copyapp_tag (id, name) VALUES (9000, 'café')",
            ],
            "1 row(s) differ: 9000 (name)",
        ),
        "wide-keys-postgresql": ("postgresql", "postgresql", *WIDE_KEYS),
        "wide-keys-mariadb": ("mariadb", "postgresql", *WIDE_KEYS),
    }

    @pytest.mark.parametrize("case", list(HOSTILE))
    def test_verify_finds_a_change_in_rows_that_digests_used_to_miss(
        case: str, tmp_path: Path
    ) -> None:
        source, target, on_source, on_target, expected = HOSTILE[case]
        site = Site(source, target, tmp_path, "dbtools_copy_one")
        try:
            site.prepare(rows=20)
            site.ok("dbtools", "on")
            copy(site, "--no-verify")
            for role, statements in (("source", on_source), ("target", on_target)):
                name = site.name(role)
                run_outside(site, role, *(s.format(name=name) for s in statements))
            found = differences(site)
            assert expected in found, found[-3000:]
        finally:
            site.drop()

    def test_verify_finds_json_numbers_equal_by_value_however_each_database_spells_them(
        tmp_path: Path,
    ) -> None:
        """MariaDB keeps a JSON text as written, jsonb its own way: 1.2345678901234567890123e22
        is the integer it spells (a float, read through json.loads, is not), 1.50 is 1.5."""
        site = Site("mariadb", "postgresql", tmp_path, "dbtools_copy_one")
        try:
            site.prepare(rows=20)
            site.ok("dbtools", "on")
            copy(site, "--no-verify")
            spelled = """'{"x": 1.2345678901234567890123e22, "y": 1.50, "z": [1e400, -0.0]}'"""
            for role in ("source", "target"):
                run_outside(
                    site, role, f"UPDATE copyapp_everything SET data = {spelled} WHERE id = 4"
                )
            run_outside(
                site, "source", "UPDATE copyapp_everything SET `char` = 'changed' WHERE id = 6"
            )
            found = differences(site)
            assert "1 row(s) differ: 6 (char)" in found, found[-3000:]
        finally:
            site.drop()

    def test_a_value_the_target_cannot_hold_stops_the_copy_and_resume_completes_it(
        site: Site,
    ) -> None:
        site.prepare(rows=400)
        run_outside(
            site,
            "source",
            "UPDATE copyapp_everything SET text = 'bad' || char(0) || 'text' WHERE id = 300",
        )
        site.ok("dbtools", "on")
        done = copy(site, "--batch-size", "50")
        assert done.returncode != 0
        message = done.stderr
        assert "copyapp_everything" in message and "primary key 300" in message
        assert "'text'" in message and "NUL byte" in message and "'bad\\x00text'" in message
        assert "--resume" in message
        # The batches before it stay committed.
        assert run_outside(site, "target", "SELECT MAX(id) FROM copyapp_everything") == [(250,)]
        run_outside(site, "source", "UPDATE copyapp_everything SET text = 'fixed' WHERE id = 300")
        resumed = copy(site, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert "resumed after key 250" in resumed.stdout
        assert site.differences() == []

    @pytest.mark.parametrize(
        ("statement", "problem"),
        [
            (
                "UPDATE copyapp_everything SET char = '" + "x" * 41 + "' WHERE id = 5",
                "41 characters, longer than the column's 40",
            ),
            (
                # PostgreSQL's varchar(40) would cut the spaces past 40 off without a word.
                "UPDATE copyapp_everything SET char = 'x' || '" + " " * 40 + "' WHERE id = 5",
                "41 characters, longer than the column's 40",
            ),
            (
                "UPDATE copyapp_everything SET integer = 3000000000 WHERE id = 5",
                "out of the target column's range",
            ),
            (
                """UPDATE copyapp_everything SET data = '{"k": ["a\\u0000b"]}' WHERE id = 5""",
                "JSON with a NUL character",
            ),
        ],
    )
    def test_values_out_of_the_targets_bounds_are_refused_by_name(
        site: Site, statement: str, problem: str
    ) -> None:
        site.prepare(rows=20)
        run_outside(site, "source", statement)
        site.ok("dbtools", "on")
        done = copy(site)
        assert done.returncode != 0
        assert problem in done.stderr and "primary key 5" in done.stderr

    def test_what_mysql_holds_and_postgresql_cannot_stops_the_copy_by_name(
        tmp_path: Path,
    ) -> None:
        """A zero date (read by mysqlclient as None), a boolean holding 2, an unsigned integer
        past PostgreSQL's, a foreign key to no row (written with MySQL's checks off): each
        stops the copy, named, and once fixed on the source, the copy completes."""
        site = Site("mariadb", "postgresql", tmp_path, "dbtools_copy_one")
        try:
            site.prepare(rows=20)
            site.ok("dbtools", "on")
            copied = False
            for statement, named, fixed in (
                (
                    "UPDATE copyapp_everything SET day_null = '0000-00-00' WHERE id = 3",
                    ["primary key 3", "'day_null'", "zero date", "'0000-00-00'"],
                    "UPDATE copyapp_everything SET day_null = NULL WHERE id = 3",
                ),
                (
                    "UPDATE copyapp_everything SET moment = '2021-02-30 10:11:12' WHERE id = 4",
                    ["primary key 4", "'moment'", "past the month's end", "'2021-02-30 10:11:12'"],
                    "UPDATE copyapp_everything SET moment = '2021-02-28 10:11:12' WHERE id = 4",
                ),
                (
                    "UPDATE copyapp_everything SET flag = 2 WHERE id = 5",
                    ["primary key 5", "'flag'", "neither true nor false", "(value 2)"],
                    "UPDATE copyapp_everything SET flag = 1 WHERE id = 5",
                ),
                (
                    # MySQL's unsigned int: past PostgreSQL's integer, which psycopg wraps.
                    "UPDATE copyapp_everything SET positive = 3000000000 WHERE id = 6",
                    ["primary key 6", "'positive'", "out of the target column's range"],
                    "UPDATE copyapp_everything SET positive = 7 WHERE id = 6",
                ),
                (
                    "UPDATE copyapp_node SET parent_id = 999999 WHERE id = 2",
                    ["copyapp_node", "primary key 2", "parent", "999999 has no row"],
                    "UPDATE copyapp_node SET parent_id = NULL WHERE id = 2",
                ),
            ):
                run_outside(
                    site,
                    "source",
                    "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
                    "SET SESSION foreign_key_checks = 0",
                    statement,
                )
                done = copy(site, "--resume") if copied else copy(site)
                copied = True
                assert done.returncode != 0, statement
                assert all(part in done.stderr for part in named), done.stderr[-2000:]
                run_outside(site, "source", fixed)
            # The row a foreign key found was copied: the target is copied again whole.
            again = copy(site, "--truncate", "--noinput")
            assert again.returncode == 0, again.stderr[-2000:]
            assert site.differences() == []
        finally:
            site.drop()

    def test_copy_refuses_before_writing_anything(site: Site) -> None:
        site.prepare(rows=20)
        # No mode on: writes made during the copy would be missed.
        done = copy(site)
        assert done.returncode != 0 and "No mode is on" in done.stderr
        site.ok("dbtools", "on")
        for args, expected in (
            (["--from", "nowhere", "--to", "new"], "Unknown database alias 'nowhere'"),
            (["--from", "default", "--to", "default"], "are the same database"),
            (["--from", "default", "--to", "new", "--models", "nosuchapp"], "Unknown app label"),
        ):
            done = site.manage("dbtools", "copy", *args)
            assert done.returncode != 0 and expected in done.stderr, done.stderr
        assert run_outside(site, "target", "SELECT COUNT(*) FROM copyapp_everything") == [(0,)]
        # A migration applied on the source that the target lacks.
        site.ok("dbtools", "off")
        site.ok("migrate", "copyapp", "zero", "--database", "new", "-v0")
        site.ok("dbtools", "on")
        done = copy(site)
        assert done.returncode != 0 and "copyapp.0001_initial" in done.stderr

    def test_an_occupied_target_is_refused_and_truncate_replaces_its_rows(site: Site) -> None:
        site.prepare(rows=20)
        run_outside(
            site, "target", "INSERT INTO copyapp_tag (id, name) VALUES (5000, 'already here')"
        )
        site.ok("dbtools", "on")
        done = copy(site)
        assert done.returncode != 0
        assert "copyapp_tag (copyapp.Tag): 1 row(s)" in done.stderr and "--truncate" in done.stderr
        assert run_outside(site, "target", "SELECT COUNT(*) FROM copyapp_everything") == [(0,)]
        done = copy(site, "--truncate", "--noinput")
        assert done.returncode == 0, done.stderr[-2000:]
        assert run_outside(site, "target", "SELECT COUNT(*) FROM copyapp_tag WHERE id = 5000") == [
            (0,)
        ]
        assert site.differences() == []

    def test_truncate_asks_first_and_no_means_nothing_is_deleted(site: Site) -> None:
        site.prepare(rows=20)
        run_outside(
            site, "target", "INSERT INTO copyapp_tag (id, name) VALUES (5000, 'already here')"
        )
        site.ok("dbtools", "on")
        copy = ("dbtools", "copy", "--from", "default", "--to", "new", "--truncate")
        done = site.manage(*copy, answer="no\n")
        assert done.returncode != 0
        assert "of the database 'new'" in done.stdout + done.stderr
        assert run_outside(site, "target", "SELECT COUNT(*) FROM copyapp_tag WHERE id = 5000") == [
            (1,)
        ]

    def test_a_dry_run_prints_the_plan_and_writes_nothing(site: Site) -> None:
        site.prepare(rows=30)
        site.ok("dbtools", "on")
        output = site.ok("dbtools", "copy", "--from", "default", "--to", "new", "--dry-run")
        assert "copyapp_everything" in output and "30 rows" in output
        assert "replaces the target's" in output and "estimated time" in output
        assert run_outside(site, "target", "SELECT COUNT(*) FROM copyapp_everything") == [(0,)]

    def test_ctrl_c_stops_at_a_batch_boundary_and_resume_finishes(site: Site) -> None:
        site.prepare(rows=1500)
        site.ok("dbtools", "on")
        running = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "django",
                "dbtools",
                "copy",
                "--from",
                "default",
                "--to",
                "new",
                "--batch-size",
                "1",
            ],
            env=site.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            copied = run_outside(site, "target", "SELECT COUNT(*) FROM copyapp_everything")
            if copied[0][0] > 20:
                break
            time.sleep(0.05)
        running.send_signal(signal.SIGINT)
        _, errors = running.communicate(timeout=60)
        assert running.returncode != 0
        assert "Interrupted at a batch boundary" in errors and "--resume" in errors
        resumed = copy(site, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert site.differences() == []
