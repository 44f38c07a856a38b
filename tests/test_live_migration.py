"""The short window: `copy --live` while the site writes, `sync` of the changes, `cutover`.

Real databases and a real gunicorn fleet, checked from outside through the drivers. With the
copy tests, these run once per suite run, with its SQLite pass.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.copy_site.site import ROOT, Site, run_outside
from tests.processes import free_port, start_gunicorn
from tests.settings import BACKEND

LIVE_PAIRS = [("mariadb", "postgresql"), ("postgresql", "postgresql")]
if os.environ.get("DBTOOLS_FEWER_PAIRS"):  # the matrix's corners: see tests/test_copy.py
    LIVE_PAIRS = LIVE_PAIRS[:1]


def copy(site: Site, *extra: str) -> str:
    return site.ok("dbtools", "copy", "--from", "default", "--to", "new", *extra)


class Writer:
    """The live site: in each transaction a tag, an article and the link between them."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.stop = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        from tests.copy_site import databases

        with databases.connect(self.site.source, self.site.name("source")) as raw:
            cursor = raw.cursor()
            while not self.stop.is_set():
                n = self.written
                cursor.execute("BEGIN")  # the connection is in autocommit: one transaction
                cursor.execute(f"INSERT INTO copyapp_tag (name) VALUES ('live {n}')")
                cursor.execute(f"SELECT id FROM copyapp_tag WHERE name = 'live {n}'")
                tag = cursor.fetchone()[0]
                cursor.execute(f"INSERT INTO copyapp_article (title) VALUES ('live {n}')")
                cursor.execute(f"SELECT MAX(id) FROM copyapp_article WHERE title = 'live {n}'")
                article = cursor.fetchone()[0]
                cursor.execute(
                    "INSERT INTO copyapp_article_tags (article_id, tag_id) "
                    f"VALUES ({article}, {tag})"
                )
                cursor.execute("COMMIT")
                self.written += 1
                time.sleep(0.005)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def change_counts(output: str, table: str) -> tuple[int, int, int]:
    found = re.search(rf"^{table}: (\d+) new, (\d+) changed, (\d+) deleted", output, re.MULTILINE)
    assert found, output
    new, changed, deleted = (int(n) for n in found.groups())
    return new, changed, deleted


if BACKEND == "sqlite":

    @pytest.mark.parametrize(("source", "target"), LIVE_PAIRS)
    def test_a_live_copy_reads_one_snapshot_while_the_site_writes_and_sync_catches_up(
        source: str, target: str, tmp_path: Path
    ) -> None:
        site = Site(source, target, tmp_path, "dbtools_live")
        try:
            site.prepare(rows=300)
            with Writer(site) as writer:
                while writer.written < 5:
                    time.sleep(0.01)
                output = copy(site, "--live", "--batch-size", "5", "--jobs", "2", "--no-verify")
                during = writer.written
            assert "one consistent snapshot of 'default'" in output
            assert during > 5, "the site kept writing while the copy ran"
            # One moment of the source: every article written live has its link, and no link
            # lacks its article (a copy table by table would have some of one without the other).
            articles = run_outside(
                site, "target", "SELECT COUNT(*) FROM copyapp_article WHERE title LIKE 'live %'"
            )
            links = run_outside(
                site,
                "target",
                "SELECT COUNT(*) FROM copyapp_article_tags l JOIN copyapp_tag t "
                "ON t.id = l.tag_id WHERE t.name LIKE 'live %'",
            )
            tags = run_outside(
                site, "target", "SELECT COUNT(*) FROM copyapp_tag WHERE name LIKE 'live %'"
            )
            dangling = run_outside(
                site,
                "target",
                "SELECT l.id, l.article_id, l.tag_id FROM copyapp_article_tags l "
                "JOIN copyapp_tag t ON t.id = l.tag_id "
                "LEFT JOIN copyapp_article a ON a.id = l.article_id "
                "WHERE t.name LIKE 'live %' AND (a.id IS NULL OR a.title NOT LIKE 'live %')",
            )
            assert articles == links == tags, dangling
            # In the window: only what changed since the snapshot moves.
            site.ok("dbtools", "on")
            synced = site.ok("dbtools", "sync", "--from", "default", "--to", "new")
            new, changed, deleted = change_counts(synced, "copyapp_tag")
            assert new == writer.written - articles[0][0] and (changed, deleted) == (0, 0)
            # Rows whose JSON each database spells its own way are not changes.
            assert change_counts(synced, "copyapp_everything") == (0, 0, 0)
            assert "Everything matches." in synced
            assert site.differences() == []
        finally:
            site.drop()

    @pytest.fixture
    def copied(tmp_path: Path) -> Iterator[Site]:
        site = Site("sqlite", "postgresql", tmp_path, "dbtools_live")
        site.prepare(rows=300)
        site.ok("dbtools", "on")
        copy(site)
        yield site
        site.drop()

    def test_sync_moves_exactly_the_new_changed_and_deleted_rows(copied: Site) -> None:
        run_outside(
            copied,
            "source",
            "UPDATE copyapp_everything SET char = 'changed' WHERE id IN (3, 150, 299)",
            "UPDATE copyapp_everything SET data = '{\"changed\": true}' WHERE id = 20",
            "DELETE FROM copyapp_everything WHERE id IN (10, 11)",
            "UPDATE copyapp_node SET parent_id = NULL WHERE parent_id IN (10, 11)",
            "INSERT INTO copyapp_tag (id, name) VALUES (90001, 'new in the window')",
            # New rows in chunks of keys apart, around one both sides hold alike.
            "INSERT INTO copyapp_tag (id, name) VALUES (120001, 'b'), (150001, 'c')",
            "INSERT INTO copyapp_tag (id, name) VALUES (130001, 'on both sides')",
        )
        run_outside(
            copied, "target", "INSERT INTO copyapp_tag (id, name) VALUES (130001, 'on both sides')"
        )
        output = copied.ok("dbtools", "sync", "--from", "default", "--to", "new")
        assert change_counts(output, "copyapp_everything") == (0, 4, 2)
        assert change_counts(output, "copyapp_tag") == (3, 0, 0)
        assert "copyapp_code: copied again whole (its key is not an integer)" in output
        assert copied.differences() == []
        # Nothing left to move.
        again = copied.ok("dbtools", "sync", "--from", "default", "--to", "new")
        assert change_counts(again, "copyapp_everything") == (0, 0, 0)

    def test_sync_copies_again_whole_a_table_whose_keys_are_too_far_apart(copied: Site) -> None:
        """Random 64-bit keys: their chunk numbers would overflow 64-bit arithmetic."""
        high = 5_000_000_000_000_000_000
        run_outside(
            copied,
            "source",
            f"INSERT INTO copyapp_tag (id, name) VALUES ({-high}, 'low'), ({high}, 'high')",
        )
        output = copied.ok("dbtools", "sync", "--from", "default", "--to", "new")
        assert f"copyapp_tag: copied again whole (its keys are {2**62:,} or more apart)" in output
        assert "Everything matches." in output
        assert copied.differences() == []

    def test_sync_finds_the_changes_past_its_first_chunk_and_span(copied: Site) -> None:
        """Rows far apart: the first chunk shows JSON spelled apart (SQLite keeps it as
        written, jsonb in its own order), so the chunks after it are read by value; a key
        past the first span of keys is reached."""
        moved = (
            "UPDATE copyapp_everything SET id = id + 50000 WHERE id BETWEEN 201 AND 280",
            # Keys on both sides of the end of the span of keys they start: one chunk in two.
            "UPDATE copyapp_everything SET id = id + 10049800 WHERE id BETWEEN 281 AND 285",
        )
        far = "INSERT INTO copyapp_tag (id, name) VALUES (30000001, 'far on both sides')"
        run_outside(copied, "target", *moved, far)
        run_outside(
            copied,
            "source",
            *moved,
            far,
            "UPDATE copyapp_everything SET id = id + 10050000 WHERE id BETWEEN 286 AND 290",
            "UPDATE copyapp_everything SET char = 'changed' WHERE id = 50250",
            """UPDATE copyapp_everything SET data = '{"changed": 1}' WHERE id = 50260""",
            "UPDATE copyapp_everything SET char = 'changed' WHERE id = 7",
            "INSERT INTO copyapp_tag (id, name) VALUES (40000001, 'far and new')",
        )
        output = copied.ok("dbtools", "sync", "--from", "default", "--to", "new")
        assert change_counts(output, "copyapp_everything") == (5, 3, 5)
        assert change_counts(output, "copyapp_tag") == (1, 0, 0)
        assert "Everything matches." in output
        assert copied.differences() == []

    def test_sync_stops_at_a_foreign_key_to_no_row_by_name_and_applies_nothing(
        copied: Site,
    ) -> None:
        """A source whose checks were off holds a row pointing at no row, or has lost the
        row another points at: sync names the row and applies none of the changes; once the
        source is fixed, it completes."""
        (child, parent), *_ = run_outside(
            copied, "source", "SELECT id, parent_id FROM copyapp_node WHERE parent_id IS NOT NULL"
        )
        sync = ("dbtools", "sync", "--from", "default", "--to", "new")
        for changed, broken, named, fixed in (
            (
                "changed once",
                "UPDATE copyapp_node SET parent_id = 999999 WHERE id = 2",
                ["copyapp_node", "primary key 2", "999999 has no row"],
                "UPDATE copyapp_node SET parent_id = NULL WHERE id = 2",
            ),
            (
                "changed again",
                f"DELETE FROM copyapp_node WHERE id = {parent}",
                ["copyapp_node", f"primary key {child}", f"{parent} has no row"],
                f"UPDATE copyapp_node SET parent_id = NULL WHERE parent_id = {parent}",
            ),
        ):
            run_outside(
                copied,
                "source",
                "PRAGMA foreign_keys = OFF",
                f"UPDATE copyapp_everything SET char = '{changed}' WHERE id = 3",
                broken,
            )
            done = copied.manage(*sync)
            assert done.returncode != 0, done.stdout[-2000:]
            assert all(part in done.stderr for part in named), done.stderr[-2000:]
            assert run_outside(
                copied, "target", "SELECT char FROM copyapp_everything WHERE id = 3"
            ) != [(changed,)]
            run_outside(copied, "source", "PRAGMA foreign_keys = OFF", fixed)
            assert "Everything matches." in copied.ok(*sync)
        assert copied.differences() == []

    def test_sync_refuses_a_writable_source_unless_live_and_says_what_live_leaves_out(
        copied: Site,
    ) -> None:
        copied.ok("dbtools", "off")
        refused = copied.manage("dbtools", "sync", "--from", "default", "--to", "new")
        assert refused.returncode != 0 and "No mode is on" in refused.stderr
        live = copied.ok("dbtools", "sync", "--from", "default", "--to", "new", "--live")
        assert "writes made since are not in it" in live

    def test_sync_refuses_a_pair_no_copy_was_noted_for(tmp_path: Path) -> None:
        site = Site("sqlite", "postgresql", tmp_path, "dbtools_live")
        try:
            site.prepare(rows=10)
            site.ok("dbtools", "on")
            refused = site.manage("dbtools", "sync", "--from", "default", "--to", "new")
            assert refused.returncode != 0
            assert "No copy of 'default' into 'new'" in refused.stderr
        finally:
            site.drop()

    def test_copy_without_live_still_refuses_a_writable_source(tmp_path: Path) -> None:
        site = Site("sqlite", "postgresql", tmp_path, "dbtools_live")
        try:
            site.prepare(rows=10)
            refused = site.manage("dbtools", "copy", "--from", "default", "--to", "new")
            assert refused.returncode != 0 and "No mode is on" in refused.stderr
        finally:
            site.drop()

    def served(url: str, data: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, {}

    def test_cutover_moves_every_worker_to_the_new_database_with_no_restart(
        tmp_path: Path,
    ) -> None:
        site = Site("mariadb", "postgresql", tmp_path, "dbtools_cut")
        port = free_port()
        server = None
        try:
            site.prepare(rows=50)
            site.ok("dbtools", "on")
            refused = site.manage("dbtools", "cutover", "--to", "new")
            assert refused.returncode != 0 and "dbtools sync" in refused.stderr
            copy(site)  # verifies at the end: identical under this mode
            env = {**site.env, "DBTOOLS_REFRESH": "0.2"}
            server = start_gunicorn("tests.copy_site.wsgi:application", 2, port, ROOT, env)
            url = f"http://127.0.0.1:{port}"
            assert {served(url + "/where/")[1]["vendor"] for _ in range(6)} == {"mysql"}
            output = site.ok("dbtools", "cutover", "--to", "new")
            count = int(re.search(r"(\d+) process\(es\) now serve 'default'", output)[1])
            assert count >= 3  # both workers and the command itself
            assert {served(url + "/where/")[1]["vendor"] for _ in range(10)} == {"postgresql"}
            assert "default -> new" in site.ok("dbtools", "status")
            # Still read-only until off: a write is refused on both databases.
            assert served(url + "/tags/", {"name": "in the window"})[0] == 503
            site.ok("dbtools", "off")
            for n in range(6):
                assert served(url + "/tags/", {"name": f"after {n}"})[0] == 201
            query = "SELECT COUNT(*) FROM copyapp_tag WHERE name LIKE 'after %'"
            assert run_outside(site, "target", query) == [(6,)]
            assert run_outside(site, "source", query) == [(0,)]
            # A process started now comes up on the new database.
            fresh = site.manage(
                "shell", "-c", "from django.db import connection; print(connection.vendor)"
            )
            assert fresh.stdout.strip().splitlines()[-1] == "postgresql"
            # Going back warns: 'new' holds writes the old database lacks.
            back = site.manage("dbtools", "cutover", "--to", "default")
            assert back.returncode != 0 and "copyapp.Tag" in back.stdout + back.stderr
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            site.drop()

    def test_off_refuses_while_a_process_does_not_follow_the_cutover(copied: Site) -> None:
        copied.ok("dbtools", "cutover", "--to", "new")
        # A process that reads the store but has not taken the route up (yet).
        folder = Path(copied.env["COPY_STATE_FILE"] + ".processes")
        (folder / "elsewhere:1.json").write_text(
            json.dumps({"name": "elsewhere:1", "seen": time.time(), "route_since": None})
        )
        refused = copied.manage("dbtools", "off")
        assert refused.returncode != 0
        assert "has not reached 1 process(es)" in refused.stderr and "elsewhere:1" in refused.stderr
        (folder / "elsewhere:1.json").unlink()
        copied.ok("dbtools", "off")
