"""`manage.py dbtools on|off|status` and the stores behind it, in this process."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, timedelta, timezone
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.test import RequestFactory

from dbtools.current import current_state
from dbtools.middleware import ReadOnlyMiddleware
from dbtools.signals import mode_changed
from dbtools.state import Mode, State
from dbtools.stores import CACHE_KEY, FileStore, watcher
from tests.processes import wait_for
from tests.redis_support import use_private_redis

pytestmark = pytest.mark.django_db


@pytest.fixture
def file_store(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "file"
    settings.DBTOOLS_STATE_FILE = str(tmp_path / "state.json")
    settings.DBTOOLS_REFRESH = 0.1
    return tmp_path / "state.json"


def dbtools(*args: str) -> str:
    out = StringIO()
    call_command("dbtools", *args, stdout=out)
    return out.getvalue()


def status() -> dict[str, Any]:
    return json.loads(dbtools("status", "--json"))  # type: ignore[no-any-return]


def test_on_then_off_with_the_file_store(client, file_store: Path) -> None:  # type: ignore[no-untyped-def]
    output = dbtools("on")
    assert "Waiting" in output and "GET-only mode is on everywhere" in output
    report = status()
    assert report["mode"] == "get_only"
    assert report["source"] == "store" and "@" in report["set_by"]
    assert report["since"] and report["until"] is None and report["retry_after"] == 300
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    assert "off everywhere" in dbtools("off")
    assert status()["mode"] == "off"
    assert client.post("/notes/", {"text": "x"}).status_code == 201


def test_the_file_is_written_whole(file_store: Path) -> None:
    dbtools("on", "--message", "Moving hosts")
    stored = json.loads(file_store.read_text())
    assert stored["mode"] == "get_only" and stored["message"] == "Moving hosts"
    assert list(file_store.parent.iterdir()) == [file_store]  # no temporary file left behind


def test_on_waits_out_the_refresh_interval(file_store: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_REFRESH = 0.6
    started = time.monotonic()
    output = dbtools("on")
    assert time.monotonic() - started >= 0.6
    assert "DBTOOLS_REFRESH" in output


def test_anonymous(logged_in, file_store: Path) -> None:  # type: ignore[no-untyped-def]
    dbtools("on", "--anonymous")
    assert status()["mode"] == "anonymous"
    assert logged_in.get("/whoami/").content == b"anonymous"


def test_get_only(logged_in, file_store: Path) -> None:  # type: ignore[no-untyped-def]
    dbtools("on", "--get-only")
    assert current_state().mode is Mode.GET_ONLY
    assert logged_in.get("/whoami/").content == b"alice"


def test_message_and_retry_after(client, file_store: Path) -> None:  # type: ignore[no-untyped-def]
    dbtools("on", "--message", "Back at ten", "--retry-after", "45")
    response = client.post("/api/notes/", "{}", content_type="application/json")
    assert response.json()["message"] == "Back at ten"
    assert response.json()["retry_after"] == 45 and response["Retry-After"] == "45"


def test_for_a_duration(client, file_store: Path) -> None:  # type: ignore[no-untyped-def]
    dbtools("on", "--for", "30m")
    report = status()
    since = datetime.fromisoformat(report["since"])
    until = datetime.fromisoformat(report["until"])
    assert until - since == timedelta(minutes=30)
    assert 1790 <= int(client.post("/notes/")["Retry-After"]) <= 1800


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2099-01-02T03:04:05+02:00", datetime(2099, 1, 2, 1, 4, 5, tzinfo=timezone.utc)),
        ("2099-01-02T03:04:05", datetime(2099, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ],
)
def test_until_a_moment(file_store: Path, settings, given: str, expected: datetime) -> None:  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "UTC"
    dbtools("on", "--until", given)
    assert datetime.fromisoformat(status()["until"]) == expected


def test_the_mode_ends_by_itself(client, file_store: Path) -> None:  # type: ignore[no-untyped-def]
    dbtools("on", "--for", "2")
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    time.sleep(2.3)
    assert current_state().mode is Mode.OFF
    assert status()["mode"] == "off"
    assert client.post("/notes/", {"text": "x"}).status_code == 201


@pytest.mark.parametrize(
    "args",
    [
        ["on", "--for", "soon"],
        ["on", "--for", "0"],
        ["on", "--retry-after", "-5"],
        ["on", "--until", "next tuesday"],
        ["on", "--for", "30m", "--until", "2099-01-01T00:00+00:00"],
        ["on", "--get-only", "--anonymous"],
        ["on", "--until", "2001-01-01T00:00+00:00"],
        ["sideways"],
    ],
)
def test_bad_arguments_change_nothing(file_store: Path, args: list[str]) -> None:
    with pytest.raises(CommandError):
        dbtools(*args)
    assert not file_store.exists()


def test_settings_switch_wins_over_the_store(client, file_store: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    assert status()["mode"] == "get_only" and status()["source"] == "settings"
    with pytest.raises(CommandError, match="GET_ONLY_MODE is on in settings or the environment"):
        dbtools("off")
    assert client.post("/notes/", {"text": "x"}).status_code == 503


def test_environment_switch_wins_over_the_store(file_store: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    dbtools("on", "--get-only")
    monkeypatch.setenv("READ_ONLY_MODE", "yes")
    assert current_state().mode is Mode.ANONYMOUS
    with pytest.raises(CommandError, match="READ_ONLY_MODE"):
        dbtools("off")


def test_no_store_configured(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_STATE = "settings"
    with pytest.raises(CommandError, match="DBTOOLS_STATE is 'settings'"):
        dbtools("on")


def test_an_unwritable_file_store_changes_nothing(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "not-a-directory").write_text("")
    settings.DBTOOLS_STATE = "file"
    settings.DBTOOLS_STATE_FILE = str(tmp_path / "not-a-directory" / "state.json")
    with pytest.raises(CommandError, match="Nothing changed: cannot write file"):
        dbtools("on")


def test_an_unreachable_cache_changes_nothing(settings) -> None:  # type: ignore[no-untyped-def]
    from tests.processes import free_port

    settings.CACHES = {
        **settings.CACHES,
        "dead": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        },
    }
    settings.DBTOOLS_STATE = "cache"
    settings.DBTOOLS_CACHE = "dead"
    with pytest.raises(CommandError, match="Nothing changed: cannot write cache 'dead'"):
        dbtools("on")


def test_until_without_an_offset_is_read_in_time_zone(file_store: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "Europe/Paris"
    dbtools("on", "--until", "2099-07-01T12:00:00")
    assert datetime.fromisoformat(status()["until"]) == datetime(
        2099, 7, 1, 10, tzinfo=timezone.utc
    )


def test_status_in_words(file_store: Path) -> None:
    dbtools("on", "--message", "Copying the data")
    text = dbtools("status")
    assert "get_only" in text and "Copying the data" in text and "file" in text


def test_on_and_off_through_redis(client, cache_store: None) -> None:  # type: ignore[no-untyped-def]
    dbtools("on", "--anonymous", "--for", "1h")
    stored = json.loads(caches["dbtools"].get(CACHE_KEY))
    assert stored["mode"] == "anonymous"
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    dbtools("off")
    assert client.post("/notes/", {"text": "x"}).status_code == 201


def test_mode_changed_is_sent_when_the_process_sees_a_new_state(file_store: Path) -> None:
    seen: list[tuple[str, str]] = []

    def remember(sender: object, state: Any, previous: Any, **kwargs: object) -> None:
        seen.append((previous.mode.value, state.mode.value))

    current_state()  # the watcher starts and reads the (empty) store
    mode_changed.connect(remember)
    try:
        dbtools("on")
        dbtools("on", "--anonymous")
        dbtools("off")
    finally:
        mode_changed.disconnect(remember)
    assert seen == [("off", "get_only"), ("get_only", "anonymous"), ("anonymous", "off")]


def test_a_failing_mode_changed_receiver_neither_fails_requests_nor_stops_the_watcher(
    client, file_store: Path, caplog
) -> None:  # type: ignore[no-untyped-def]
    def notify_chat(**kwargs: object) -> None:
        raise ConnectionError("the chat server is down")

    mode_changed.connect(notify_chat)
    try:
        dbtools("on")
        assert client.post("/notes/", {"text": "x"}).status_code == 503
        dbtools("off")  # seen by the watcher thread, which the first failure did not end
        wait_for(lambda: current_state().mode is Mode.OFF)
        assert client.post("/notes/", {"text": "x"}).status_code == 201
    finally:
        mode_changed.disconnect(notify_chat)
    # Logged by Django, once for each switch, with what went wrong.
    failures = [r for r in caplog.records if "notify_chat" in r.getMessage()]
    assert [r.name for r in failures] == ["django.dispatch", "django.dispatch"]
    assert all("the chat server is down" in r.getMessage() for r in failures)


# -- the store failing -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # reads while on make a test-long transaction read-only
def test_redis_stopped_and_restarted(client, settings, private_redis, caplog) -> None:  # type: ignore[no-untyped-def]
    use_private_redis(settings, private_redis.url, refresh=0.1)
    dbtools("on")
    assert current_state().mode is Mode.GET_ONLY  # this process has seen it
    private_redis.stop()
    caplog.set_level(logging.ERROR, logger="dbtools")
    time.sleep(0.6)
    for _ in range(5):
        assert client.post("/notes/", {"text": "x"}).status_code == 503
        assert client.get("/notes/").status_code == 200
    errors = [r for r in caplog.records if r.name == "dbtools" and r.levelno == logging.ERROR]
    assert 1 <= len(errors) <= 8, "an error at most once per refresh interval"
    assert "Keeping the last known state (get_only)" in errors[0].getMessage()
    # Restarted without persistence, Redis has forgotten the state: still read-only.
    private_redis.start()
    time.sleep(0.4)
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    dbtools("off")
    assert client.post("/notes/", {"text": "x"}).status_code == 201


def test_garbage_under_the_key_keeps_the_last_state(client, cache_store: None, caplog) -> None:  # type: ignore[no-untyped-def]
    dbtools("on")
    assert current_state().mode is Mode.GET_ONLY
    caplog.set_level(logging.ERROR, logger="dbtools")
    caches["dbtools"].set(CACHE_KEY, "}{ not a state", timeout=None)
    wait_for(lambda: any("not a state" in r.getMessage() for r in caplog.records))
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    assert client.get("/notes/").status_code == 200


def test_an_unreadable_file_keeps_the_last_state(client, file_store: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    dbtools("on")
    assert current_state().mode is Mode.GET_ONLY
    caplog.set_level(logging.ERROR, logger="dbtools")
    file_store.unlink()
    file_store.mkdir()  # reading it now fails
    wait_for(lambda: any("cannot read file" in r.getMessage() for r in caplog.records))
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    file_store.rmdir()
    file_store.write_text('{"mode": "anonymous", "message": 7}')  # a state it cannot trust
    time.sleep(0.3)
    assert current_state().mode is Mode.GET_ONLY


def test_a_file_that_is_not_text_keeps_the_last_state_and_the_watcher_watching(
    client, file_store: Path, caplog
) -> None:  # type: ignore[no-untyped-def]
    dbtools("on")
    assert current_state().mode is Mode.GET_ONLY
    caplog.set_level(logging.ERROR, logger="dbtools")
    file_store.write_bytes(b"\xff\xfe\x00 written by something else")
    wait_for(lambda: any("not a state" in r.getMessage() for r in caplog.records))
    assert client.post("/notes/", {"text": "x"}).status_code == 503
    dbtools("off")
    wait_for(lambda: current_state().mode is Mode.OFF)
    assert client.post("/notes/", {"text": "x"}).status_code == 201


def test_the_watcher_outlives_an_error_nobody_foresaw(
    client, file_store: Path, caplog, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    current_state()  # the watcher starts and reads the (empty) store
    caplog.set_level(logging.ERROR, logger="dbtools")
    failed = []

    def read_once_failing(self: FileStore) -> State | None:
        if not failed:
            failed.append(True)
            raise MemoryError("a bug, or the machine in trouble")
        return real_read(self)

    real_read = FileStore.read
    monkeypatch.setattr(FileStore, "read", read_once_failing)
    wait_for(lambda: any("MemoryError" in r.getMessage() for r in caplog.records))
    dbtools("on")  # seen by the same thread, which went on watching
    wait_for(lambda: current_state().mode is Mode.GET_ONLY)
    assert client.post("/notes/", {"text": "x"}).status_code == 503


def test_a_new_process_starts_in_the_stored_mode(file_store: Path) -> None:
    dbtools("on", "--anonymous")
    watcher.reset()  # as a freshly started worker
    assert current_state().mode is Mode.ANONYMOUS


def test_the_command_line_exits_non_zero_when_the_store_cannot_be_written(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    (tmp_path / "a-file").write_text("")
    result = subprocess.run(
        [sys.executable, str(root / "example" / "manage.py"), "dbtools", "on"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "DEMO_VAR_DIR": str(tmp_path),
            "DBTOOLS_STATE_FILE": str(tmp_path / "a-file" / "state.json"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Nothing changed: cannot write file" in result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_worker_follows_the_store_on_its_own(file_store: Path) -> None:
    """As under gunicorn --preload: the parent's thread does not survive the fork."""
    dbtools("off")
    middleware = ReadOnlyMiddleware(lambda request: HttpResponse("written"))
    for _ in range(3):  # the parent serves while its thread keeps reading the store
        assert middleware(RequestFactory().post("/notes/")).status_code == 200
        time.sleep(0.2)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: it answers writes until the switch reaches it
        status = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = middleware(RequestFactory().post("/notes/")).status_code
            if status == 503:
                break
            time.sleep(0.02)
        os.write(write_end, str(status).encode())
        os._exit(0)
    os.close(write_end)
    try:
        FileStore(str(file_store)).write(State(mode=Mode.GET_ONLY))
        with os.fdopen(read_end) as answer:
            assert answer.read() == "503"
    finally:
        os.waitpid(pid, 0)
