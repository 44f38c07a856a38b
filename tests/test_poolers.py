"""PostgreSQL behind poolers: PgBouncer in transaction mode, and Django's own psycopg pool.

Behind a pooler, one client's session setting lands on whichever server connection was free:
dbtools begins each transaction read-only instead. Its writes are refused, and it must leave no
server connection read-only for the pool's other clients, during the mode or after it.
"""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction
from django.test.utils import override_settings

from dbtools import ReadOnlyError, writes_allowed
from dbtools.errors import is_read_only_refusal
from tests.database import postgresql_driver, run_outside, snapshot
from tests.settings import BACKEND

pytestmark = [
    pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL poolers"),
    pytest.mark.usefixtures("scratch", "writing_function"),
    # The extra alias is added by overriding DATABASES, about which Django warns.
    pytest.mark.filterwarnings("ignore:Overriding setting DATABASES"),
]

PGBOUNCER = "/usr/sbin/pgbouncer"
S = "dbtools_scratch"
COUNT = f"SELECT COUNT(*) FROM {S}"
POOL_SIZE = 3


# -- helpers --------------------------------------------------------------------------------


@contextmanager
def refused() -> Iterator[None]:
    with pytest.raises(Exception) as caught:  # noqa: B017 - either kind, checked below
        yield
    assert is_read_only_refusal(caught.value), repr(caught.value)


def execute(alias: str, sql: str) -> list[tuple[Any, ...]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def stored() -> list[str]:
    return [row[0] for row in run_outside(f"SELECT v FROM {S} ORDER BY id")]


@pytest.fixture
def writing_function(scratch: None) -> Iterator[None]:
    """A SQL function that INSERTs, made before the mode goes on, dropped after."""
    with writes_allowed():
        execute("default", "DROP FUNCTION IF EXISTS dbtools_pool_fn()")
        execute(
            "default",
            "CREATE FUNCTION dbtools_pool_fn() RETURNS integer AS $$ INSERT INTO "
            f"{S} (v) VALUES ('function') RETURNING 1 $$ LANGUAGE sql",
        )
    yield
    with writes_allowed():
        execute("default", "DROP FUNCTION IF EXISTS dbtools_pool_fn()")


@contextmanager
def extra_alias(alias: str, **changes: Any) -> Iterator[None]:
    """A second alias of the test database in DATABASES, with ``changes`` to its settings.

    In DATABASES (and so guarded, as dbtools guards every alias by default), a mirror of
    ``default`` for Django's test machinery, which has nothing to set up or flush for it.
    """
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict.update(changes)
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "MIRROR": "default"}
    databases = connections.settings  # the very dict that settings.DATABASES is
    databases[alias] = settings_dict
    override = override_settings(DATABASES=databases)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Django warns about overriding DATABASES
            override.enable()  # setting_changed: dbtools looks at the aliases again
        try:
            yield
        finally:
            wrapper = connections[alias]
            wrapper.close()
            if wrapper.settings_dict["OPTIONS"].get("pool"):
                wrapper.close_pool()
            del connections[alias]
    finally:
        databases.pop(alias, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            override.disable()


def in_thread(body: Callable[[], Any]) -> Any:
    """``body()`` in a thread of its own (with connections of its own, closed after)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = body()
        except BaseException as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


# -- PgBouncer --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    pytest.fail(f"pgbouncer did not listen on {port}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def pgbouncer(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """PgBouncer on a free loopback port, in transaction pooling, before the test database."""
    if not os.path.exists(PGBOUNCER):
        pytest.skip("pgbouncer is not installed")
    params = connections["default"].settings_dict
    directory = tmp_path_factory.mktemp("pgbouncer")
    port = free_port()
    userlist = directory / "userlist.txt"
    userlist.write_text(f'"{params["USER"]}" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{params['NAME']} = host={params['HOST']} port={params['PORT']} dbname={params['NAME']}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {userlist}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {POOL_SIZE}\n"
        "server_reset_query =\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        "logfile =\n"
        "pidfile =\n"
        "log_connections = 0\n"
        "log_disconnections = 0\n"
    )
    # PgBouncer refuses to run as root: it reads its files first, then becomes nobody.
    command = [PGBOUNCER, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(ini)]
    log = directory / "pgbouncer.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="module")
def pooled_alias(pgbouncer: int) -> Iterator[str]:
    """An alias reaching the test database through PgBouncer."""
    with extra_alias(
        "pooled", HOST="127.0.0.1", PORT=str(pgbouncer), DISABLE_SERVER_SIDE_CURSORS=True
    ):
        yield "pooled"


@pytest.fixture(scope="module")
def django_pool_alias(django_db_setup: None) -> Iterator[str]:
    """An alias whose connections come from Django's own psycopg pool."""
    pytest.importorskip("psycopg_pool")
    with extra_alias("django_pool", OPTIONS={"pool": {"min_size": 1, "max_size": 2}}):
        yield "django_pool"


def plain_client(port: int) -> Any:
    """A driver connection to PgBouncer that dbtools never sees (not in autocommit)."""
    params = connections["default"].settings_dict
    return postgresql_driver().connect(
        host="127.0.0.1", port=port, dbname=params["NAME"], user=params["USER"]
    )


@contextmanager
def server_connections_held(port: int, count: int) -> Iterator[list[Any]]:
    """``count`` plain clients, each inside a transaction: each holds a server connection of
    its own, so the next client of the pool gets another one."""
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            client = stack.enter_context(closing(plain_client(port)))
            client.cursor().execute("SELECT 1")  # begins a transaction: one server connection held
            clients.append(client)
        try:
            yield clients
        finally:
            for client in clients:
                client.rollback()


def assert_plain_clients_write(port: int, text: str) -> None:
    """Every server connection of the pool, taken at once by plain clients, is writable."""
    with server_connections_held(port, POOL_SIZE) as clients:
        for index, client in enumerate(clients):
            cursor = client.cursor()
            cursor.execute("SHOW transaction_read_only")
            flag = cursor.fetchone()[0]
            assert flag == "off", f"server connection {index} was left read-only"
            cursor.execute(f"INSERT INTO {S} (v) VALUES ('{text} {index}')")
            client.commit()


@pytest.mark.django_db(transaction=True, databases=["default", "pooled"])
def test_pgbouncer_transaction_pooling(settings, pgbouncer: int, pooled_alias: str) -> None:  # type: ignore[no-untyped-def]
    alias = pooled_alias
    pooled = connections[alias]
    pooled.ensure_connection()
    # PgBouncer is between: the server's backend is not the one the client was told of.
    assert execute(alias, "SELECT pg_backend_pid()")[0][0] != pooled.connection.info.backend_pid
    before = snapshot()
    settings.GET_ONLY_MODE = True
    # Each server connection of the pool in turn: the others are held by plain clients.
    for held in range(POOL_SIZE):
        with server_connections_held(pgbouncer, held):
            assert execute(alias, COUNT) == [(2,)]
            with pytest.raises(ReadOnlyError):
                execute(alias, f"INSERT INTO {S} (v) VALUES ('pooled on')")
            with refused():
                execute(alias, "SELECT dbtools_pool_fn()")
            with transaction.atomic(using=alias):
                assert execute(alias, COUNT) == [(2,)]
                with refused(), transaction.atomic(using=alias):
                    execute(alias, "SELECT dbtools_pool_fn()")
                with pytest.raises(ReadOnlyError), transaction.atomic(using=alias):
                    execute(alias, f"UPDATE {S} SET v = 'pooled on'")
                assert execute(alias, COUNT) == [(2,)]
    assert snapshot() == before
    # Another client of the same pool is not dbtools: it is not left read-only.
    assert_plain_clients_write(pgbouncer, "plain while on")
    settings.GET_ONLY_MODE = False
    assert_plain_clients_write(pgbouncer, "plain after")
    # 4 of 4 inserts through the pooled alias, each on another server connection in turn.
    written = []
    for index in range(4):
        with server_connections_held(pgbouncer, index % POOL_SIZE):
            execute(alias, f"INSERT INTO {S} (v) VALUES ('pooled {index}')")
            written.append(f"pooled {index}")
    assert stored() == [
        "one",
        "two",
        *(f"plain while on {i}" for i in range(POOL_SIZE)),
        *(f"plain after {i}" for i in range(POOL_SIZE)),
        *written,
    ]


# -- Django's own psycopg pool ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "django_pool"])
def test_django_pool_connection_taken_by_another_thread(settings, django_pool_alias: str) -> None:  # type: ignore[no-untyped-def]
    alias = django_pool_alias

    def backend_pid() -> int:
        return int(execute(alias, "SELECT pg_backend_pid()")[0][0])

    def raw_insert(text: str) -> None:
        """The first thing done with a connection taken from the pool: no cursor of Django's."""
        pooled = connections[alias]
        pooled.ensure_connection()
        pooled.connection.cursor().execute(f"INSERT INTO {S} (v) VALUES ('{text}')")

    before = snapshot()
    settings.GET_ONLY_MODE = True
    # Every connection the pool holds is used while the mode is on (it hands them out in
    # turn), and given back to it with its session read-only.
    used_while_on: set[int] = set()
    for _ in range(4):
        with refused():
            raw_insert("raw while on")
        used_while_on.add(backend_pid())
        with pytest.raises(ReadOnlyError):
            execute(alias, f"INSERT INTO {S} (v) VALUES ('pool on')")
        with refused():
            execute(alias, "SELECT dbtools_pool_fn()")
        connections[alias].close()  # back to the pool
    assert snapshot() == before
    settings.GET_ONLY_MODE = False

    def writes_after_off() -> int:
        raw_insert("raw after")
        execute(alias, f"INSERT INTO {S} (v) VALUES ('django after')")
        return backend_pid()

    assert in_thread(writes_after_off) in used_while_on
    assert stored() == ["one", "two", "raw after", "django after"]

    # And the other way: given back writable, taken by another thread while a mode is on.
    before = snapshot()
    settings.GET_ONLY_MODE = True

    def refused_while_on() -> None:
        with refused():
            raw_insert("raw on again")
        with pytest.raises(ReadOnlyError):
            execute(alias, f"INSERT INTO {S} (v) VALUES ('django on again')")

    in_thread(refused_while_on)
    settings.GET_ONLY_MODE = False
    assert snapshot() == before
