"""Timing shared by the benchmarks: configurations measured in the same run, interleaved.

Each configuration is timed for ``number`` operations, in ``rounds`` rounds that take turns,
so that a slow moment of the machine hurts every configuration alike; the best round of each
is kept (the least disturbed), and printed as a ratio to the baseline of its group.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

Setup = Callable[[], AbstractContextManager[Any]]


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
    results: dict[str, float] = field(default_factory=dict)


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


def measure(group: Group, number: int, rounds: int) -> Group:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for config in group.configs:
            value = timed(config, number)
            best[config.name] = min(best.get(config.name, value), value)
    group.results = best
    return group


def baseline_of(group: Group) -> str:
    return next(c.name for c in group.configs if c.baseline)


def print_group(group: Group) -> None:
    base = group.results[baseline_of(group)]
    print(f"\n{group.title} ({group.unit}; ratio to {baseline_of(group)})")
    for config in group.configs:
        value = group.results[config.name]
        print(f"  {config.name:<44} {value:10.2f}   x{value / base:6.3f}")


def rows(groups: list[Group]) -> Iterator[dict[str, Any]]:
    for group in groups:
        base = group.results[baseline_of(group)]
        for config in group.configs:
            value = group.results[config.name]
            yield {
                "group": group.title,
                "config": config.name,
                "value": value,
                "unit": group.unit,
                "ratio": value / base,
                "baseline": baseline_of(group),
            }


def emit(groups: list[Group]) -> None:
    """Print the table; with --json PATH also write the rows for the report."""
    for group in groups:
        print_group(group)
    if "--json" in sys.argv:
        path = sys.argv[sys.argv.index("--json") + 1]
        with open(path, "w") as out:
            json.dump(list(rows(groups)), out, indent=1)


def option(name: str, default: int) -> int:
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default
