"""``dbtools copy`` against pgloader, dumpdata/loaddata, a bare Python copy and the clients' pipe.

    make bench-copy      # or: python benchmarks/copy_throughput.py [--narrow N] [--wide N]

Two pairs, side by side in one run: MariaDB to PostgreSQL, and PostgreSQL to another database
on the same PostgreSQL server. The source is generated on the server (``INSERT ... SELECT``
from ``generate_series`` or MariaDB's ``seq_1_to_N``): 1,000,000 narrow rows and 200,000
rows shaped like a Django site's (``benchmarks/copy_site``). Each contender copies into a
fresh target database and is timed by the wall clock, start-up included, with the peak
resident memory of its whole process tree (every process it starts, summed, polled every
20 ms; the servers' memory is not counted). Every target's row counts are checked after.

(Not ``copy.py``: in ``benchmarks/`` that name would shadow the standard library's ``copy``
module for every script run from there, ``dataclasses`` and so the harness first.)

Results go to docs/copy-benchmarks.md, docs/copy-benchmarks.png and docs/copy-benchmarks.json
(written after each pair); ``--publish`` writes the page and the plot again from the JSON
without measuring; ``--only-mariadb`` or ``--only-postgresql`` measures one pair again and
keeps the other's figures (give it the same sizes).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import machine, option  # noqa: E402

DOCS = ROOT / "docs"
RESULTS = DOCS / "copy-benchmarks.json"
PYTHON = sys.executable
PREFIX = "dbtools_bench_copy_"
TARGET = PREFIX + "target"
TABLES = ("bench_app_narrow", "bench_app_wide")  # referenced table first
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
PGLOADER_PG = "pgsql://postgres@127.0.0.1:5432"
PAIRS = {"mariadb": "MariaDB → PostgreSQL", "postgresql": "PostgreSQL → PostgreSQL"}
# "About the same" peak memory for ten times the rows: at most this much more.
SAME_MEMORY = 1.25


# ---------------------------------------------------------------- databases


def pg_admin(sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dbname=database, autocommit=True, **PG) as connection:  # type: ignore[arg-type]
        cursor = connection.execute(sql)
        return cursor.fetchall() if cursor.description else []


def maria_admin(sql: str, database: str | None = None) -> list[tuple[Any, ...]]:
    import MySQLdb

    connection = MySQLdb.connect(**MARIA, **({"database": database} if database else {}))
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = list(cursor.fetchall()) if cursor.description else []
        connection.commit()
        return rows
    finally:
        connection.close()


@dataclass
class Databases:
    """Every database this run made, dropped at the end whatever happened."""

    made: list[tuple[str, str]] = field(default_factory=list)

    def create(self, vendor: str, name: str) -> str:
        assert name.startswith(PREFIX)
        self.drop(vendor, name)
        if vendor == "postgresql":
            pg_admin(f'CREATE DATABASE "{name}"')
        else:
            maria_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        self.made.append((vendor, name))
        return name

    def drop(self, vendor: str, name: str) -> None:
        assert name.startswith(PREFIX)
        if vendor == "postgresql":
            pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            maria_admin(f"DROP DATABASE IF EXISTS `{name}`")
        if (vendor, name) in self.made:
            self.made.remove((vendor, name))

    def drop_all(self) -> None:
        for vendor, name in list(reversed(self.made)):
            self.drop(vendor, name)


def site_env(vendor: str, source: str, mode: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GET_ONLY_MODE", "READ_ONLY_MODE")}
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.copy_site.settings",
        PYTHONPATH=str(ROOT),
        COPY_BENCH_SOURCE=vendor,
        COPY_BENCH_SOURCE_NAME=source,
        COPY_BENCH_TARGET_NAME=TARGET,
    )
    if mode:
        env["GET_ONLY_MODE"] = "true"  # the copy refuses unless the source is read-only
    return env


def django(vendor: str, source: str, *args: str) -> None:
    subprocess.run(
        [PYTHON, "-m", "django", *args], env=site_env(vendor, source), check=True, cwd=ROOT
    )


def generate(dbs: Databases, vendor: str, name: str, narrow: int, wide: int) -> str:
    """Migrate ``name`` and fill it on the server, the same values on either engine."""
    dbs.create(vendor, name)
    django(vendor, name, "migrate", "--database", "default", "--verbosity", "0")
    started = time.monotonic()
    if vendor == "postgresql":
        pg_admin(PG_FILL.format(narrow=narrow, wide=wide), name)
    else:
        for statement in MARIA_FILL.format(narrow=narrow, wide=wide).split(";\n"):
            maria_admin(statement, name)
    print(f"  {name}: {narrow:,} + {wide:,} rows made in {time.monotonic() - started:.1f} s")
    return name


PG_FILL = """
INSERT INTO bench_app_narrow (id, number, code, flag, created)
SELECT g, (g::bigint * 7919) % 1000003, 'n' || lpad(g::text, 9, '0'), g % 3 = 0,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second'
       + (g % 999983) * interval '1 microsecond'
FROM generate_series(1, {narrow}) g;
INSERT INTO bench_app_wide (id, title, slug, author, body, data, price, published, narrow_id)
SELECT g, 'Article number ' || g || ' about moving a database', 'article-' || g,
       'author-' || (g % 997), substr(repeat(md5(g::text), 10), 1, 300),
       jsonb_build_object('n', g, 'tags', jsonb_build_array('copy', 'bench'), 'score', g % 100),
       ((g % 1000000) / 100.0)::numeric(10, 2),
       timestamptz '2021-01-01 00:00:00+00' + g * interval '1 minute'
       + (g % 999983) * interval '1 microsecond',
       1 + (g::bigint * 13) % {narrow}
FROM generate_series(1, {wide}) g;
SELECT setval(pg_get_serial_sequence('bench_app_narrow', 'id'), {narrow});
SELECT setval(pg_get_serial_sequence('bench_app_wide', 'id'), {wide});
ANALYZE bench_app_narrow, bench_app_wide
"""
# JSON_OBJECT's text has a space after each colon and comma, as jsonb prints it.
MARIA_FILL = """
INSERT INTO bench_app_narrow (id, number, code, flag, created)
SELECT seq, (seq * 7919) % 1000003, CONCAT('n', LPAD(seq, 9, '0')), seq % 3 = 0,
       TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq SECOND
       + INTERVAL (seq % 999983) MICROSECOND
FROM seq_1_to_{narrow};
INSERT INTO bench_app_wide (id, title, slug, author, body, data, price, published, narrow_id)
SELECT seq, CONCAT('Article number ', seq, ' about moving a database'), CONCAT('article-', seq),
       CONCAT('author-', seq % 997), SUBSTRING(REPEAT(MD5(seq), 10), 1, 300),
       JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('copy', 'bench'), 'score', seq % 100),
       (seq % 1000000) / 100,
       TIMESTAMP'2021-01-01 00:00:00' + INTERVAL seq MINUTE
       + INTERVAL (seq % 999983) MICROSECOND,
       1 + (seq * 13) % {narrow}
FROM seq_1_to_{wide};
ANALYZE TABLE bench_app_narrow, bench_app_wide
"""
# The fill's JSON again (key order and all), after a run that spelled it otherwise.
MARIA_JSON = (
    "UPDATE bench_app_wide SET data = JSON_OBJECT('n', id, 'tags', JSON_ARRAY('copy', 'bench'),"
    " 'score', id % 100)"
)
# The same values, the keys in another order than jsonb's (by length, then bytes).
MARIA_JSON_APART = (
    "UPDATE bench_app_wide SET data = JSON_OBJECT('score', id % 100,"
    " 'tags', JSON_ARRAY('copy', 'bench'), 'n', id)"
)


def source_bytes(vendor: str, name: str) -> int:
    if vendor == "postgresql":
        sql = "SELECT " + " + ".join(f"pg_total_relation_size('{t}')" for t in TABLES)
        return int(pg_admin(sql, name)[0][0])
    names = ", ".join(f"'{t}'" for t in TABLES)
    return int(
        maria_admin(
            "SELECT SUM(data_length + index_length) FROM information_schema.tables "
            f"WHERE table_schema = '{name}' AND table_name IN ({names})"
        )[0][0]
    )


def target_counts(schema: str = "public") -> list[int]:
    return [int(pg_admin(f'SELECT COUNT(*) FROM "{schema}"."{t}"', TARGET)[0][0]) for t in TABLES]


def target_bytes() -> int:
    sql = "SELECT " + " + ".join(f"pg_total_relation_size('public.{t}')" for t in TABLES)
    return int(pg_admin(sql, TARGET)[0][0])


# ---------------------------------------------------------------- timing a process tree


@dataclass
class Run:
    seconds: float
    peak: int  # bytes: the largest sum of the tree's resident sets seen
    output: str


def timed(command: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Wall clock and peak memory of ``command`` and everything it starts."""
    import psutil

    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = psutil.Popen(
            list(command), env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        peak = 0
        while process.poll() is None:
            total = 0
            try:
                tree = [process, *process.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for member in tree:
                with contextlib.suppress(psutil.Error):
                    total += member.memory_info().rss
            peak = max(peak, total)
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return Run(seconds, peak, output)


# ---------------------------------------------------------------- the contenders


@dataclass
class Result:
    pair: str
    contender: str
    size: str  # "full", "tenth" or "subset": which source it copied
    rows: int
    seconds: float
    peak: int
    megabytes: float  # the copied tables' size, as dbtools' target holds them
    baseline: str  # the dbtools row of the same rows its time is set against
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.seconds == 0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def throughput(self) -> float:
        return self.megabytes / self.seconds if self.seconds else 0.0


@dataclass
class Pair:
    vendor: str
    sources: dict[str, str]  # size -> source database
    sizes: dict[str, tuple[int, int]]  # size -> (narrow, wide)
    dbs: Databases

    @property
    def rows(self) -> dict[str, int]:
        return {size: sum(counts) for size, counts in self.sizes.items()}

    def fresh_target(self, migrated: bool) -> None:
        self.dbs.create("postgresql", TARGET)
        if migrated:
            django(self.vendor, self.sources["full"], "migrate", "--database", "new", "-v", "0")

    def check(self, size: str, name: str, schema: str = "public") -> None:
        found = target_counts(schema)
        if found != list(self.sizes[size]):
            raise RuntimeError(f"{name}: the target holds {found} rows, not {self.sizes[size]}")

    def dbtools_copy(self, size: str, jobs: int, batch: int) -> Run:
        self.fresh_target(migrated=True)
        command = [PYTHON, "-m", "django", "dbtools", "copy", "--from", "default", "--to", "new"]
        command += ["--jobs", str(jobs), "--batch-size", str(batch), "--noinput", "--no-verify"]
        run = timed(command, site_env(self.vendor, self.sources[size], mode=True))
        self.check(size, "dbtools copy")
        return run

    def dbtools_verify(self, size: str, jobs: int) -> Run:
        """On the target the last copy left."""
        command = [PYTHON, "-m", "django", "dbtools", "verify", "--from", "default", "--to", "new"]
        run = timed(
            [*command, "--jobs", str(jobs)], site_env(self.vendor, self.sources[size], True)
        )
        if "Everything matches." not in run.output:
            raise RuntimeError(f"dbtools verify found differences:\n{run.output[-3000:]}")
        return run

    def dbtools_verify_spelled_apart(self, size: str) -> Run:
        """verify again with the source's JSON keys in another order than jsonb keeps (as
        Django writes a dict's keys in their order): the same values, spelled apart, so every
        chunk is digested a second time with its JSON read in Python, by value."""
        source = self.sources[size]
        maria_admin(MARIA_JSON_APART, source)
        try:
            return self.dbtools_verify(size, 1)
        finally:
            maria_admin(MARIA_JSON, source)

    def dump_load(self, size: str) -> Run:
        self.fresh_target(migrated=True)
        env = site_env(self.vendor, self.sources[size])
        django_cmd = f"{PYTHON} -m django"
        pipe = (
            f"set -o pipefail; {django_cmd} dumpdata bench_app --database default | "
            f"{django_cmd} loaddata --database new --format json -"
        )
        run = timed(["bash", "-c", pipe], env)
        self.check(size, "dumpdata | loaddata")
        return run

    def stream(self, size: str, batch: int) -> Run:
        self.fresh_target(migrated=True)
        source = self.sources[size]
        url = (
            f"mysql://root@127.0.0.1:3306/{source}"
            if self.vendor == "mariadb"
            else f"postgresql://postgres@127.0.0.1:5432/{source}"
        )
        command = [PYTHON, str(ROOT / "benchmarks" / "stream_copy.py"), "--source", url]
        command += ["--target", f"postgresql://postgres@127.0.0.1:5432/{TARGET}"]
        run = timed([*command, "--batch-size", str(batch), *TABLES])
        self.check(size, "stream_copy.py")
        return run

    def client_pipe(self, size: str) -> Run:
        """The servers' own clients: rows as text (or PostgreSQL's binary) through a pipe."""
        self.fresh_target(migrated=True)
        source = self.sources[size]
        into = f"PGOPTIONS='-c timezone=UTC' psql -X -q -h 127.0.0.1 -U postgres -d {TARGET}"
        steps = []
        for table in TABLES:
            columns = ", ".join(
                name
                for (name,) in pg_admin(
                    "SELECT attname FROM pg_attribute WHERE attrelid = "
                    f"'{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                    TARGET,
                )
            )
            if self.vendor == "postgresql":
                out = (
                    f"psql -X -q -h 127.0.0.1 -U postgres -d {source} -c "
                    f'"\\copy {table} ({columns}) TO STDOUT (FORMAT binary)"'
                )
                steps.append(
                    f'{out} | {into} -c "\\copy {table} ({columns}) FROM STDIN (FORMAT binary)"'
                )
            else:
                out = (
                    "mariadb -h 127.0.0.1 -u root --batch --skip-column-names --quick "
                    f'-e "SELECT {columns} FROM {table}" {source}'
                )
                steps.append(f'{out} | {into} -c "\\copy {table} ({columns}) FROM STDIN"')
        run = timed(["bash", "-c", "set -eo pipefail; " + "; ".join(steps)])
        self.check(size, "client pipe")
        return run

    def pgloader(self, size: str, workdir: Path) -> Run:
        """Debian's pgloader with its defaults, its schema its own (and the heap it needs)."""
        self.fresh_target(migrated=False)
        source = self.sources[size]
        scheme = "mysql://root@127.0.0.1:3306" if self.vendor == "mariadb" else PGLOADER_PG
        names = ", ".join(f"'{t}'" for t in TABLES)
        # From PostgreSQL, pgloader's grammar wants the schema named.
        including = f"INCLUDING ONLY TABLE NAMES MATCHING {names}" + (
            "" if self.vendor == "mariadb" else " IN SCHEMA 'public'"
        )
        load = workdir / f"{self.vendor}.load"
        load.write_text(
            f"LOAD DATABASE\n  FROM {scheme}/{source}\n"
            f"  INTO pgsql://postgres@127.0.0.1:5432/{TARGET}\n"
            f"  {including};\n"
        )
        command = ["pgloader", "--dynamic-space-size", "4096", "--no-ssl-cert-verification"]
        run = timed([*command, "--logfile", str(workdir / "pgloader.log"), str(load)])
        schema = source if self.vendor == "mariadb" else "public"
        self.check(size, "pgloader", schema)
        return run


# ---------------------------------------------------------------- the run

MAIN = "dbtools copy --jobs 1"
JOBS2 = "dbtools copy --jobs 2"
VERIFY = "dbtools verify --jobs 1"
VERIFY_APART = "dbtools verify --jobs 1, JSON keys in Django's order"
VERIFIES = (VERIFY, VERIFY_APART)
TENTH = "dbtools copy --jobs 1, a tenth of the rows"
SUBSET = "dbtools copy --jobs 1, subset"
DUMP = "dumpdata | loaddata, subset"
STREAM = "stream_copy.py (rows through Python)"
PGLOADER = "pgloader"


def pipe_name(vendor: str) -> str:
    if vendor == "mariadb":
        return "mariadb --batch | psql \\copy (text)"
    return "psql \\copy | psql \\copy (binary)"


def measure(vendor: str, sizes: dict[str, tuple[int, int]], batch: int) -> list[Result]:
    """Every contender for one pair, each into a fresh target; the sources dropped after."""
    pair_name = PAIRS[vendor]
    dbs = Databases()
    results: list[Result] = []
    print(f"\n{pair_name}")
    try:
        pair = Pair(vendor, {}, sizes, dbs)
        for size, (narrow, wide) in sizes.items():
            pair.sources[size] = generate(dbs, vendor, f"{PREFIX}{vendor}_{size}", narrow, wide)
        megabytes: dict[str, float] = {}

        def add(contender: str, size: str, baseline: str, run: Run, note: str = "") -> None:
            if size not in megabytes:  # the first run of a size is dbtools' copy
                megabytes[size] = target_bytes() / 1e6
            result = Result(
                pair_name,
                contender,
                size,
                pair.rows[size],
                run.seconds,
                run.peak,
                megabytes[size],
                baseline,
                note,
            )
            results.append(result)
            print(
                f"  {contender:<44} {result.rows:>9,} rows {run.seconds:8.2f} s"
                f" {result.rate:>9,.0f} rows/s  peak {run.peak / 1e6:7.1f} MB"
            )

        add(MAIN, "full", MAIN, pair.dbtools_copy("full", 1, batch))
        add(VERIFY, "full", MAIN, pair.dbtools_verify("full", 1))
        if vendor == "mariadb":  # two PostgreSQL databases write every value alike
            add(VERIFY_APART, "full", MAIN, pair.dbtools_verify_spelled_apart("full"))
        add(JOBS2, "full", MAIN, pair.dbtools_copy("full", 2, batch))
        add(TENTH, "tenth", TENTH, pair.dbtools_copy("tenth", 1, batch))
        add(SUBSET, "subset", SUBSET, pair.dbtools_copy("subset", 1, batch))
        add(DUMP, "subset", SUBSET, pair.dump_load("subset"))
        add(STREAM, "full", MAIN, pair.stream("full", batch))
        add(pipe_name(vendor), "full", MAIN, pair.client_pipe("full"))
        with tempfile.TemporaryDirectory(prefix="dbtools-pgloader-") as workdir:
            try:
                add(PGLOADER, "full", MAIN, pair.pgloader("full", Path(workdir)))
            except RuntimeError as error:
                reason = pgloader_failure(str(error))
                print(f"  pgloader failed: {reason}")
                results.append(
                    Result(pair_name, PGLOADER, "full", 0, 0.0, 0, 0.0, MAIN, f"failed: {reason}")
                )
        source_mb = source_bytes(vendor, pair.sources["full"]) / 1e6
        print(f"  data: {megabytes['full']:.1f} MB in the target, {source_mb:.1f} MB in the source")
    finally:
        dbs.drop_all()
    return results


def pgloader_failure(output: str) -> str:
    """The line of pgloader's output that says why."""
    for line in output.splitlines():
        if "FATAL" in line or "ERROR" in line or "holds" in line:
            return " ".join(line.split())[:200]
    return " ".join(output.splitlines()[-1:])[:200]


# ---------------------------------------------------------------- the figures


def by_name(results: list[Result], pair: str) -> dict[str, Result]:
    return {r.contender: r for r in results if r.pair == pair}


def ratio(ours: Result, theirs: Result) -> str:
    return f"x{ours.seconds / theirs.seconds:.2f}" if not theirs.failed else ""


def table_rows(results: list[Result], pair: str) -> list[list[str]]:
    """Each contender: its figures and the time of dbtools (same rows, --jobs 1 and 2) over its."""
    found = by_name(results, pair)
    lines = []
    for r in (x for x in results if x.pair == pair):
        if r.failed:
            lines.append([r.contender, "", "", "", "", "", "", "", r.note])
            continue
        ours = found[r.baseline]
        jobs2 = ratio(found[JOBS2], r) if r.size == "full" and r.contender not in VERIFIES else ""
        note = r.note
        if r.size == "subset":
            note = note or "a subset: its rows/s, not a time for the full data"
        if r.contender in VERIFIES:
            note = note or f"its time is x{r.seconds / ours.seconds:.2f} the copy's"
        lines.append(
            [
                r.contender,
                f"{r.rows:,}",
                f"{r.seconds:.2f}",
                f"{r.rate:,.0f}",
                f"{r.throughput:.1f}",
                f"{r.peak / 1e6:.0f}",
                "" if r.contender in (*VERIFIES, TENTH) else ratio(ours, r),
                jobs2,
                note,
            ]
        )
    return lines


HEADER = [
    "contender",
    "rows",
    "seconds",
    "rows/s",
    "MB/s",
    "peak MB",
    "dbtools --jobs 1 time / this",
    "dbtools --jobs 2 time / this",
    "",
]


def print_table(results: list[Result], pair: str) -> None:
    print(f"\n{pair} (wall clock, start-up included; peak: resident memory of the process tree)")
    widths = [44, 10, 8, 9, 6, 7, 10, 10]
    short = [*HEADER[:6], "j1 / this", "j2 / this"]
    print(
        "  "
        + " ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(short, widths, strict=True))
        )
    )
    for line in table_rows(results, pair):
        cells = [
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=False))
        ]
        print("  " + " ".join(cells) + (f"  {line[-1]}" if line[-1] else ""))


@dataclass
class Target:
    pair: str
    goal: str
    measured: str
    passed: bool | None  # None: could not be measured


def targets(results: list[Result]) -> list[Target]:
    found: list[Target] = []
    for pair in dict.fromkeys(r.pair for r in results):
        named = by_name(results, pair)
        main, jobs2 = named[MAIN], named[JOBS2]
        best = min((main, jobs2), key=lambda r: r.seconds)
        loader = named.get(PGLOADER)
        goal = "dbtools copy >= 2x pgloader's rows/s"
        if pair != PAIRS["mariadb"]:
            pass  # the target is set for MariaDB to PostgreSQL only; the table still shows it
        elif loader is None or loader.failed:
            found.append(Target(pair, goal, loader.note if loader else "not run", None))
        else:
            times = best.rate / loader.rate
            # The clients' own pipe is the physical limit here: a goal under it cannot be met.
            pipe = named[pipe_name("mariadb")]
            limit = (
                f"; 2x would be {loader.seconds / 2:.2f} s, under the clients' own pipe"
                f" ({pipe.seconds:.2f} s, the physical limit here)"
                if loader.seconds / 2 < pipe.seconds
                else ""
            )
            found.append(
                Target(
                    pair,
                    goal,
                    f"{best.contender}: {best.rate:,.0f} rows/s, x{times:.2f} pgloader's"
                    f" {loader.rate:,.0f} (--jobs 1: x{main.rate / loader.rate:.2f}){limit}",
                    times >= 2,
                )
            )
        stream = named[STREAM]
        found.append(
            Target(
                pair,
                "dbtools copy --jobs 1 within 1.3x of stream_copy.py's time",
                f"{main.seconds:.1f} s against {stream.seconds:.1f} s:"
                f" x{main.seconds / stream.seconds:.2f}",
                main.seconds <= 1.3 * stream.seconds,
            )
        )
        small, dump = named[SUBSET], named[DUMP]
        found.append(
            Target(
                pair,
                "dbtools copy >= 10x dumpdata | loaddata's rows/s (same subset)",
                f"{small.rate:,.0f} against {dump.rate:,.0f} rows/s: x{small.rate / dump.rate:.1f}"
                f" (full size: {main.rate:,.0f} rows/s, x{main.rate / dump.rate:.1f})",
                small.rate >= 10 * dump.rate,
            )
        )
        tenth = named[TENTH]
        found.append(
            Target(
                pair,
                f"peak memory about the same for 10x the rows (at most x{SAME_MEMORY})",
                f"{main.rows:,} rows: {main.peak / 1e6:.0f} MB; {tenth.rows:,} rows:"
                f" {tenth.peak / 1e6:.0f} MB (x{main.peak / tenth.peak:.2f})",
                main.peak <= SAME_MEMORY * tenth.peak,
            )
        )
        verify = named[VERIFY]
        found.append(
            Target(
                pair,
                "dbtools verify <= 0.5x the copy's time",
                f"{verify.seconds:.1f} s against {main.seconds:.1f} s:"
                f" x{verify.seconds / main.seconds:.2f}",
                verify.seconds <= 0.5 * main.seconds,
            )
        )
    return found


def verdict(target: Target) -> str:
    return {True: "pass", False: "FAIL", None: "not measured"}[target.passed]


def print_targets(found: list[Target]) -> None:
    print("\nTargets")
    for t in found:
        print(f"  {verdict(t):<12} {t.pair}: {t.goal}: {t.measured}")


# ---------------------------------------------------------------- the page and the plot


def first_line(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return f"{command[0]}: not installed"
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def checkout() -> str:
    """The commit measured, and whether src/ differed from it."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    changed = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    dirty = ", with uncommitted changes in src/" if changed.stdout.strip() else ""
    return f"commit {commit.stdout.strip() or 'unknown'}{dirty}"


def versions() -> list[str]:
    packages = ", ".join(
        f"{name} {version(name)}"
        for name in ("Django", "django-db-tools", "psycopg", "mysqlclient")
    )
    servers = [
        pg_admin("SELECT version()")[0][0].split(" on ")[0],
        "MariaDB " + maria_admin("SELECT VERSION()")[0][0],
    ]
    tools = [first_line(["pgloader", "--version"]), first_line(["psql", "--version"])]
    tools.append(first_line(["mariadb", "--version"]))
    return [
        f"Python {platform.python_version()}; {packages} (this checkout: {checkout()})",
        "Servers: " + "; ".join(servers),
        "Clients: " + "; ".join(tools),
    ]


def markdown_table(results: list[Result], pair: str) -> str:
    header = HEADER[:-1] + ["note"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * 7 + "---|"]
    for line in table_rows(results, pair):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |")
    return "\n".join(lines)


def plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = list(dict.fromkeys(r.pair for r in results))
    fig, axes = plt.subplots(len(pairs), 2, figsize=(13, 4.2 * len(pairs)), squeeze=False)
    for row, pair in enumerate(pairs):
        data = [
            r for r in results if r.pair == pair and not r.failed and r.contender not in VERIFIES
        ]
        positions = list(range(len(data)))
        colours = [
            "#1d5c8c"
            if r.contender.startswith("dbtools")
            else "#8a8f98"
            if r.contender in (STREAM, pipe_name("mariadb"), pipe_name("postgresql"))
            else "#c9822b"
            for r in data
        ]
        labels = [r.contender.replace(", ", ",\n") for r in data]
        for column, (values, label, unit) in enumerate(
            (
                ([r.rate for r in data], "rows per second (higher is better)", "{:,.0f}"),
                ([r.peak / 1e6 for r in data], "peak MB of the process tree", "{:.0f}"),
            )
        ):
            axis = axes[row][column]
            axis.barh(positions, values, color=colours)
            axis.set_yticks(positions, labels if column == 0 else [""] * len(data), fontsize=8)
            axis.invert_yaxis()
            axis.set_title(pair if column == 0 else f"{pair}: memory")
            axis.set_xlabel(label)
            for y, value in enumerate(values):
                axis.text(value, y, " " + unit.format(value), va="center", fontsize=8)
            axis.margins(x=0.18)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def publish(
    results: list[Result], sizes: dict[str, tuple[int, int]], lines: list[str], measured: str
) -> None:
    DOCS.mkdir(exist_ok=True)
    plot(results, DOCS / "copy-benchmarks.png")
    found = targets(results)
    full, tenth, subset = sizes["full"], sizes["tenth"], sizes["subset"]
    tables = "\n\n".join(
        f"### {pair}\n\n{markdown_table(results, pair)}"
        for pair in dict.fromkeys(r.pair for r in results)
    )
    checked = "\n".join(
        "| "
        + " | ".join(c.replace("|", "\\|") for c in (t.pair, t.goal, t.measured, verdict(t)))
        + " |"
        for t in found
    )
    page = f"""# Copy benchmarks: `dbtools copy` against the other ways to move a database

Produced by `make bench-copy` (`python benchmarks/copy_throughput.py`) on {measured}.
One run, every contender once, the two pairs side by side; each copies the same generated
data into a fresh PostgreSQL database on the same server. The machine is shared: the same
command can take a quarter more or less from one run to the next, so a verdict within that of
its threshold may flip between runs.

- Machine: {machine()}
- {lines[0]}
- {lines[1]}
- {lines[2]}
- Data (`benchmarks/copy_site`): {full[0]:,} narrow rows (an id, an int, a varchar of 10, a
  boolean, a datetime) and {full[1]:,} rows shaped like a Django site's (three varchars, a text of
  300 characters, a JSONField, a DecimalField, a datetime, a foreign key to the narrow table),
  made on the source server by `INSERT ... SELECT` (`generate_series`, MariaDB's
  `seq_1_to_N`). MB/s is the copied tables' size in dbtools' target,
  `pg_total_relation_size` (heap, TOAST and indexes), over the time.

![Rows per second and peak memory](copy-benchmarks.png)

## Targets

| pair | target | measured | verdict |
|---|---|---|---|
{checked}

## Every run

Seconds are wall clock, each command's start-up (Python, Django) included. Peak MB is the
largest resident memory of the command's whole process tree, summed over its processes
(polled every 20 ms), not the servers'. The ratio columns are dbtools' time for the same
rows over the contender's: below 1, dbtools took less time.

{tables}

## What each contender does

- **dbtools copy**: `python -m django dbtools copy --from default --to new --jobs N
  --batch-size 5000 --noinput --no-verify` with `GET_ONLY_MODE=true`, into a target migrated
  just before (`migrate --database new`, not timed). It also copies the few rows of
  `django.contrib.auth` and `contenttypes` the site has. **verify** is `dbtools verify` on
  the target the `--jobs 1` copy left, timed on its own. The generated JSON has its keys in
  the order jsonb keeps them, so both databases write it alike and verify digests it in the
  databases; **JSON keys in Django's order** is verify again after the source's JSON was
  rewritten with the same keys in another order (as Django writes a dict), so that every
  chunk is digested a second time, its JSON read in Python on both sides, by value.
- **a tenth of the rows**: the same copy from a source with {tenth[0]:,} + {tenth[1]:,} rows, to
  show that memory does not grow with the table.
- **dumpdata | loaddata**: `dumpdata bench_app | loaddata --format json -`, on a subset of
  {subset[0]:,} + {subset[1]:,} rows since it is slow; compare its rows/s, not its time, with the
  full-size rows (its ratio column is to dbtools copying the same subset).
- **stream_copy.py** (`benchmarks/stream_copy.py`): no Django; a server-side cursor on the
  source (mysqlclient's `SSCursor`, a psycopg named cursor) into psycopg 3's binary `COPY`,
  one transaction per table, every row through Python with nothing checked or converted
  beyond what binary COPY needs: the floor for a copy in Python.
- **the clients' pipe**: `mariadb --batch --quick -e "SELECT ..." | psql -c "\\copy ... FROM
  STDIN"` (text), or `psql -c "\\copy ... TO STDOUT (FORMAT binary)" | psql -c "\\copy ... FROM
  STDIN (FORMAT binary)"`: no Python at all, the floor on this machine. It works here
  because the data has no NULL and no tab or newline in its text.
- **pgloader**: Debian's, with its defaults and `--dynamic-space-size 4096`, the two tables
  only (`INCLUDING ONLY TABLE NAMES MATCHING`, with `IN SCHEMA 'public'` from PostgreSQL, where
  its grammar requires it: Debian's 3.6.7 does copy PostgreSQL to PostgreSQL).
  It makes the target's schema itself (tables, then indexes and foreign keys after the load),
  which is part of its time, with its own casts (MariaDB's JSON, a `longtext`, becomes `text`).
  The target of 2x its rows/s is set for MariaDB to PostgreSQL only.

## Reproduce

```sh
make bench-copy
# or, smaller: .venv/bin/python benchmarks/copy_throughput.py --narrow 100000 --wide 20000
```

It needs PostgreSQL (user `postgres`, trust) and MariaDB (root, no password) on 127.0.0.1,
and Debian's `pgloader`, `postgresql-client` and `mariadb-client`. It makes databases named
`{PREFIX}*` and drops them at the end.
"""
    (DOCS / "copy-benchmarks.md").write_text(page)
    print(f"\nWrote {DOCS / 'copy-benchmarks.md'} and {DOCS / 'copy-benchmarks.png'}")


def main() -> None:
    narrow = option("--narrow", 1_000_000)
    wide = option("--wide", 200_000)
    batch = option("--batch-size", 5000)
    sizes = {
        "full": (narrow, wide),
        "tenth": (narrow // 10, wide // 10),
        "subset": (min(20_000, narrow), min(5_000, wide)),
    }
    if "--publish" in sys.argv:
        kept = json.loads(RESULTS.read_text())
        results = [Result(**r) for r in kept["results"]]
        sizes = {k: (v[0], v[1]) for k, v in kept["sizes"].items()}
        lines = kept["versions"]
        measured = kept["measured"]
    else:
        only = [v for v in PAIRS if f"--only-{v}" in sys.argv]
        results = []
        if only and RESULTS.exists():
            # One pair measured again: the other's figures kept from the last run, and said so.
            kept = json.loads(RESULTS.read_text())
            measured = {PAIRS[v] for v in only}
            results = [Result(**r) for r in kept["results"] if r["pair"] not in measured]
        lines = versions()
        for vendor in only or list(PAIRS):
            results = [r for r in results if r.pair != PAIRS[vendor]]
            results += measure(vendor, sizes, batch)
            results.sort(key=lambda r: list(PAIRS.values()).index(r.pair))
            measured = f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
            kept = {
                "measured": measured,
                "sizes": sizes,
                "versions": lines,
                "results": [asdict(r) for r in results],
            }
            RESULTS.write_text(json.dumps(kept, indent=1) + "\n")  # after each pair
    for pair in dict.fromkeys(r.pair for r in results):
        print_table(results, pair)
    print_targets(targets(results))
    publish(results, sizes, lines, measured)


if __name__ == "__main__":
    main()
