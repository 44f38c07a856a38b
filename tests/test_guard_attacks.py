"""Attacks on the guard: one string read two ways, the read-only setting turned off by another
spelling, driver methods around the check, transactions already open, writes_allowed() shared
by threads and tasks, and copies of a connection.

Each write is refused (ReadOnlyError, or the database's own read-only error), nothing lands, as
seen through a connection dbtools never touches, and the session is still read-only afterwards.
"""

from __future__ import annotations

import asyncio
import copy
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, connections, transaction

from dbtools import ReadOnlyError, writes_allowed
from dbtools.errors import is_read_only_refusal
from dbtools.guard import GuardedCursor
from dbtools.permission import allowed
from tests.database import outside_connection, postgresql_driver, run_outside, snapshot
from tests.settings import BACKEND

pytestmark = pytest.mark.usefixtures("scratch", "writing_routines")

S = "dbtools_scratch"
INSERT = f"INSERT INTO {S} (v) VALUES ('attack')"
RAW_INSERT = f"INSERT INTO {S} (v) VALUES ('raw')"
COUNT = f"SELECT COUNT(*) FROM {S}"

postgresql_only = pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL only")
DRIVER = postgresql_driver().__name__ if BACKEND == "postgresql" else None
psycopg_only = pytest.mark.skipif(DRIVER != "psycopg", reason="psycopg 3's cursor methods")
psycopg2_only = pytest.mark.skipif(DRIVER != "psycopg2", reason="psycopg2's cursor methods")
mariadb_only = pytest.mark.skipif(BACKEND != "mariadb", reason="MariaDB only")
sqlite_only = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite only")

# Django 6.1 renamed transaction.savepoint() (deprecated) to savepoint_create().
create_savepoint = getattr(transaction, "savepoint_create", transaction.savepoint)


# -- helpers --------------------------------------------------------------------------------


@contextmanager
def refused() -> Iterator[None]:
    """The block must fail with ReadOnlyError or the database's own read-only error."""
    with pytest.raises(Exception) as caught:  # noqa: B017 - either kind, checked below
        yield
    assert is_read_only_refusal(caught.value), repr(caught.value)


def execute(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def stored() -> list[str]:
    return [row[0] for row in run_outside(f"SELECT v FROM {S} ORDER BY id")]


WRITING_ROUTINES: dict[str, tuple[list[str], list[str]]] = {
    "postgresql": (
        [
            "CREATE FUNCTION dbtools_attack_fn() RETURNS integer AS $$ INSERT INTO "
            f"{S} (v) VALUES ('function') RETURNING 1 $$ LANGUAGE sql",
            f"CREATE PROCEDURE dbtools_attack_proc() LANGUAGE sql AS $$ INSERT INTO {S} (v) "
            "VALUES ('procedure') $$",
        ],
        [
            "DROP FUNCTION IF EXISTS dbtools_attack_fn()",
            "DROP PROCEDURE IF EXISTS dbtools_attack_proc()",
        ],
    ),
    "mariadb": (
        [
            "CREATE FUNCTION dbtools_attack_fn() RETURNS INT MODIFIES SQL DATA "
            f"BEGIN INSERT INTO {S} (v) VALUES ('function'); RETURN 1; END",
            f"CREATE PROCEDURE dbtools_attack_proc() INSERT INTO {S} (v) VALUES ('procedure')",
        ],
        [
            "DROP FUNCTION IF EXISTS dbtools_attack_fn",
            "DROP PROCEDURE IF EXISTS dbtools_attack_proc",
        ],
    ),
    "sqlite": ([], []),
}


@pytest.fixture
def writing_routines(scratch: None) -> Iterator[None]:
    """A function and a procedure that INSERT, made before the mode goes on, dropped after."""
    create, drop = WRITING_ROUTINES[BACKEND]
    with writes_allowed():
        for statement in drop + create:
            execute(statement)
    yield
    with writes_allowed():
        for statement in drop:
            execute(statement)


def assert_writes_still_stopped() -> None:
    """The raw driver connection, a function that writes and a procedure are all stopped.

    The raw connection is tried first, straight after whatever the test ran, before any
    other statement could give the guard a chance to put the session right again.
    """
    raw = connection.connection
    with refused():
        raw.cursor().execute(RAW_INSERT)
    if BACKEND == "postgresql":
        with refused():
            execute("SELECT dbtools_attack_fn()")
        with refused():
            execute("CALL dbtools_attack_proc()")
    if BACKEND == "mariadb":
        with refused():
            execute("SELECT dbtools_attack_fn()")
        with refused(), connection.cursor() as cursor:
            cursor.callproc("dbtools_attack_proc")
    with refused():
        execute(INSERT)


Attack = tuple[str, Callable[[], Any]]


def with_and_without_params(statements: list[str]) -> list[Attack]:
    """Each statement sent through Django's cursor with no parameters, and with ``[]``."""
    return [
        (
            f"{statement!r} ({'params []' if params is not None else 'no params'})",
            lambda statement=statement, params=params: execute(statement, params),
        )
        for statement in statements
        for params in (None, [])
    ]


@contextmanager
def mode_on_and_nothing_lands(settings: Any) -> Iterator[None]:
    """GET-only mode on for the block; afterwards, with it off, nothing has changed."""
    before = snapshot()
    settings.GET_ONLY_MODE = True
    yield
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


def assert_each_refused(attacks: list[Attack]) -> None:
    """Run each attack, the mode on, one after the other on this thread's connection.

    Each must be refused, land nothing (the table, read from outside after each) and leave
    writes stopped. Every failure is reported, each with its statement and what happened.
    """
    problems: list[str] = []
    with outside_connection() as outside:
        watch = outside.cursor()

        def rows() -> list[tuple[Any, ...]]:
            watch.execute(f"SELECT id, v FROM {S} ORDER BY id")
            return [tuple(row) for row in watch.fetchall()]

        for label, attack in attacks:
            before = rows()
            try:
                attack()
            except Exception as error:
                if not is_read_only_refusal(error):
                    problems.append(f"{label}: failed, but not as a refusal: {error!r}")
            else:
                problems.append(f"{label}: was run, not refused")
            try:
                assert_writes_still_stopped()
            except (AssertionError, pytest.fail.Exception) as error:
                problems.append(f"{label}: afterwards a write was not stopped: {error}")
            after = rows()
            if after != before:
                problems.append(f"{label}: rows changed from {before} to {after}")
    assert not problems, "\n".join(problems)


# -- 1. one string, several statements, read two ways ------------------------------------------

# Each one runs an INSERT (or turns the read-only setting off) when read as the server reads
# it, and looks like one harmless SELECT to a lexer that gets one rule wrong.
LEXICAL_ATTACKS = {
    "postgresql": [
        # The semicolon is inside a dollar quote; what follows it is not.
        "SELECT $$;$$; SET default_transaction_read_only = off; COMMIT; "
        f"INSERT INTO {S} (v) VALUES ('dollar')",
        f"SELECT $tag$ $$ ; $tag$; INSERT INTO {S} (v) VALUES ('tagged')",
        f"SELECT $a$;$a$; SET default_transaction_read_only = off; "
        f"INSERT INTO {S} (v) VALUES ('a')",
        # "--" and "/*" inside a dollar quote start no comment.
        f"SELECT $$--$$; INSERT INTO {S} (v) VALUES ('dash in dollar')",
        f"SELECT $$/*$$; INSERT INTO {S} (v) VALUES ('comment in dollar'); SELECT $$*/$$",
        # x$$ and y$$ are names ($ is a name character): no dollar quote between them.
        f"SELECT 1 AS x$$ FROM {S}; INSERT INTO {S} (v) VALUES ('dollar name'); SELECT 2 AS y$$",
        f"SELECT 1 AS x$$; INSERT INTO {S} (v) VALUES ('dollar name'); SELECT 2 AS y$$",
        # E'\'' is one quote; a reader without escapes sees a string swallowing the INSERT.
        f"SELECT E'\\''; INSERT INTO {S} (v) VALUES (chr(101)); SELECT 1 --'",
        f"SELECT e'\\''; INSERT INTO {S} (v) VALUES (chr(101)); SELECT 1 --'",
        # name'\' is a typed literal of the type "name" (which ends in e), holding a backslash:
        # no E'' string, so the quote after the backslash ends it.
        f"SELECT name'\\'; INSERT INTO {S} (v) VALUES (chr(110)); SELECT 1 --'",
        # PostgreSQL's comments nest: a reader that stops at the first */ sees a string.
        f"SELECT 1 /* /* */ '; */ ; INSERT INTO {S} (v) VALUES (chr(99)); SELECT 1 -- '",
        f"SELECT 1 /* /* */ */; INSERT INTO {S} (v) VALUES ('nested')",
    ],
    "mariadb": [
        # "--" not followed by a space is minus minus: no comment, the INSERT runs.
        f"SELECT 1--1; INSERT INTO {S} (v) VALUES ('dash')",
        f"SELECT 1--1; SET SESSION tx_read_only = 0; INSERT INTO {S} (v) VALUES ('dash')",
        # A backslash in a backtick name escapes nothing: the name ends at the next backtick.
        f"SELECT 1 AS `x\\`; INSERT INTO {S} (v) VALUES ('tick'); SELECT 1 # `",
        f"SELECT `v\\` FROM (SELECT 1 AS `v\\`) t; INSERT INTO {S} (v) VALUES ('tick2'); "
        "SELECT 1 # `",
        # Doubled backticks are one backtick, still inside the name.
        f"SELECT 1 AS `a``b`; INSERT INTO {S} (v) VALUES ('doubled')",
        # Comments do not nest: the first */ ends it.
        f"SELECT 1 /* /* */; INSERT INTO {S} (v) VALUES ('not nested') /* */",
    ],
}

LEXICAL_READS = {
    "postgresql": [
        ("SELECT $$;$$", [(";",)]),
        ("SELECT $tag$ $$ ; $tag$", [(" $$ ; ",)]),
        ("SELECT 1 AS x$$", [(1,)]),
        (f"SELECT 1 AS x$$ FROM {S} WHERE id = 1", [(1,)]),
        ("SELECT E'\\''", [("'",)]),
        ("SELECT name'\\'", [("\\",)]),
        (f"SELECT 1 /* /* */ DELETE FROM {S} */", [(1,)]),
        ("SELECT $$--$$", [("--",)]),
    ],
    "mariadb": [
        ("SELECT 1--1", [(2,)]),
        ("SELECT 1 AS `x\\`", [(1,)]),
        (f"SELECT 1 # ;DELETE FROM {S}", [(1,)]),
    ],
}


@pytest.mark.skipif(BACKEND == "sqlite", reason="Django's SQLite cursor runs one statement")
def test_strings_the_server_splits_differently_are_refused(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(with_and_without_params(LEXICAL_ATTACKS[BACKEND]))


@pytest.mark.skipif(BACKEND == "sqlite", reason="no lexical read cases for SQLite here")
def test_reads_with_tricky_lexing_are_served(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    problems = []
    for sql, rows in LEXICAL_READS[BACKEND]:
        for params in (None, []):
            try:
                got = execute(sql, params)
            except Exception as error:
                problems.append(f"{sql!r} (params {params}): refused or failed: {error!r}")
            else:
                if got != rows:
                    problems.append(f"{sql!r} (params {params}): {got} instead of {rows}")
    assert not problems, "\n".join(problems)


# -- sql_mode and standard_conforming_strings: the rules the check reads by -----------------

MARIADB_READING_CHANGES = [
    "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'",
    "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
    "SET @@sql_mode := 'NO_BACKSLASH_ESCAPES'",
    "SET @@SESSION.sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')",
    "SET SESSION `sql_mode` = 'ANSI_QUOTES'",
    "set session SQL_MODE='no_backslash_escapes'",
    "SET NAMES gbk",
]
# Under NO_BACKSLASH_ESCAPES (or ANSI_QUOTES) the first string ends at the backslash and the
# INSERT runs.
MARIADB_DEPENDS_ON_MODE = [
    f"SELECT '\\'; INSERT INTO {S} (v) VALUES (0x78); SELECT 1 # '",
    f'SELECT "\\"; INSERT INTO {S} (v) VALUES (0x78); SELECT 1 # "',
]


@mariadb_only
def test_mariadb_sql_mode_cannot_change_while_on(settings) -> None:  # type: ignore[no-untyped-def]
    def session() -> list[tuple[Any, ...]]:
        return execute("SELECT @@SESSION.sql_mode, @@character_set_client")

    as_it_was = session()
    with mode_on_and_nothing_lands(settings):
        attacks = with_and_without_params(MARIADB_READING_CHANGES)
        attacks += with_and_without_params(MARIADB_DEPENDS_ON_MODE)
        # Both at once, in one string.
        attacks += with_and_without_params(
            [f"{setting}; {MARIADB_DEPENDS_ON_MODE[0]}" for setting in MARIADB_READING_CHANGES]
        )
        assert_each_refused(attacks)
        assert session() == as_it_was


POSTGRESQL_READING_CHANGES = [
    "SET standard_conforming_strings = off",
    "SET SESSION standard_conforming_strings TO 'off'",
    'SET "standard_conforming_strings" = false',
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    "SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false)",
]


@postgresql_only
def test_postgresql_standard_conforming_strings_cannot_go_off_while_on(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        # With it off, '\'' would be one quote and the INSERT would run.
        assert_each_refused(
            with_and_without_params(
                POSTGRESQL_READING_CHANGES
                + [
                    f"{setting}; SELECT '\\''; INSERT INTO {S} (v) VALUES (chr(98)); SELECT 1 --'"
                    for setting in POSTGRESQL_READING_CHANGES
                ]
            )
        )
        assert execute("SHOW standard_conforming_strings") == [("on",)]


# -- 2. the read-only setting turned off by another spelling -------------------------------

# Each of these, on a plain session, lets it write again.
SPELLINGS_OFF = {
    "postgresql": [
        'SET "default_transaction_read_only" = off',
        "SET default_transaction_read_only TO DEFAULT",
        "SET default_transaction_read_only = DEFAULT",
        "SET SESSION default_transaction_read_only = false",
        "SET default_transaction_read_only = 0",
        "RESET default_transaction_read_only",
        'RESET "default_transaction_read_only"',
        "RESET ALL",
        "DISCARD ALL",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE",
        "SELECT \"set_config\"('default_transaction_read_only','off',false)",
        "SELECT pg_catalog.set_config('default_transaction_read_only','off',false)",
        "SELECT pg_catalog.\"set_config\"('default_transaction_read_only', 'off', false)",
        "SELECT SET_CONFIG('DEFAULT_TRANSACTION_READ_ONLY', 'off', false)",
        "SELECT * FROM set_config('default_transaction_read_only', 'off', false)",
        "VALUES (set_config('default_transaction_read_only', 'off', false))",
        "SELECT 1 WHERE set_config('default_transaction_read_only', 'off', false) = 'off'",
        "SeT/**/default_transaction_read_only=off",
        "sEt/* x */\"default_transaction_read_only\"TO'off'",
        "RESET/**/ALL",
        "-- comment\nSET default_transaction_read_only = off",
    ],
    "mariadb": [
        "SET SESSION `tx_read_only` = 0",
        "SET @@session.transaction_read_only=0",  # MariaDB 11.1 and later
        "SET SESSION TRANSACTION READ WRITE",
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE",
        "SET @@tx_read_only = OFF",  # the next transaction only: in autocommit, the next write
        "set session TX_READ_ONLY=false",
        "SET @@session.tx_read_only = DEFAULT",
        "SET @@session.`tx_read_only` = 0",
        "SET @dbtools_x = 1, @@session.tx_read_only = 0",
        "SET/**/SESSION/**/tx_read_only=0",
        "/*!SET SESSION tx_read_only=0*/",
        "SET /*!50000 SESSION tx_read_only */ = 0",
    ],
    "sqlite": [
        "PRAGMA query_only = 0",
        'PRAGMA "query_only"=0',
        "PRAGMA main.query_only(0)",
        "pragma QUERY_ONLY = false",
        "PRAGMA 'query_only' = no",
        "PRAGMA [query_only] = 0",
        "PRAGMA `query_only` = off",
        'PRAGMA main."query_only" = off',
        'PRAGMA "main".[query_only](0)',
        "PRAGMA/**/query_only=0",
        "PRAGMA query_only = 0 -- and a comment",
    ],
}
# Writes wrapped in a setting that lasts one statement.
MARIADB_WRAPPED_WRITES = [
    f"SET STATEMENT max_statement_time=1 FOR INSERT INTO {S} (v) VALUES ('statement')",
    f"SET STATEMENT tx_read_only=0 FOR INSERT INTO {S} (v) VALUES ('statement')",
    f"set statement sql_mode='' for update {S} set v = 'statement'",
]

READ_ONLY_ON = {
    "postgresql": "SET default_transaction_read_only = on",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
    "sqlite": "PRAGMA query_only = 1",
}


def plain_session_writable_after(spellings: list[str]) -> dict[str, bool | None]:
    """For each spelling, whether a read-only session can write after it, on a connection
    dbtools never sees (the write is rolled back); None where this server does not know it."""
    found: dict[str, bool | None] = {}
    with outside_connection() as raw:
        cursor = raw.cursor()
        for spelling in spellings:
            cursor.execute(READ_ONLY_ON[BACKEND])
            try:
                cursor.execute(spelling)
            except Exception as error:
                if BACKEND == "mariadb" and getattr(error, "args", (0,))[0] == 1193:
                    found[spelling] = None  # unknown system variable: a later server's
                    continue
                raise
            if cursor.description:
                cursor.fetchall()
            cursor.execute("BEGIN")
            try:
                cursor.execute(f"INSERT INTO {S} (v) VALUES ('sanity')")
                found[spelling] = True
            except Exception as error:
                if not is_read_only_refusal(error):
                    raise
                found[spelling] = False
            finally:
                cursor.execute("ROLLBACK")
    return found


def test_the_read_only_setting_cannot_be_turned_off_by_another_spelling(settings) -> None:  # type: ignore[no-untyped-def]
    spellings = SPELLINGS_OFF[BACKEND]
    sanity = plain_session_writable_after(spellings)
    assert not [s for s, writable in sanity.items() if writable is False], "not real attacks"
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(with_and_without_params(spellings))


@mariadb_only
def test_mariadb_set_statement_for_a_write_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(with_and_without_params(MARIADB_WRAPPED_WRITES))


# -- 3. driver methods around the check ----------------------------------------------------

SQLITE_SCRIPTS = [
    f"PRAGMA query_only = 0; INSERT INTO {S} (v) VALUES ('script');",
    f"SELECT 1; INSERT INTO {S} (v) VALUES ('script');",
    # [x'] and "x\" are names: what a wrong reader takes for one string holds the writes.
    f"SELECT 1 AS [x'];PRAGMA query_only = 0; INSERT INTO {S} (v) VALUES ('bracket'); "
    "SELECT 1 AS [']",
    f'SELECT 1 AS "x\\"; PRAGMA query_only = 0; INSERT INTO {S} (v) VALUES (1); SELECT 1 -- "',
    f"SELECT 1 /* /* */ ; PRAGMA query_only = 0; INSERT INTO {S} (v) VALUES (2); -- */",
    f"select 1 --x;\n;PRAGMA query_only=0;INSERT INTO {S} (v) VALUES (3)",
]


def through_django_cursor(method: str, *args: Any) -> Callable[[], Any]:
    """Call ``method`` on Django's cursor wrapper (never on the driver's cursor under it)."""

    def call() -> Any:
        with connection.cursor() as cursor:
            result = getattr(cursor, method)(*args)
            return list(result) if method == "stream" else result

    return call


@sqlite_only
def test_sqlite_executescript_through_django_cursor_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(
            [
                (repr(script), through_django_cursor("executescript", script))
                for script in SQLITE_SCRIPTS
            ]
        )


@sqlite_only
def test_sqlite_executescript_that_only_reads_is_served(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    with connection.cursor() as cursor:
        cursor.executescript(f"SELECT 1; SELECT COUNT(*) FROM {S};")
    assert_writes_still_stopped()


def copy_in(sql: str, row: list[Any]) -> Callable[[], None]:
    def call() -> None:
        with connection.cursor() as cursor, cursor.copy(sql) as copying:
            copying.write_row(row)

    return call


@psycopg_only
def test_psycopg_copy_from_stdin_is_refused_and_copy_to_stdout_served(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(
            [
                ("COPY (v) FROM STDIN", copy_in(f"COPY {S} (v) FROM STDIN", ["copied"])),
                ("COPY FROM STDIN", copy_in(f"COPY {S} FROM STDIN", [99, "copied"])),
                ("copy from stdin", copy_in(f"copy {S} (v) from stdin", ["copied"])),
            ]
        )
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY (SELECT id, v FROM {S} ORDER BY id) TO STDOUT") as copying:
                assert list(copying.rows()) == [("1", "one"), ("2", "two")]
            with cursor.copy(f"COPY {S} TO STDOUT") as copying:
                assert len(list(copying.rows())) == 2


PSYCOPG_STREAMED_WRITES = [
    f"INSERT INTO {S} (v) VALUES ('streamed') RETURNING id",
    f"WITH i AS (INSERT INTO {S} (v) VALUES ('streamed') RETURNING id) SELECT id FROM i",
    f"UPDATE {S} SET v = 'streamed' RETURNING id",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT dbtools_attack_fn()",
]


@psycopg2_only
def test_psycopg2_copy_methods_that_write_are_refused(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(
            [
                (
                    "copy_expert FROM STDIN",
                    lambda: through_django_cursor(
                        "copy_expert", f"COPY {S} (v) FROM STDIN", io.StringIO("copied\n")
                    )(),
                ),
                (
                    "copy_from",
                    lambda: through_django_cursor("copy_from", io.StringIO("copied\n"), S)(),
                ),
            ]
        )
        out = io.StringIO()
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY (SELECT v FROM {S} ORDER BY id) TO STDOUT", out)
        assert out.getvalue() == "one\ntwo\n"


@psycopg_only
def test_psycopg_stream_of_a_write_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(
            [(sql, through_django_cursor("stream", sql)) for sql in PSYCOPG_STREAMED_WRITES]
        )
        with connection.cursor() as cursor:
            assert list(cursor.stream(f"SELECT v FROM {S} ORDER BY id")) == [("one",), ("two",)]


@mariadb_only
def test_mariadb_callproc_of_a_writing_procedure_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    with mode_on_and_nothing_lands(settings):
        assert_each_refused(
            [
                ("callproc()", through_django_cursor("callproc", "dbtools_attack_proc")),
                ("callproc([])", through_django_cursor("callproc", "dbtools_attack_proc", [])),
                ("CALL", lambda: execute("CALL dbtools_attack_proc()")),
            ]
        )


# -- 4. transactions already open when the mode goes on -----------------------------------


def mariadb_in_transaction_attacks(cursors: Callable[[], list[Any]]) -> None:
    for cursor in cursors():
        with refused():
            cursor.execute("SELECT dbtools_attack_fn()")
        with refused():
            cursor.callproc("dbtools_attack_proc")
        with refused():
            cursor.execute(
                f"SET STATEMENT max_statement_time=1 FOR INSERT INTO {S} (v) VALUES ('s')"
            )
        with refused():
            cursor.execute(INSERT)
        cursor.execute(COUNT)
        assert cursor.fetchone()[0] == 2


@mariadb_only
def test_mariadb_atomic_open_when_the_mode_goes_on(settings) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with transaction.atomic(), connection.cursor() as held:
        held.execute(COUNT)
        assert held.fetchone()[0] == 2
        settings.GET_ONLY_MODE = True
        fresh = connection.cursor()
        mariadb_in_transaction_attacks(lambda: [held, fresh])
        fresh.close()
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@mariadb_only
def test_mariadb_raw_begin_open_when_the_mode_goes_on(settings) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with connection.cursor() as held:
        held.execute("BEGIN")
        held.execute(COUNT)
        assert held.fetchone()[0] == 2
        settings.GET_ONLY_MODE = True
        mariadb_in_transaction_attacks(lambda: [held])
        held.execute("COMMIT")
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@contextmanager
def rolled_back_if_left_open() -> Iterator[None]:
    """So that a failing test leaves no aborted transaction behind for the next ones."""
    try:
        yield
    finally:
        raw = connection.connection
        if raw is not None and raw.info.transaction_status != 0:
            raw.execute("ROLLBACK")


def test_a_transaction_rolled_back_by_a_refusal_leaves_the_session_read_only(settings) -> None:  # type: ignore[no-untyped-def]
    """A transaction open when the mode goes on, ended by the refused write (atomic() rolls it
    back): what the guard set inside it must not go with it."""
    before = snapshot()
    with pytest.raises(ReadOnlyError), transaction.atomic():
        execute(COUNT)
        settings.GET_ONLY_MODE = True
        execute(INSERT)
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@postgresql_only
def test_postgresql_atomic_open_when_the_mode_goes_on(settings) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with transaction.atomic():
        cursor = connection.cursor()
        cursor.execute(COUNT)
        assert cursor.fetchone()[0] == 2
        settings.GET_ONLY_MODE = True
        with pytest.raises(ReadOnlyError), transaction.atomic():
            cursor.execute(INSERT)
        # The same cursor, after the savepoint was rolled back.
        with refused(), transaction.atomic():
            cursor.execute("SELECT dbtools_attack_fn()")
        cursor.execute(COUNT)
        assert cursor.fetchone()[0] == 2
        with refused(), transaction.atomic():
            connection.connection.cursor().execute(RAW_INSERT)
        cursor.execute(COUNT)
        assert cursor.fetchone()[0] == 2
        cursor.close()
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@postgresql_only
def test_postgresql_savepoint_taken_before_the_switch_and_rolled_back_after(settings) -> None:  # type: ignore[no-untyped-def]
    """A rollback to a savepoint taken while writable undoes what made the transaction read-only
    after it: the transaction must be made read-only again before anything can write."""
    before = snapshot()
    with transaction.atomic():
        cursor = connection.cursor()
        cursor.execute(COUNT)
        savepoint = create_savepoint()
        settings.GET_ONLY_MODE = True
        cursor.execute(COUNT)  # the guard makes the transaction read-only here
        transaction.savepoint_rollback(savepoint)
        with refused(), transaction.atomic():
            cursor.execute("SELECT dbtools_attack_fn()")
        savepoint = create_savepoint()
        with refused():
            cursor.execute("SELECT dbtools_attack_fn()")
        transaction.savepoint_rollback(savepoint)
        # Straight after a rollback to a savepoint, the raw driver connection.
        with refused(), transaction.atomic():
            connection.connection.cursor().execute(RAW_INSERT)
        cursor.close()
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@postgresql_only
def test_postgresql_raw_write_right_after_rolling_back_to_an_earlier_savepoint(settings) -> None:  # type: ignore[no-untyped-def]
    """Nothing runs through Django between the rollback to the savepoint and the raw write."""
    before = snapshot()
    with transaction.atomic():
        execute(COUNT)
        savepoint = create_savepoint()
        settings.GET_ONLY_MODE = True
        execute(COUNT)  # the transaction is made read-only here, after the savepoint
        transaction.savepoint_rollback(savepoint)
        with refused():
            connection.connection.cursor().execute(RAW_INSERT)
        transaction.set_rollback(True)
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@postgresql_only
def test_postgresql_nested_atomic_from_before_the_switch_survives_a_refusal(settings) -> None:  # type: ignore[no-untyped-def]
    """The database refuses a write in a savepoint taken while writable: Django rolls back to
    the savepoint, and the outer transaction goes on serving reads."""
    before = snapshot()
    with rolled_back_if_left_open(), transaction.atomic():
        execute(COUNT)
        with refused(), transaction.atomic():
            execute(COUNT)
            settings.GET_ONLY_MODE = True
            execute("SELECT dbtools_attack_fn()")
        assert execute(COUNT) == [(2,)]
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@postgresql_only
def test_postgresql_raw_begin_open_when_the_mode_goes_on(settings) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with connection.cursor() as cursor, rolled_back_if_left_open():
        cursor.execute("BEGIN")
        cursor.execute(COUNT)
        cursor.execute("SAVEPOINT before_switch")
        settings.GET_ONLY_MODE = True
        with refused():
            cursor.execute(INSERT)
        with refused():
            cursor.execute("SELECT dbtools_attack_fn()")
        cursor.execute("ROLLBACK TO SAVEPOINT before_switch")
        cursor.execute("SAVEPOINT again")
        with refused():
            cursor.execute("SELECT dbtools_attack_fn()")
        cursor.execute("ROLLBACK TO SAVEPOINT again")
        with refused():
            cursor.execute("SET TRANSACTION READ WRITE")
        cursor.execute(COUNT)
        assert cursor.fetchone()[0] == 2
        cursor.execute("COMMIT")
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


@sqlite_only
def test_sqlite_atomic_open_when_the_mode_goes_on(settings) -> None:  # type: ignore[no-untyped-def]
    before = snapshot()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(COUNT)
        settings.GET_ONLY_MODE = True
        with refused():
            cursor.execute(INSERT)
        with refused():
            connection.connection.cursor().execute(RAW_INSERT)
        with refused():
            cursor.execute("PRAGMA query_only = 0")
        cursor.execute(COUNT)
        assert cursor.fetchone()[0] == 2
    assert snapshot() == before
    assert_writes_still_stopped()
    settings.GET_ONLY_MODE = False
    assert snapshot() == before


# -- 6. writes_allowed() shared by threads and tasks ------------------------------------------


def in_threads(count: int, body: Callable[[int], None]) -> None:
    """Run ``body(i)`` in ``count`` threads, each with connections of its own, closed after."""
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            body(index)
        except BaseException as error:  # reported in the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]


def test_one_writes_allowed_shared_by_two_threads_at_once(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    shared = writes_allowed()
    both_in = threading.Barrier(3, timeout=10)  # the two threads and this one
    checked = threading.Barrier(3, timeout=10)
    both_out = threading.Barrier(2, timeout=10)
    after: list[str] = []

    def body(index: int) -> None:
        with shared:
            execute(f"INSERT INTO {S} (v) VALUES ('inside {index}')")
            both_in.wait()
            checked.wait()  # both stay inside while the main thread is refused
        both_out.wait()
        assert not allowed()
        with refused():
            execute(f"INSERT INTO {S} (v) VALUES ('after {index}')")
        after.append(f"refused {index}")

    errors: list[BaseException] = []

    def main_thread_checks() -> None:
        try:
            both_in.wait()
            assert not allowed()
            with refused():
                execute(INSERT)
        except BaseException as error:
            errors.append(error)
        finally:
            checked.wait()

    failures: list[BaseException] = []

    def run_threads() -> None:
        try:
            in_threads(2, body)
        except BaseException as error:
            failures.append(error)

    starter = threading.Thread(target=run_threads)
    starter.start()
    main_thread_checks()
    starter.join(30)
    assert not starter.is_alive()
    if failures:
        raise failures[0]
    if errors:
        raise errors[0]
    assert sorted(after) == ["refused 0", "refused 1"]
    assert sorted(stored()) == ["inside 0", "inside 1", "one", "two"]


def test_a_decorated_function_called_from_many_threads(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    threads, calls = 8, 4
    start = threading.Barrier(threads, timeout=10)

    @writes_allowed()
    def write(text: str) -> None:
        execute(f"INSERT INTO {S} (v) VALUES ('{text}')")

    def body(index: int) -> None:
        start.wait()
        for call in range(calls):
            write(f"t{index}c{call}")
            assert not allowed()
            with refused():
                execute(f"INSERT INTO {S} (v) VALUES ('undecorated {index}')")

    in_threads(threads, body)
    with refused():
        execute(INSERT)
    expected = {f"t{i}c{c}" for i in range(threads) for c in range(calls)} | {"one", "two"}
    values = stored()
    assert len(values) == len(expected) and set(values) == expected


def test_a_task_created_inside_the_block_cannot_write_after_it(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The task runs on this thread, with this thread's connection.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.GET_ONLY_MODE = True
    results: list[str] = []

    async def main() -> None:
        wrote = asyncio.Event()
        ended = asyncio.Event()

        async def task() -> None:
            # A task has connections of its own (Django's are per context): closed after.
            try:
                execute(f"INSERT INTO {S} (v) VALUES ('task inside')")
                wrote.set()
                await ended.wait()
                assert not allowed()
                for attempt in (
                    lambda: execute(f"INSERT INTO {S} (v) VALUES ('task after')"),
                    lambda: connection.connection.cursor().execute(RAW_INSERT),
                ):
                    try:
                        attempt()
                    except Exception as error:
                        results.append("refused" if is_read_only_refusal(error) else repr(error))
                    else:
                        results.append("wrote after the block")
            finally:
                connections.close_all()

        with writes_allowed():
            running = asyncio.create_task(task())
            await wrote.wait()
        ended.set()
        await running

    asyncio.run(main())
    assert results == ["refused", "refused"]
    assert stored() == ["one", "two", "task inside"]


# -- 7. copies of a connection -------------------------------------------------------------


@contextmanager
def registered(alias: str, wrapper: Any) -> Iterator[None]:
    """``wrapper`` reachable as ``connections[alias]``, so that atomic(using=alias) uses it."""
    connections[alias] = wrapper
    try:
        yield
    finally:
        del connections[alias]


@pytest.mark.parametrize(
    "opened", [True, False], ids=["copy of an open connection", "copy of a closed one"]
)
def test_a_copy_of_a_connection_is_guarded(settings, opened: bool) -> None:  # type: ignore[no-untyped-def]
    original = connections["default"]
    if opened:
        original.ensure_connection()  # the copy shares its raw driver connection
    else:
        original.close()
    clone = copy.copy(original)
    before = snapshot()
    settings.GET_ONLY_MODE = True
    try:
        with registered("dbtools_copy", clone):
            with transaction.atomic(using="dbtools_copy"), clone.cursor() as cursor:
                assert cursor.db is clone
                assert isinstance(cursor, GuardedCursor)
                cursor.execute(COUNT)
                assert cursor.fetchone()[0] == 2
                with pytest.raises(ReadOnlyError) as caught:
                    cursor.execute(INSERT)
                assert caught.value.alias == "default"
            with clone.cursor() as cursor:
                assert cursor.db is clone
                with refused():
                    cursor.execute(INSERT)
            with refused():
                clone.connection.cursor().execute(RAW_INSERT)
        settings.GET_ONLY_MODE = False
        assert snapshot() == before
        # The mode is off: the copy and the original write again.
        with clone.cursor() as cursor:
            cursor.execute(f"INSERT INTO {S} (v) VALUES ('copy')")
        execute(f"INSERT INTO {S} (v) VALUES ('original')")
        assert stored() == ["one", "two", "copy", "original"]
    finally:
        if opened:
            original.close()  # whatever the copy left on the shared driver connection
        else:
            clone.close()
