"""The verdicts on a statement, and the placeholder rules the drivers apply before sending it."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

READ: Final = "read"
WRITE: Final = "write"
TAKES_WRITE_LOCK: Final = "takes a write lock"
# PostgreSQL: a read that ends a transaction or rolls back to a savepoint, undoing what
# SET TRANSACTION READ ONLY did after it.
ENDS_TRANSACTION: Final = "ends a transaction"


@dataclass(frozen=True)
class Calls:
    """A read, unless one of ``functions`` (upper case) is a function stored in the database."""

    functions: frozenset[str]


Verdict = str | Calls
# WRITE as a Verdict, for what answers one where a text cannot be read with certainty.
UNREADABLE: Verdict = WRITE


class Unsure(Exception):
    """The text could not be read with certainty: it counts as a write."""


# What a driver given parameters makes of a "%": psycopg and mysqlclient both read "%%" as
# one "%" and "%s" or "%(name)s" as a value; psycopg also takes %b and %t. Anything else
# is an error in the driver, so nothing is sent.
PLACEHOLDER = re.compile(r"%(?:\(([^)]+)\).|.)")


def bind(sql: str, value: str) -> str:
    """``sql`` with its placeholders replaced the way the driver reads them.

    ``value`` is what stands for each value: "$1", "$2"… for a server-side parameter
    (``{n}`` is its number), or a literal for a driver that inlines values.
    """
    if "%" not in sql:
        return sql
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        text = match.group(0)
        if text == "%%":
            return "%"
        if text[-1] in "sbt" and (len(text) == 2 or match.group(1) is not None):
            count += 1
            return value.format(n=count)
        raise Unsure(f"{text!r} is not a placeholder the driver accepts")

    return PLACEHOLDER.sub(replace, sql)


T = TypeVar("T")


def when_unsure(value: T) -> Callable[[Callable[[str, bool], T]], Callable[[str, bool], T]]:
    """Keep the answer on each text; where it cannot be read with certainty, answer ``value``."""

    def decorate(read: Callable[[str, bool], T]) -> Callable[[str, bool], T]:
        cached = functools.lru_cache(maxsize=4096)(read)

        @functools.wraps(read)
        def answer(sql: str, bound: bool) -> T:
            try:
                return cached(sql, bound)
            except Unsure:
                return value

        return answer

    return decorate
