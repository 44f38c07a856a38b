"""What a blocked write raises, and how the database's own refusals are recognised."""

from __future__ import annotations

from django.db import DatabaseError

# PostgreSQL: read_only_sql_transaction. MySQL/MariaDB: 1792 (statement in a READ ONLY
# transaction), 1290 (server running with --read-only). SQLite: query_only or a file
# opened read-only.
POSTGRES_READ_ONLY_SQLSTATE = "25006"
MYSQL_READ_ONLY_ERRNOS = frozenset({1792, 1290})
SQLITE_READ_ONLY_TEXTS = ("attempt to write a readonly database",)


class ReadOnlyError(DatabaseError):
    """A write was blocked because the site is in a read-only mode.

    The message names the database alias and the start of the statement, never its
    parameters, so it is safe to log.
    """

    def __init__(self, alias: str, sql: str) -> None:
        self.alias = alias
        self.statement = statement_start(sql)
        super().__init__(
            f"Write blocked on database {alias!r}: the site is read-only. "
            f"Statement: {self.statement}"
        )


def statement_start(sql: object, limit: int = 80) -> str:
    text = " ".join(str(sql).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_read_only_refusal(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database refused a write as read-only."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ReadOnlyError) or _is_native_refusal(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_native_refusal(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if sqlstate == POSTGRES_READ_ONLY_SQLSTATE:
        return True
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int) and args[0] in MYSQL_READ_ONLY_ERRNOS:
        return True
    text = str(error).lower()
    return any(marker in text for marker in SQLITE_READ_ONLY_TEXTS)
