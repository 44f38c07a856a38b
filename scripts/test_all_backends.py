"""Run the test suite on SQLite and on every other database it can reach.

PostgreSQL and MariaDB/MySQL are looked for at their default loopback addresses (override with
PGHOST/PGPORT and MYSQL_HOST/MYSQL_PORT). A backend that cannot be reached is named, with the
reason; with CI=true it fails the run instead of being left out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

TRUTHY = {"1", "true", "yes", "on"}


def reach_postgresql() -> str:
    try:  # the driver Django will use: psycopg 3, else psycopg2
        import psycopg as driver
    except ImportError:
        import psycopg2 as driver  # type: ignore[no-redef]

    connection = driver.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", "postgres"),
        dbname="postgres",
        connect_timeout=3,
    )
    try:
        cursor = connection.cursor()
        cursor.execute("SHOW server_version")
        return f"{cursor.fetchone()[0]} ({driver.__name__})"
    finally:
        connection.close()


def reach_mariadb() -> str:
    import MySQLdb

    connection = MySQLdb.connect(
        host=os.environ.get("MYSQL_HOST", "127.0.0.1"),
        port=int(os.environ.get("MYSQL_PORT", "3306")),
        user=os.environ.get("MYSQL_USER", "root"),
        password=os.environ.get("MYSQL_PASSWORD", ""),
        connect_timeout=3,
    )
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT VERSION()")
        return str(cursor.fetchone()[0])
    finally:
        connection.close()


def reach_sqlite() -> str:
    import sqlite3

    return sqlite3.sqlite_version


BACKENDS: dict[str, Callable[[], str]] = {
    "sqlite": reach_sqlite,
    "postgresql": reach_postgresql,
    "mariadb": reach_mariadb,
}


def main(pytest_args: list[str]) -> int:
    ci = os.environ.get("CI", "").strip().lower() in TRUTHY
    wanted = os.environ.get("DBTOOLS_BACKENDS", ",".join(BACKENDS)).split(",")
    results: dict[str, str] = {}
    for name in wanted:
        try:
            version = BACKENDS[name]()
        except Exception as error:  # any failure to connect means "not reachable"
            reason = f"{type(error).__name__}: {error}".strip().splitlines()[0]
            results[name] = f"NOT REACHABLE ({reason})"
            print(f"\n=== {name}: not reachable, not tested: {reason}", flush=True)
            continue
        print(f"\n=== {name} {version}: running the suite", flush=True)
        env = {**os.environ, "DBTOOLS_TEST_DB": name}
        code = subprocess.call([sys.executable, "-m", "pytest", *pytest_args], env=env)
        results[name] = "passed" if code == 0 else f"FAILED (pytest exit code {code})"

    print("\n=== summary")
    for name, outcome in results.items():
        print(f"  {name:<11} {outcome}")
    failed = [n for n, o in results.items() if o.startswith("FAILED")]
    missing = [n for n, o in results.items() if o.startswith("NOT REACHABLE")]
    if missing and ci:
        print(f"CI=true: every backend is required; not reachable: {', '.join(missing)}")
    elif missing:
        print(
            f"Not tested here (no server reachable): {', '.join(missing)}. CI=true requires them."
        )
    return 1 if failed or (missing and ci) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
