"""Timing shared by the benchmarks: configurations measured in the same run, interleaved.

(And ``machine()``, the description of the machine each benchmark's page starts with.)

Each configuration is timed for ``number`` operations, in ``rounds`` rounds; within a round
every configuration takes its turn (starting with a different one each round), so a slow
moment of a shared machine hurts the configurations of that round alike. Each round gives a
ratio to the group's baseline measured in that same round; the median of those ratios is the
figure, with the middle half of them (first to third quartile) as its spread.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

Setup = Callable[[], AbstractContextManager[Any]]
T = TypeVar("T")


@dataclass
class Config:
    name: str
    operation: Callable[[], object]
    setup: Setup = nullcontext
    baseline: bool = False


@dataclass
class Group:
    title: str
    configs: list[Config]
    unit: str = "us per operation"
    samples: dict[str, list[float]] = field(default_factory=dict)

    def value(self, name: str) -> float:
        """The median time per operation."""
        return statistics.median(self.samples[name])

    def ratios(self, name: str) -> tuple[float, float, float]:
        """Median ratio to the baseline, round by round, and its first and third quartiles."""
        base = self.samples[baseline_of(self)]
        ratios = [value / base[i] for i, value in enumerate(self.samples[name])]
        if len(ratios) < 2:
            return ratios[0], ratios[0], ratios[0]
        low, middle, high = statistics.quantiles(ratios, n=4)
        return middle, low, high


def timed(config: Config, number: int) -> float:
    with config.setup():
        for _ in range(min(200, number)):  # warm caches, connections and lazy imports
            config.operation()
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for _ in range(number):
                config.operation()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
    return elapsed / number * 1e6


def in_turn(items: list[T], round_number: int) -> list[T]:
    """Every item, starting from a different one each round."""
    first = round_number % len(items)
    return items[first:] + items[:first]


def measure(group: Group, number: int, rounds: int) -> Group:
    group.samples = {config.name: [] for config in group.configs}
    for round_number in range(rounds):
        for config in in_turn(group.configs, round_number):
            group.samples[config.name].append(timed(config, number))
    return group


def baseline_of(group: Group) -> str:
    return next(c.name for c in group.configs if c.baseline)


def print_group(group: Group) -> None:
    print(f"\n{group.title} ({group.unit}; median ratio to {baseline_of(group)}, middle half)")
    for config in group.configs:
        ratio, low, high = group.ratios(config.name)
        print(
            f"  {config.name:<44} {group.value(config.name):10.3f}   x{ratio:6.3f}"
            f"  ({low:.3f}-{high:.3f})"
        )


def rows(groups: list[Group]) -> Iterator[dict[str, Any]]:
    for group in groups:
        for config in group.configs:
            ratio, low, high = group.ratios(config.name)
            yield {
                "group": group.title,
                "config": config.name,
                "value": group.value(config.name),
                "unit": group.unit,
                "ratio": ratio,
                "low": low,
                "high": high,
                "baseline": baseline_of(group),
                # Round by round, so that two rows can be compared round by round too.
                "samples": group.samples[config.name],
            }


def emit(groups: list[Group], notes: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
    """Print the table; with --json PATH also write the rows for the report.

    ``notes`` adds fields to the row of (group title, configuration name).
    """
    for group in groups:
        print_group(group)
    if "--json" in sys.argv:
        path = sys.argv[sys.argv.index("--json") + 1]
        found = [
            {**row, **(notes or {}).get((row["group"], row["config"]), {})} for row in rows(groups)
        ]
        with open(path, "w") as out:
            json.dump(found, out, indent=1)


def option(name: str, default: int) -> int:
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


def machine() -> str:
    """The machine, as each benchmark's page describes it."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kilobytes = int(meminfo.read_text().split()[1])
        memory = f", {kilobytes / 2**20:.0f} GiB of memory"
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}"
