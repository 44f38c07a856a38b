"""The per-request and per-query benchmarks again, counted in CPU instructions, not seconds.

    python benchmarks/instructions.py [--json PATH]

A shared machine's speed drifts by several percent from one second to the next, which hides
a difference of 1%. Valgrind's callgrind counts the instructions a process's main thread
executes (the one serving the requests), whatever else the machine is doing: each
configuration runs in fresh processes under callgrind, with
N, 3N and 5N operations, and the difference between two counts divided by the operations
between them is its count per operation, start-up left out; the two estimates must agree
(now and then one process does some one-off work another does not). Hash seed fixed, address
randomisation off, garbage collection off while counting, so a count repeats to the
instruction; what remains is that changing the code shifts where objects land in memory, worth
a few tenths of a percent per request either way ("a middleware that does nothing" shows that
floor). Needs valgrind on the PATH (Debian: apt install valgrind); without it, nothing is
counted.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import Config, Group, emit  # noqa: E402

# (module, how its groups are built, operations N): a request costs about 40 times a cursor
# query, an ORM query about 15 times. A guard kind names its database ("cursor:postgresql"):
# there only this process's instructions are counted, not the server's.
SOURCES = [
    ("benchmarks.request_overhead", "request", 100),
    ("benchmarks.guard_overhead", "cursor:sqlite", 300),
    ("benchmarks.guard_overhead", "orm:sqlite", 60),
    ("benchmarks.guard_overhead", "cursor:postgresql", 300),
]
TOTALS = re.compile(r"^totals: (\d+)", re.MULTILINE)
AGREEMENT = 0.002  # two estimates of one configuration closer than this agree


def groups_of(module_name: str, kind: str) -> list[Group]:
    if kind == "request":
        module = importlib.import_module(module_name)
        return [
            Group("Instructions per request, mode off", module.configs(False)),
            Group("Instructions per request, mode on", module.configs(True)),
            Group(
                "Instructions per request, mode on, a visitor with no session",
                module.anonymous_configs(),
            ),
        ]
    query, database = kind.split(":")
    sys.argv = [sys.argv[0], "--database", database]  # read by the module as it is imported
    module = importlib.import_module(module_name)
    operation = module.cursor_query if query == "cursor" else module.orm_query
    title = "cursor query" if query == "cursor" else "ORM query"
    return [
        Group(
            f"Instructions per query, {title}, {database}",
            module.group("", operation).configs,
        )
    ]


def child(module_name: str, kind: str, group_index: int, config_index: int, number: int) -> None:
    """Runs inside callgrind: one configuration, ``number`` operations, nothing else."""
    import gc

    config: Config = groups_of(module_name, kind)[group_index].configs[config_index]
    with config.setup():
        for _ in range(50):  # connections, caches and lazy imports, as in a serving process
            config.operation()
        gc.collect()
        gc.disable()
        for _ in range(number):
            config.operation()


def count(module_name: str, kind: str, group_index: int, config_index: int, number: int) -> int:
    """Instructions the main thread ran: the one serving the requests and making the queries.

    A background thread works on a timer, not per request (ours keeps the state read from
    Redis): under valgrind's slowdown its timer would fall on fifty times fewer requests
    than in real time, so its work is left out here. The clock figures hold it.
    """
    out = Path(tempfile.mkdtemp(prefix="dbtools-callgrind-"))
    command = [
        "valgrind",
        "--tool=callgrind",
        "--separate-threads=yes",
        f"--callgrind-out-file={out / 'count'}",
        sys.executable,
        __file__,
        "--child",
        module_name,
        kind,
        str(group_index),
        str(config_index),
        str(number),
    ]
    if shutil.which("setarch"):
        command = ["setarch", os.uname().machine, "-R", *command]
    try:
        subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
        # One file per thread: -01 is the main thread's.
        return int(TOTALS.findall((out / "count-01").read_text())[-1])
    finally:
        shutil.rmtree(out)


def per_operation(task: tuple[str, str, int, int, int]) -> float:
    """Instructions per operation, from counts after N, 3N and 5N operations.

    The two estimates (N to 3N, 3N to 5N) must agree: now and then one process does some
    one-off work that another does not, and a count that carries it is counted again.
    """
    module_name, kind, group_index, config_index, number = task
    estimates: list[float] = []
    for _ in range(3):
        counts = [
            count(module_name, kind, group_index, config_index, times * number)
            for times in (1, 3, 5)
        ]
        estimates = [(b - a) / (2 * number) for a, b in zip(counts, counts[1:], strict=False)]
        if abs(estimates[0] - estimates[1]) <= AGREEMENT * estimates[0]:
            break
    else:
        print(f"warning: counts for {task} never agreed: {estimates}", file=sys.stderr)
    return sum(estimates) / len(estimates)


def main() -> None:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts.")
        emit([])
        return
    groups: list[Group] = []
    tasks: list[tuple[str, str, int, int, int]] = []
    for module_name, kind, number in SOURCES:
        # Only the names and the layout of the groups are needed here; each count runs in
        # its own process.
        listing = subprocess.run(
            [sys.executable, __file__, "--list", module_name, kind],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.splitlines()
        for group_index, line in enumerate(listing):
            title, *names = line.split("\t")
            configs = [Config(name, print, baseline=i == 0) for i, name in enumerate(names)]
            groups.append(Group(title, configs, unit="instructions per operation"))
            tasks += [
                (module_name, kind, group_index, index, number) for index in range(len(names))
            ]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = iter(pool.map(per_operation, tasks))
        for group in groups:
            group.samples = {config.name: [next(results)] for config in group.configs}
    emit(groups)


if __name__ == "__main__":
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        name, kind, group_index, config_index, number = sys.argv[at + 1 : at + 6]
        sys.argv = [sys.argv[0]]  # the benchmark modules read their own options
        child(name, kind, int(group_index), int(config_index), int(number))
    elif "--list" in sys.argv:
        at = sys.argv.index("--list")
        name, kind = sys.argv[at + 1 : at + 3]
        sys.argv = [sys.argv[0]]
        for group in groups_of(name, kind):
            assert group.configs[0].baseline, "the baseline comes first"
            print("\t".join([group.title, *(c.name for c in group.configs)]))
    else:
        main()
