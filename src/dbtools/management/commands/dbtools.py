"""``manage.py dbtools on|off|status``: the runtime switch for every process reading the store."""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dbtools import logouts
from dbtools.durations import parse_duration, parse_moment
from dbtools.migration import cli as migration_cli
from dbtools.migration.cutover import not_following
from dbtools.permission import writes_allowed
from dbtools.state import OFF, Mode, State, utcnow
from dbtools.stores import Store, StoreError, configured_store, refresh_interval
from dbtools.switches import message_setting, retry_after_setting, settings_state

T = TypeVar("T")

# Time for a process to finish the store read it started just before the write.
READ_MARGIN = 0.5


def operator() -> str:
    """Who is switching: user@host, kept in the state for `dbtools status`."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a parser that raises ValueError with a readable message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _seconds(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds")
    return int(text)


def _ask(question: str) -> str:
    """The answer typed, or nothing when there is no one to type it (no terminal, EOF)."""
    try:
        return input(question)
    except EOFError:
        return ""


class Command(BaseCommand):
    help = "Turn the read-only mode on or off for every process that reads the store, or show it."
    # Status and off must work even while a setting is broken or the database refuses writes.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{on,off,status,copy,verify}"
        )
        on = actions.add_parser("on", help="Turn a mode on (GET-only unless --anonymous).")
        mode = on.add_mutually_exclusive_group()
        mode.add_argument(
            "--get-only",
            dest="mode",
            action="store_const",
            const=Mode.GET_ONLY,
            help="Visitors stay logged in; every write is refused (the default).",
        )
        mode.add_argument(
            "--anonymous",
            dest="mode",
            action="store_const",
            const=Mode.ANONYMOUS,
            help="Everyone is served logged out; every write is refused.",
        )
        on.add_argument("--message", help="Text shown to visitors (default: DBTOOLS_MESSAGE).")
        on.add_argument(
            "--retry-after",
            type=_seconds,
            metavar="SECONDS",
            help="Seconds clients are told to wait (default: DBTOOLS_RETRY_AFTER).",
        )
        end = on.add_mutually_exclusive_group()
        end.add_argument(
            "--for",
            dest="duration",
            type=_argument(parse_duration),
            metavar="DURATION",
            help="End the mode by itself after this long: 90, 45s, 30m, 2h, 1h30m.",
        )
        end.add_argument(
            "--until",
            type=_argument(parse_moment),
            metavar="ISO-8601",
            help="End the mode by itself at this moment (TIME_ZONE when no offset is given).",
        )
        actions.add_parser("off", help="Turn the runtime mode off.")
        status = actions.add_parser("status", help="Show the mode this site is in.")
        status.add_argument("--json", action="store_true", help="Print the status as JSON.")
        migration_cli.add_parsers(actions)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action in migration_cli.ACTIONS:
            # The bars go to the terminal itself: OutputWrapper ends every write with a newline.
            migration_cli.run(action, options, self.stdout, cast(Any, self.stdout)._out, _ask)
        elif action == "status":
            self.status(as_json=options["json"])
        elif action == "on":
            self.switch_on(options)
        else:
            self.switch_off()

    def store(self) -> Store:
        store = configured_store()
        if store is None:
            raise CommandError(
                "DBTOOLS_STATE is 'settings': there is no shared store to switch. Set "
                "DBTOOLS_STATE = 'cache' (a fleet, through Redis) or 'file' (one host), or "
                "use the READ_ONLY_MODE / GET_ONLY_MODE settings and restart."
            )
        return store

    def switch_on(self, options: dict[str, Any]) -> None:
        now = utcnow()
        until = options["until"]
        if options["duration"] is not None:
            until = now + options["duration"]
        if until is not None and until <= now:
            raise CommandError(f"--until {until.isoformat()} is already past.")
        state = State(
            mode=options["mode"] or Mode.GET_ONLY,
            message=options["message"] or message_setting(),
            retry_after=(
                options["retry_after"]
                if options["retry_after"] is not None
                else retry_after_setting()
            ),
            since=now,
            until=until,
            set_by=operator(),
        )
        self.write(state)
        label = "Anonymous" if state.mode is Mode.ANONYMOUS else "GET-only"
        ending = f" until {state.until.isoformat()}" if state.until else ""
        self.stdout.write(self.style.SUCCESS(f"{label} mode is on everywhere{ending}."))

    def switch_off(self) -> None:
        stored = self.stored()
        behind = not_following(stored)
        if behind:
            raise CommandError(
                f"The cut-over has not reached {len(behind)} process(es) yet "
                f"({', '.join(behind[:5])}): turning writes on now would split them between "
                "two databases. The mode stays on."
            )
        self.write(State(mode=Mode.OFF, since=utcnow(), set_by=operator()))
        overriding = settings_state()
        if overriding.active:
            switch = "READ_ONLY_MODE" if overriding.mode is Mode.ANONYMOUS else "GET_ONLY_MODE"
            raise CommandError(
                f"The store says off, but {switch} is on in settings or the environment, and it "
                f"wins: the site stays read-only until {switch} is removed and the processes "
                "restart."
            )
        self.stdout.write(self.style.SUCCESS("Read-only mode is off everywhere."))
        with writes_allowed():
            ended = logouts.end_window()
        if ended:
            self.stdout.write(f"Deleted the {ended} session(s) logged out during the window.")

    def stored(self) -> State:
        """What the store holds now; OFF when it holds nothing readable, which the write
        about to be made replaces (the way out of a store holding garbage)."""
        try:
            return self.store().read() or OFF
        except StoreError:
            return OFF

    def write(self, state: State) -> None:
        store = self.store()
        # A cut-over in effect stays in effect through on and off.
        previous = self.stored()
        state = replace(state, route=previous.route, route_since=previous.route_since)
        try:
            told = store.write(state)
        except StoreError as error:
            raise CommandError(f"Nothing changed: {error}") from error
        wait = refresh_interval() + READ_MARGIN
        pushed = "" if told is None else f" {told} process(es) told at once through Redis."
        self.stdout.write(
            f"Written to {store.description}.{pushed} Waiting {wait:.1f}s for every process "
            "to pick it up (DBTOOLS_REFRESH plus a margin)…"
        )
        self.stdout.flush()
        time.sleep(wait)

    def status(self, as_json: bool) -> None:
        stored: State | None = None
        problem = ""
        store = configured_store()
        if store is not None:
            try:
                stored = store.read()
            except StoreError as error:
                problem = str(error)
        switched = settings_state()
        state = switched if switched.active else (stored or OFF)
        if state.expired():
            state = OFF
        report = {
            "mode": state.mode.value,
            "message": state.message if state.active else None,
            "since": state.since.isoformat() if state.since else None,
            "until": state.until.isoformat() if state.until else None,
            "retry_after": state.seconds_to_retry() if state.active else None,
            "set_by": state.set_by or None,
            "source": "settings" if switched.active else "store" if store else "settings",
            "store": store.description if store else None,
            "store_error": problem or None,
            "route": (
                ", ".join(f"{a} -> {t}" for a, t in stored.route)
                if stored and stored.route
                else None
            ),
        }
        if as_json:
            self.stdout.write(json.dumps(report))
            return
        for key, value in report.items():
            if value is not None:
                self.stdout.write(f"{key:<12} {value}")
        if problem:
            raise CommandError(problem)
