"""Load and fault run: no write slips through, nothing acknowledged is lost, reads keep flowing.

    make loadtest                                  # the full run, on PostgreSQL then MariaDB
    python scripts/loadtest.py --duration 40       # the short run CI makes

The demo site runs under gunicorn (several workers) on PostgreSQL or MariaDB, its state in a
Redis server of the run's own. Concurrent clients read pages, post forms, write through the
JSON API (one note, or several in one transaction), open notes (a GET that writes a view
counter) and log in, while a controller flips the mode on and off in both modes and injects
faults: Redis stopped and restarted, database connections killed from the server side, and
the database made read-only by its administrator with no mode on in the app. At the end it
prints the checks as counts and exits non-zero when any fails.
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import RedisServer, free_port, start_gunicorn  # noqa: E402

EXAMPLE = ROOT / "example"
DB_NAME = "dbtools_load"
MARIADB_USER, MARIADB_PASSWORD = "dbtools_load", "dbtools_load"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the database, seen from outside the app -------------------------------------------------


class Database:
    """Admin access to the database under test: set-up, audit, faults and final checks."""

    def __init__(self, vendor: str, name: str = DB_NAME) -> None:
        self.vendor = vendor
        self.name = name

    def admin(self, database: str | None = None) -> Any:
        if self.vendor == "postgresql":
            import psycopg

            return psycopg.connect(
                host="127.0.0.1", user="postgres", dbname=database or "postgres", autocommit=True
            )
        import MySQLdb

        connection = MySQLdb.connect(
            host="127.0.0.1", user="root", password="", **({"db": database} if database else {})
        )
        connection.autocommit(True)
        return connection

    def run(self, *statements: str, database: str | None = "") -> list[tuple[Any, ...]]:
        """Run ``statements`` on ``database`` ("": this one; None: the server's default)."""
        connection = self.admin(self.name if database == "" else database)
        try:
            cursor = connection.cursor()
            rows: list[tuple[Any, ...]] = []
            for statement in statements:
                cursor.execute(statement)
                if cursor.description:
                    rows = [tuple(r) for r in cursor.fetchall()]
            return rows
        finally:
            connection.close()

    def create(self) -> dict[str, str]:
        if self.vendor == "postgresql":
            self.run(
                f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
                f'CREATE DATABASE "{self.name}"',
                database=None,
            )
            return {"DEMO_DB_USER": "postgres", "DEMO_DB_PORT": "5432"}
        # A user without SUPER, so that SET GLOBAL read_only applies to the app.
        self.run(
            f"DROP DATABASE IF EXISTS {self.name}",
            f"CREATE DATABASE {self.name}",
            f"DROP USER IF EXISTS '{MARIADB_USER}'@'127.0.0.1'",
            f"CREATE USER '{MARIADB_USER}'@'127.0.0.1' IDENTIFIED BY '{MARIADB_PASSWORD}'",
            f"GRANT ALL ON {self.name}.* TO '{MARIADB_USER}'@'127.0.0.1'",
            database=None,
        )
        return {
            "DEMO_DB_USER": MARIADB_USER,
            "DEMO_DB_PASSWORD": MARIADB_PASSWORD,
            "DEMO_DB_PORT": "3306",
        }

    def install_audit(self) -> None:
        """Every insert, update and delete on the app's tables, timestamped by the database."""
        tables = ["notes_note", "django_session", "auth_user"]
        if self.vendor == "postgresql":
            statements = [
                "CREATE TABLE load_audit (id bigserial PRIMARY KEY, tbl text, op text, "
                "at timestamptz DEFAULT clock_timestamp())",
                "CREATE FUNCTION load_audit() RETURNS trigger AS $$ BEGIN "
                "INSERT INTO load_audit (tbl, op) VALUES (TG_TABLE_NAME, TG_OP); RETURN NULL; "
                "END $$ LANGUAGE plpgsql",
            ] + [
                f"CREATE TRIGGER {t}_audit AFTER INSERT OR UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION load_audit()"
                for t in tables
            ]
        else:
            statements = [
                "CREATE TABLE load_audit (id BIGINT AUTO_INCREMENT PRIMARY KEY, tbl TEXT, "
                "op TEXT, at DATETIME(6) DEFAULT NOW(6))",
            ] + [
                f"CREATE TRIGGER {t}_{op.lower()}_audit AFTER {op} ON {t} FOR EACH ROW "
                f"INSERT INTO load_audit (tbl, op, at) VALUES ('{t}', '{op}', NOW(6))"
                for t in tables
                for op in ("INSERT", "UPDATE", "DELETE")
            ]
        self.run(*statements)

    def changes_between(self, start: float, end: float) -> int:
        if self.vendor == "postgresql":
            sql = (
                "SELECT COUNT(*) FROM load_audit WHERE at > to_timestamp({}) "
                "AND at < to_timestamp({})"
            )
        else:
            sql = (
                "SELECT COUNT(*) FROM load_audit WHERE at > FROM_UNIXTIME({}) "
                "AND at < FROM_UNIXTIME({})"
            )
        return int(self.run(sql.format(start, end))[0][0])

    def note_texts(self) -> set[str]:
        return {row[0] for row in self.run("SELECT text FROM notes_note")}

    def kill_connections(self) -> int:
        if self.vendor == "postgresql":
            rows = self.run(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()",
                database="postgres",
            )
            return len(rows)
        ids = self.run(
            f"SELECT id FROM information_schema.processlist WHERE db = '{self.name}' "
            "AND id <> CONNECTION_ID()",
            database=None,
        )
        for (process,) in ids:
            with contextlib.suppress(Exception):  # it may have ended on its own meanwhile
                self.run(f"KILL {process}", database=None)
        return len(ids)

    def set_server_read_only(self, on: bool) -> None:
        if self.vendor == "postgresql":
            connection = self.admin()
            try:
                connection.execute("SET default_transaction_read_only = off")
                if on:
                    connection.execute("ALTER SYSTEM SET default_transaction_read_only = on")
                else:
                    connection.execute("ALTER SYSTEM RESET default_transaction_read_only")
                connection.execute("SELECT pg_reload_conf()")
            finally:
                connection.close()
        else:
            self.run(f"SET GLOBAL read_only = {1 if on else 0}", database=None)


# -- Redis and the demo ----------------------------------------------------------------------


class Site:
    def __init__(
        self, vendor: str, workers: int, redis: RedisServer, var: Path, db_env: dict[str, str]
    ) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("READ_ONLY_MODE", "GET_ONLY_MODE")},
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "PYTHONPATH": str(EXAMPLE),
            "DEMO_VAR_DIR": str(var),
            "DEMO_DEBUG": "0",
            "DEMO_DATABASE": vendor,
            "DEMO_DB_NAME": DB_NAME,
            "DEMO_CONN_MAX_AGE": "60",
            "DBTOOLS_STATE": "cache",
            "DEMO_REDIS_URL": redis.url,
            **db_env,
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.server: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        for args in (["migrate", "-v0"], ["load_demo"]):
            result = self.manage(*args)
            if result.returncode:
                sys.exit(result.stderr)
        self.server = start_gunicorn(
            "demo.wsgi:application", self.workers, self.port, EXAMPLE, self.env, "--timeout", "60"
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)


# -- what happened ---------------------------------------------------------------------------


@dataclass
class Record:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # texts the site said it saved
    refused_batches: list[list[str]] = field(default_factory=list)
    reads: list[tuple[float, int]] = field(default_factory=list)  # (time, status)
    # The page that bumps one hot row (a view counter) from every client: (time, status, s).
    hot: list[tuple[float, int, float]] = field(default_factory=list)
    windows: list[tuple[float, float, str]] = field(default_factory=list)  # mode on
    dba_windows: list[tuple[float, float]] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)

    def status(self, kind: str, code: int, body: str) -> None:
        with self.lock:
            self.statuses[f"{kind} {code}"] += 1
            if code >= 500 and not (code == 503 and is_refusal(body)):
                self.bad.append(f"{kind} -> {code}: {body[:200]!r}")


def is_refusal(body: str) -> bool:
    return '"error": "read_only"' in body or 'id="dbtools-read-only"' in body


# -- a visitor -------------------------------------------------------------------------------


class Visitor:
    def __init__(self, site: Site, record: Record, number: int) -> None:
        self.site = site
        self.record = record
        self.number = number
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def send(
        self, kind: str, path: str, data: dict[str, Any] | None = None, as_json: bool = False
    ) -> tuple[int, str]:
        headers = {}
        body = None
        if data is not None and as_json:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
            headers["Referer"] = self.site.url + "/"
        request = urllib.request.Request(self.site.url + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                code, text = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            code, text = error.code, error.read().decode(errors="replace")
            if 300 <= code < 400:  # where it leads says what happened
                text = error.headers.get("Location", "")
        except OSError as error:  # a reset connection is a failure the user sees
            code, text = 599, f"connection error: {error}"
        self.record.status(kind, code, text)
        return code, text

    def csrf(self) -> str:
        for cookie in self.jar:
            if cookie.name == "csrftoken":
                return cookie.value
        return ""

    def read(self) -> None:
        path = random.choice(["/", "/api/notes/"])
        code, _ = self.send("read", path)
        with self.record.lock:
            self.record.reads.append((time.time(), code))

    def api_write(self) -> None:
        text = f"api {uuid4().hex}"
        code, _ = self.send("api write", "/api/notes/", {"text": text}, as_json=True)
        if code == 201:
            with self.record.lock:
                self.record.acknowledged.append(text)

    def batch_write(self) -> None:
        texts = [f"batch {uuid4().hex}" for _ in range(3)]
        code, _ = self.send("batch write", "/api/notes/", {"texts": texts}, as_json=True)
        with self.record.lock:
            if code == 201:
                self.record.acknowledged.extend(texts)
            else:
                self.record.refused_batches.append(texts)

    def form_write(self) -> None:
        if not self.csrf():
            self.send("read", "/")
        text = f"form {uuid4().hex}"
        code, location = self.send(
            "form write", "/notes/new/", {"text": text, "csrfmiddlewaretoken": self.csrf()}
        )
        # A visitor whose log-in was refused while a mode was on is sent to log in: not saved.
        if code == 302 and not location.startswith("/login/"):
            with self.record.lock:
                self.record.acknowledged.append(text)

    def open_note(self) -> None:
        started = time.monotonic()
        code, _ = self.send("open note", "/notes/1/")
        with self.record.lock:
            self.record.hot.append((time.time(), code, time.monotonic() - started))

    def log_in(self) -> None:
        self.send("read", "/login/")
        self.send(
            "login",
            "/login/",
            {"username": "demo", "password": "demo", "csrfmiddlewaretoken": self.csrf()},
        )

    def run(self, deadline: float) -> None:
        self.log_in()
        actions = [self.read] * 4 + [
            self.api_write,
            self.batch_write,
            self.form_write,
            self.open_note,
            self.open_note,
            self.log_in,
        ]
        while time.monotonic() < deadline:
            random.choice(actions)()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# -- the controller: flips and faults --------------------------------------------------------


def controller(
    site: Site, db: Database, redis: RedisServer, record: Record, deadline: float
) -> None:
    schedule = ["flip", "kill", "redis", "flip", "dba", "flip", "kill", "flip"]
    step = 0
    while time.monotonic() < deadline - 6:
        action = schedule[step % len(schedule)]
        step += 1
        time.sleep(random.uniform(0.5, 1.5))
        if action == "flip":
            mode = random.choice(["--get-only", "--anonymous"])
            result = site.manage("dbtools", "on", mode)
            if result.returncode:
                record.bad.append(f"dbtools on failed: {result.stderr[-300:]}")
                continue
            on_returned = time.time()
            time.sleep(random.uniform(1.5, 3.0))
            off_started = time.time()
            result = site.manage("dbtools", "off")
            if result.returncode:
                record.bad.append(f"dbtools off failed: {result.stderr[-300:]}")
            record.windows.append((on_returned, off_started, mode))
            record.faults["flips"] += 1
        elif action == "redis":
            redis.stop()
            record.faults["redis stopped"] += 1
            time.sleep(3)
            redis.start()
            # Restarted empty: the processes keep their last state (off) until told.
            site.manage("dbtools", "off")
        elif action == "kill":
            record.faults["connections killed"] += db.kill_connections()
        elif action == "dba":
            db.set_server_read_only(True)
            start = time.time()
            time.sleep(2.5)
            db.set_server_read_only(False)
            record.dba_windows.append((start, time.time()))
            record.faults["database made read-only"] += 1


# -- one run ---------------------------------------------------------------------------------


def run(vendor: str, duration: int, clients: int, workers: int) -> bool:
    log(f"{vendor}: {clients} clients, {workers} gunicorn workers, {duration} s")
    var = Path(tempfile.mkdtemp(prefix=f"dbtools-load-{vendor}-"))
    db = Database(vendor)
    redis = RedisServer(var)
    redis.start()
    site = Site(vendor, workers, redis, var, db.create())
    record = Record()
    try:
        site.start()
        db.install_audit()
        deadline = time.monotonic() + duration
        threads = [
            threading.Thread(target=Visitor(site, record, n).run, args=(deadline,))
            for n in range(clients)
        ]
        threads.append(
            threading.Thread(target=controller, args=(site, db, redis, record, deadline))
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        site.stop()
        db.set_server_read_only(False)
        redis.stop()
    return report(vendor, db, record)


def report(vendor: str, db: Database, record: Record) -> bool:
    stored = db.note_texts()
    lost = [t for t in record.acknowledged if t not in stored]
    for text in lost[:10]:
        print(f"  lost: {text!r}")
    half = [
        b
        for b in record.refused_batches
        if any(t in stored for t in b) and not all(t in stored for t in b)
    ]
    leaked = sum(db.changes_between(start, end) for start, end, _ in record.windows)
    reads_in_windows = [
        code
        for at, code in record.reads
        if any(start <= at <= end for start, end, _ in record.windows)
    ]
    unserved_reads = [c for c in reads_in_windows if c != 200]

    def in_window(at: float) -> bool:
        return any(start <= at <= end for start, end, _ in record.windows)

    hot_on = [seconds for at, code, seconds in record.hot if in_window(at) and code == 200]
    hot_off = [seconds for at, code, seconds in record.hot if not in_window(at) and code == 200]
    # A discarded counter update holds its row lock until the response is ready, so the hot
    # page queues; a wait past the lock timeout (2 s) gets the refusal, never a hung worker.
    slow_hot = [s for s in hot_on if s > HOT_PAGE_BOUND]
    checks = {
        "acknowledged writes missing from the database": len(lost),
        "transactions half-written": len(half),
        "row changes while a mode was on (audit)": leaked,
        "responses other than 2xx, 3xx or the 503 refusal": len(record.bad),
        "reads not served while a mode was on": len(unserved_reads),
        f"hot-row page slower than {HOT_PAGE_BOUND:.0f} s while a mode was on": len(slow_hot),
    }
    print(f"\n=== {vendor}: what happened")
    for key, count in sorted(record.statuses.items()):
        print(f"  {key:<24} {count}")
    for key, count in record.faults.items():
        print(f"  fault: {key:<17} {count}")
    print(f"  acknowledged writes      {len(record.acknowledged)}")
    print(f"  reads while a mode was on {len(reads_in_windows)}")
    for label, times in (("no mode", hot_off), ("mode on", hot_on)):
        if times:
            p50, p99 = percentile(times, 50), percentile(times, 99)
            served = f"{len(times)} served, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            print(f"  hot-row page, {label:<8} {served}")
    print(f"=== {vendor}: checks")
    for name, count in checks.items():
        print(f"  {'ok  ' if count == 0 else 'FAIL'} {name}: {count}")
    for line in record.bad[:10]:
        print(f"       {line}")
    enough = len(record.windows) >= 2 and len(reads_in_windows) > 0 and record.acknowledged
    if not enough:
        print("  FAIL the run was too short to flip the mode and write")
    return all(count == 0 for count in checks.values()) and bool(enough)


HOT_PAGE_BOUND = 5.0


def percentile(seconds: list[float], p: float) -> float:
    """The p-th percentile of ``seconds``, in milliseconds (nearest rank)."""
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["postgresql", "mariadb", "both"], default="both")
    parser.add_argument("--duration", type=int, default=120, help="seconds per database")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()
    vendors = ["postgresql", "mariadb"] if options.database == "both" else [options.database]
    results = {v: run(v, options.duration, options.clients, options.workers) for v in vendors}
    print(
        "\n=== load test: "
        + ", ".join(f"{v} {'passed' if ok else 'FAILED'}" for v, ok in results.items())
    )
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
