"""``dbtools cutover``: every process moves an alias to another alias's settings, no restart.

Refused unless a mode is on and a ``sync`` or ``verify`` of the pair found the two identical
under that same mode (so nothing was written since), or ``--force``. The route is stored
beside the mode, pushed and polled like it; the command returns once every process that
reads the store follows it, and ``dbtools off`` refuses while one does not, so writes are
never split between the two databases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from django.core import checks
from django.core.management.base import CommandError
from django.db import connections

from dbtools import presence, routing
from dbtools.conf import conf
from dbtools.migration import records, verifying
from dbtools.migration.progress import Output
from dbtools.migration.sides import sides
from dbtools.migration.tables import copied_tables
from dbtools.state import OFF, State, utcnow
from dbtools.stores import Store, StoreError, configured_store, refresh_interval

WAIT = 30.0  # seconds for every process to follow
OLD = "dbtools_cutover_old"  # a passing alias for the settings an alias had before the route


def check_store() -> list[checks.CheckMessage]:
    """dbtools.E016: a cut-over lives in the runtime store, so there must be one."""
    if conf.DBTOOLS_STATE in ("cache", "file"):
        return []
    return [
        checks.Error(
            f"DBTOOLS_STATE is {conf.DBTOOLS_STATE!r}: dbtools cutover needs the runtime store "
            "that every process reads.",
            hint="Set DBTOOLS_STATE = 'cache' (Redis) or 'file'.",
            id="dbtools.E016",
        )
    ]


def cutover(
    to: str | None,
    alias: str,
    force: bool,
    clear: bool,
    ask: Callable[[str], str] | None,
    out: Output,
) -> None:
    for problem in check_store():
        raise CommandError(f"{problem.id}: {problem.msg} {problem.hint}")
    store = configured_store()
    assert store is not None
    try:
        stored = store.read() or OFF
    except StoreError as error:
        raise CommandError(str(error)) from error
    if alias not in connections.settings:
        raise CommandError(f"Unknown database alias {alias!r} (--alias).")
    if clear:
        _clear(store, stored, alias, out)
        return
    if to is None or to not in connections.settings:
        raise CommandError(
            f"Unknown database alias {to!r}: DATABASES has {list(connections.settings)}."
        )
    routed = dict(stored.route)
    if to == alias:
        if alias not in routed:
            raise CommandError(f"No cut-over of {alias!r} is in effect: nothing to go back from.")
        _check_going_back(stored, alias, routed[alias], ask, out)
        route = tuple(pair for pair in stored.route if pair[0] != alias)
    else:
        if not force:
            _check_ready(stored, alias, to)
        route = tuple(pair for pair in stored.route if pair[0] != alias) + ((alias, to),)
    state = replace(stored, route=route, route_since=utcnow())
    _write(store, state)
    count = _wait_for_everyone(state)
    where = f"the settings of {to!r}" if to != alias else "its own settings again"
    out.write(f"{count} process(es) now serve {alias!r} from {where}.\n")


def _check_ready(stored: State, alias: str, to: str) -> None:
    if not stored.active:
        raise CommandError(
            "No mode is on in the runtime store: writes made meanwhile would be split between "
            f"{alias!r} and {to!r}. Turn a mode on (`dbtools on`), then `dbtools sync`. "
            "--force overrides this."
        )
    found = records.get("identical", alias, to)
    since = stored.since.isoformat() if stored.since else None
    if found is None or found.get("mode_since") != since:
        raise CommandError(
            f"No `dbtools sync` or `dbtools verify` of {alias!r} and {to!r} found them identical "
            f"since this mode went on: run `python manage.py dbtools sync --from {alias} --to "
            f"{to}` first. --force overrides this."
        )


def _check_going_back(
    stored: State, alias: str, now_on: str, ask: Callable[[str], str] | None, out: Output
) -> None:
    """Warn, and ask, when the database now in use holds rows the old one lacks."""
    connections.settings[OLD] = dict(routing.configured(alias))
    try:
        tables = copied_tables(OLD, now_on)
        with sides() as pair:
            differing = [
                t.label for t in tables if not verifying.compare(OLD, now_on, t, pair).matches
            ]
    finally:
        connections[OLD].close()
        del connections.settings[OLD]
    if not differing:
        return
    question = (
        f"Writes were made on {now_on!r} that {alias!r}'s own database does not hold "
        f"({', '.join(differing[:10])}{' …' if len(differing) > 10 else ''}): going back "
        "leaves them behind. Type 'yes' to go back anyway: "
    )
    out.write(question + "\n" if ask is None else "")
    if ask is None or ask(question) != "yes":
        raise CommandError("Nothing changed: the cut-over stays in effect.")


def _clear(store: Store, stored: State, alias: str, out: Output) -> None:
    """Remove the route once every process's own settings name the database it points at."""
    routed = dict(stored.route)
    if alias not in routed:
        raise CommandError(f"No cut-over of {alias!r} is in effect.")
    wanted = routing.fingerprint(routing.configured(routed[alias]))
    behind = [p["name"] for p in presence.present() if p.get("configured", {}).get(alias) != wanted]
    if behind:
        raise CommandError(
            f"{len(behind)} process(es) still have the old settings for {alias!r} on disk "
            f"({', '.join(behind[:5])}): update DATABASES and restart them first, or clearing "
            "the route sends them back to the old database."
        )
    state = replace(
        stored, route=tuple(p for p in stored.route if p[0] != alias), route_since=utcnow()
    )
    _write(store, state)
    out.write(f"The cut-over route of {alias!r} is removed.\n")


def _write(store: Store, state: State) -> None:
    try:
        store.write(state)
    except StoreError as error:
        raise CommandError(f"Nothing changed: {error}") from error


def _wait_for_everyone(state: State) -> int:
    """How many processes follow ``state``'s route, once every one does."""
    since = state.route_since.isoformat() if state.route_since else None
    deadline = time.monotonic() + WAIT
    time.sleep(min(refresh_interval(), 1.0))
    while True:
        present = presence.present()
        behind = [p["name"] for p in present if p.get("route_since") != since]
        if not behind:
            return len(present)
        if time.monotonic() > deadline:
            raise CommandError(
                f"{len(behind)} of {len(present)} process(es) have not followed the cut-over "
                f"after {WAIT:.0f} s ({', '.join(behind[:5])}): writes stay refused, as the "
                "mode is still on, and `dbtools off` refuses until every process follows."
            )
        time.sleep(0.2)


def not_following(stored: State) -> list[str]:
    """The processes that do not follow ``stored``'s route yet (for ``dbtools off``)."""
    if not stored.route:
        return []
    since = stored.route_since.isoformat() if stored.route_since else None
    return [p["name"] for p in presence.present() if p.get("route_since") != since]
