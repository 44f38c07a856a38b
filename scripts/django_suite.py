"""Run Django's own test suite without and with ``dbtools`` installed, and print the difference.

With no mode on, adding ``dbtools`` to INSTALLED_APPS must change nothing that Django itself
tests. This script takes the Django sdist matching the installed version (``pip download``,
cached in ``.django-suite/``), makes a copy of its ``tests/runtests.py`` that appends
``"dbtools"`` to ``ALWAYS_INSTALLED_APPS`` (runtests.py replaces the settings module's
INSTALLED_APPS with that list, so a settings file could not do it), and runs the same labels
with both runners on each backend. A run's failing tests are read from unittest's
"FAIL: ..." / "ERROR: ..." headers and its totals from the closing lines.

Exit status 0 only when, on every backend, both ways completed with the same failing tests
(Django's own failures on this machine, if any, count on neither side), the same number of
tests run and the same skip and expected-failure counts; otherwise 1.

PostgreSQL is looked for at 127.0.0.1:5432 as user ``postgres`` with no password (override
with PGHOST, PGPORT, PGUSER, PGPASSWORD); the test databases are ``test_django_suite`` and
``test_django_suite_other``. Each run's whole output is kept in
``.django-suite/logs/django-VERSION/``.

    python scripts/django_suite.py                  # nine labels, SQLite and PostgreSQL
    python scripts/django_suite.py --subset         # the quicker labels CI runs
    python scripts/django_suite.py --backends sqlite --labels basic queries
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".django-suite"

DEFAULT_LABELS = (
    "backends",
    "transactions",
    "queries",
    "basic",
    "model_fields",
    "select_for_update",
    "bulk_create",
    "get_or_create",
    "raw_query",
)
# What CI can afford: the labels that touch connections, transactions and locking, where the
# guard hooks in, without the big query-building labels.
SUBSET_LABELS = ("backends", "transactions", "get_or_create", "select_for_update", "raw_query")
BACKENDS = ("sqlite", "postgresql")

# Packages from Django's tests/requirements/ that a label needs to run in full, and only those:
# without Pillow, model_fields skips every ImageField test (49 in Django 5.2); without
# psycopg-pool, four of backends' PostgreSQL pool tests error on both sides. Rows: label,
# backend (None: any), project, the requirements file that pins it, the module it provides.
REQUIREMENTS = (
    ("model_fields", None, "Pillow", "py3.txt", "PIL"),
    ("backends", "postgresql", "psycopg-pool", "postgres.txt", "psycopg_pool"),
)

# Any of these in the environment would turn a mode on, and the point is "no mode on".
MODE_SWITCHES = ("READ_ONLY_MODE", "GET_ONLY_MODE")

SEPARATOR = "=" * 70
UNEXPECTED = "UNEXPECTED SUCCESS"
HEADER = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (.+)$")
RAN = re.compile(r"^Ran (\d+) tests? in ")
OUTCOME = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$")
COUNTS = ("failures", "errors", "skipped", "expected failures", "unexpected successes")

POSTGRESQL_SETTINGS = '''\
"""Django's test suite on PostgreSQL; written by scripts/django_suite.py."""

DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "django_suite",
        "HOST": {host!r},
        "PORT": {port!r},
        "USER": {user!r},
        "PASSWORD": {password!r},
    }},
    "other": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "django_suite_other",
        "HOST": {host!r},
        "PORT": {port!r},
        "USER": {user!r},
        "PASSWORD": {password!r},
    }},
}}

SECRET_KEY = "django_tests_secret_key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = False
'''

# Django's own settings for SQLite (in-memory databases) live in its tests directory, which
# runtests.py puts first on sys.path.
SETTINGS_MODULE = {"sqlite": "test_sqlite", "postgresql": "django_suite_postgresql"}


@dataclass
class Failure:
    kind: str  # FAIL, ERROR or UNEXPECTED SUCCESS
    test: str  # as unittest names it, e.g. "test_x (module.Class.test_x)"
    last_lines: list[str]

    @property
    def key(self) -> str:
        return f"{self.kind}: {self.test}"


@dataclass
class Run:
    backend: str
    with_dbtools: bool
    log: Path
    seconds: float = 0.0
    returncode: int = 0
    ran: int | None = None  # None: the run never reached unittest's closing lines
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)

    @property
    def way(self) -> str:
        return "with dbtools" if self.with_dbtools else "without dbtools"


def log(message: str) -> None:
    print(message, flush=True)


def django_version() -> str:
    # This script runs on the venv's python, so this is the Django the tests will import.
    import django

    return django.__version__


def sdist_tree(version: str) -> Path:
    """Django's source tree for ``version``, downloaded and extracted once into the cache."""
    tree = CACHE / f"django-{version}"
    if (tree / "tests" / "runtests.py").is_file():
        return tree
    downloads = CACHE / "sdist"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = find_archive(downloads, version)
    if archive is None:
        log(f"Downloading the Django {version} sdist with pip")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(downloads),
                f"Django=={version}",
            ],
            check=True,
        )
        archive = find_archive(downloads, version)
        if archive is None:
            raise SystemExit(f"pip downloaded no Django-{version} .tar.gz into {downloads}")
    log(f"Extracting {archive.name}")
    # Extracted beside the cache and renamed into place, so an interrupted extraction is never
    # mistaken for a complete tree on the next run.
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch, tarfile.open(archive) as sdist:
        if hasattr(tarfile, "data_filter"):
            sdist.extractall(scratch, filter="data")
        else:  # Pythons before the extraction filters; the archive comes from PyPI
            sdist.extractall(scratch)
        (top,) = Path(scratch).iterdir()
        if tree.exists():
            shutil.rmtree(tree)
        top.rename(tree)
    return tree


def find_archive(directory: Path, version: str) -> Path | None:
    # Older sdists are named Django-X.tar.gz, newer ones django-X.tar.gz.
    wanted = f"django-{version}.tar.gz"
    return next((p for p in directory.iterdir() if p.name.lower() == wanted), None)


def write_dbtools_runner(tests: Path) -> Path:
    """A copy of runtests.py whose ALWAYS_INSTALLED_APPS ends with "dbtools"."""
    source = (tests / "runtests.py").read_text(encoding="utf-8")
    pattern = re.compile(r"^ALWAYS_INSTALLED_APPS = \[\n.*?^\]\n", re.MULTILINE | re.DOTALL)
    found = pattern.findall(source)
    if len(found) != 1:
        # A silent no-op here would compare Django with Django and always pass.
        raise SystemExit(
            f"{tests / 'runtests.py'}: expected one ALWAYS_INSTALLED_APPS list, found {len(found)}"
        )
    patched = found[0][: -len("]\n")] + '    "dbtools",\n]\n'
    runner = tests / "runtests_dbtools.py"
    runner.write_text(source.replace(found[0], patched), encoding="utf-8")
    return runner


def requirement_spec(tests: Path, name: str, filename: str) -> str:
    """The line for ``name`` in Django's tests/requirements/, so versions match Django's."""
    requirements = tests / "requirements" / filename
    if requirements.is_file():
        for line in requirements.read_text(encoding="utf-8").splitlines():
            spec = line.split("#", 1)[0].strip()
            project = re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0]
            if project.lower() == name.lower():
                return spec
    return name


def extra_packages(
    tests: Path, labels: Sequence[str], backends: Sequence[str], parallel: int
) -> Path | None:
    """Install what the labels need and the venv lacks into the cache, not into the venv.

    They go to a --target directory put on PYTHONPATH for the runs, so the project's own venv
    (and its test suite) is left exactly as ``make`` built it.
    """
    wanted = {
        module: requirement_spec(tests, project, filename)
        for label, backend, project, filename, module in REQUIREMENTS
        if label in labels and (backend is None or backend in backends)
    }
    if parallel > 1:
        # Django's parallel runner pickles tracebacks back from the workers with tblib; without
        # it the first failure ends the run.
        wanted["tblib"] = requirement_spec(tests, "tblib", "py3.txt")
    target = CACHE / f"deps-py{sys.version_info[0]}.{sys.version_info[1]}"
    specs = [
        spec
        for module, spec in wanted.items()
        if importlib.util.find_spec(module) is None and not (target / module).exists()
    ]
    if specs:
        log(f"Installing {', '.join(specs)} into {rel(target)}")
        # No dependencies: theirs (typing-extensions) are in the venv already, and copies here
        # would shadow the venv's own on PYTHONPATH.
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
            + ["--target", str(target), *specs],
            check=True,
        )
    return target if target.is_dir() else None


def write_postgresql_settings() -> Path:
    directory = CACHE / "settings"
    directory.mkdir(parents=True, exist_ok=True)
    text = POSTGRESQL_SETTINGS.format(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=os.environ.get("PGPORT", "5432"),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", ""),
    )
    (directory / f"{SETTINGS_MODULE['postgresql']}.py").write_text(text, encoding="utf-8")
    return directory


def run_suite(
    run: Run, runner: Path, labels: Sequence[str], parallel: int, pythonpath: Sequence[Path]
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in MODE_SWITCHES}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(p) for p in pythonpath] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    command = [
        sys.executable,
        runner.name,
        f"--settings={SETTINGS_MODULE[run.backend]}",
        f"--parallel={parallel}",
        "-v",
        "1",
        "--noinput",
        *labels,
    ]
    run.log.parent.mkdir(parents=True, exist_ok=True)
    log(f"--- {run.backend}, {run.way}: {' '.join(command[1:3])} ... (log: {rel(run.log)})")
    started = time.monotonic()
    with run.log.open("wb") as output:
        completed = subprocess.run(
            command,
            cwd=runner.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    run.seconds = time.monotonic() - started
    run.returncode = completed.returncode
    parse(run, run.log.read_text(encoding="utf-8", errors="replace").splitlines())
    if run.ran is None:
        log(f"    did not complete (exit {run.returncode}) after {run.seconds:.0f} s")
    else:
        bad = run.counts["failures"] + run.counts["errors"]
        log(f"    {run.ran} tests, {bad} failing, {run.seconds:.0f} s")


def parse(run: Run, lines: list[str]) -> None:
    run.tail = lines[-15:]
    for index, line in enumerate(lines):
        match = HEADER.match(line)
        # A header only counts right under unittest's separator, not as text in a traceback;
        # unittest lists unexpected successes one a line under a single separator.
        above = lines[index - 1] if index else ""
        if match is None or not (
            above == SEPARATOR or (match.group(1) == UNEXPECTED and above.startswith(UNEXPECTED))
        ):
            continue
        body: list[str] = []
        if match.group(1) != UNEXPECTED:  # they have no traceback
            for following in lines[index + 2 :]:
                if following in (SEPARATOR, "-" * 70):
                    break
                body.append(following)
        failure = Failure(match.group(1), match.group(2).strip(), exception_lines(body))
        run.failures[failure.key] = failure
    ran_at = [i for i, line in enumerate(lines) if RAN.match(line)]
    if not ran_at:
        return
    ran_match = RAN.match(lines[ran_at[-1]])
    assert ran_match is not None
    counts = dict.fromkeys(COUNTS, 0)
    for line in lines[ran_at[-1] + 1 :]:
        outcome = OUTCOME.match(line)
        if outcome is None:
            continue
        for item in (outcome.group(2) or "").split(","):
            name, _, value = item.strip().partition("=")
            if name in counts and value.isdigit():
                counts[name] = int(value)
        run.ran = int(ran_match.group(1))
        run.counts = counts
        return


def exception_lines(traceback: list[str]) -> list[str]:
    """The exception a traceback ends with, and its message (at most four lines)."""
    lines = [line for line in traceback if line.strip()]
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if not frames:
        return lines[-4:]
    # After the last frame's header come its indented source line and carets, then the
    # exception at the margin, whose message may run over many lines of its own.
    start = frames[-1] + 1
    while start < len(lines) and lines[start][:1].isspace():
        start += 1
    return lines[start : start + 4]


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def report(backend: str, without: Run, with_: Run) -> str:
    """Print one backend's comparison; its verdict: "same", "DIFFERENT" or "NOT COMPARED"."""
    log(f"\n=== {backend}")
    if without.ran is None or with_.ran is None:
        for run in (without, with_):
            if run.ran is None:
                log(f"{run.way}: did not complete (exit {run.returncode}); the log ends with:")
                for line in run.tail:
                    log(f"    {line}")
        log(f"{backend}: NOT COMPARED")
        return "NOT COMPARED"

    rows = [("tests run", without.ran, with_.ran)]
    rows += [(name, without.counts[name], with_.counts[name]) for name in COUNTS]
    log(f"{'':24}{'without dbtools':>17}{'with dbtools':>15}")
    for name, left, right in rows:
        mark = "" if left == right else "   <- differs"
        log(f"{name:24}{left:>17}{right:>15}{mark}")
    log(f"{'wall time (s)':24}{without.seconds:>17.0f}{with_.seconds:>15.0f}")

    only_with = [with_.failures[k] for k in sorted(with_.failures.keys() - without.failures)]
    only_without = [without.failures[k] for k in sorted(without.failures.keys() - with_.failures)]
    both = sorted(with_.failures.keys() & without.failures.keys())
    show("Fail only with dbtools", only_with)
    show("Fail only without dbtools", only_without)
    if both:
        # Django's own failures on this machine: the same either way, so not dbtools' doing.
        log(f"Fail both ways, not counted ({len(both)}):")
        for key in both:
            log(f"  {key}")

    # The parsed headers and unittest's own totals must agree, or the comparison above missed
    # something (a header format this parser does not know).
    parsed_ok = all(
        sum(1 for f in run.failures.values() if f.kind != UNEXPECTED)
        == run.counts["failures"] + run.counts["errors"]
        for run in (without, with_)
    )
    if not parsed_ok:
        log("The FAIL/ERROR headers read do not add up to the totals: see the logs.")
    same_counts = all(
        left == right for name, left, right in rows if name not in ("failures", "errors")
    )
    # Same tests failing but a different exit status: something broke outside the tests
    # (tearing down the test databases, say), which the totals do not show.
    same_exit = without.returncode == with_.returncode
    same = not only_with and not only_without and same_counts and parsed_ok and same_exit
    if not same_counts:
        log("Counts of tests run, skipped or expected failures differ.")
    if not same_exit:
        log(f"Exit statuses differ: {without.returncode} without, {with_.returncode} with dbtools.")
    log(f"{backend}: {'SAME without and with dbtools' if same else 'DIFFERENT'}")
    return "same" if same else "DIFFERENT"


def show(title: str, failures: list[Failure]) -> None:
    if not failures:
        log(f"{title}: none")
        return
    log(f"{title} ({len(failures)}):")
    for failure in failures:
        log(f"  {failure.key}")
        for line in failure.last_lines:
            log(f"      {line}")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--labels",
        nargs="+",
        metavar="LABEL",
        help=f"test labels (default: {' '.join(DEFAULT_LABELS)})",
    )
    chosen.add_argument(
        "--subset", action="store_true", help=f"CI's quicker labels: {' '.join(SUBSET_LABELS)}"
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated, from: sqlite, postgresql (default: both)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="runtests.py's --parallel (default 1: a 2-core machine, other work on it)",
    )
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = [name for name in args.backends if name not in BACKENDS]
    if unknown or not args.backends:
        parser.error(f"--backends: choose from {', '.join(BACKENDS)} (got {args.backends})")
    if args.parallel < 1:
        parser.error("--parallel must be 1 or more")
    args.labels = list(SUBSET_LABELS if args.subset else args.labels or DEFAULT_LABELS)
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    version = django_version()
    CACHE.mkdir(exist_ok=True)
    tests = sdist_tree(version) / "tests"
    runners = {False: tests / "runtests.py", True: write_dbtools_runner(tests)}
    pythonpath = [write_postgresql_settings()]
    deps = extra_packages(tests, args.labels, args.backends, args.parallel)
    if deps is not None:
        pythonpath.append(deps)
    log(
        f"Django {version} test suite, {', '.join(args.backends)}, parallel {args.parallel}, "
        f"labels: {' '.join(args.labels)}"
    )

    results: dict[str, str] = {}
    for backend in args.backends:
        runs = {}
        for with_dbtools in (False, True):
            way = "with" if with_dbtools else "without"
            log_file = CACHE / "logs" / f"django-{version}" / f"{backend}-{way}-dbtools.log"
            run = Run(backend, with_dbtools, log_file)
            run_suite(run, runners[with_dbtools], args.labels, args.parallel, pythonpath)
            runs[with_dbtools] = run
        results[backend] = report(backend, runs[False], runs[True])

    verdict = ", ".join(f"{backend} {outcome}" for backend, outcome in results.items())
    elapsed = time.monotonic() - started
    log(f"\nDjango {version} with and without dbtools: {verdict} ({elapsed:.0f} s)")
    return 0 if all(outcome == "same" for outcome in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
