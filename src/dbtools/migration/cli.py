"""The ``copy`` and ``verify`` actions of ``manage.py dbtools``: their arguments, and the run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from dbtools.migration import cutover, syncing, verifying
from dbtools.migration.copying import CopyOptions, Interrupted, copy
from dbtools.migration.progress import Output
from dbtools.migration.tables import copied_tables
from dbtools.migration.values import BadValue

ACTIONS = ("copy", "verify", "sync", "cutover")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_parsers(actions: Any) -> None:
    copying = actions.add_parser(
        "copy", help="Copy every table Django manages from one database alias to another."
    )
    verifying_ = actions.add_parser(
        "verify", help="Compare every table Django manages on two database aliases, row by row."
    )
    syncing_ = actions.add_parser(
        "sync", help="Make the target hold exactly the source's rows, moving only the changes."
    )
    switching = actions.add_parser(
        "cutover", help="Point an alias at another alias's settings in every process, no restart."
    )
    switching.add_argument("--to", dest="to", metavar="ALIAS", help="The alias to serve it from.")
    switching.add_argument(
        "--alias", default="default", help="The alias that moves (default: default)."
    )
    switching.add_argument("--force", action="store_true", help="Skip the checks of readiness.")
    switching.add_argument(
        "--clear", action="store_true", help="Remove the route once the settings are updated."
    )
    switching.add_argument("--noinput", "--no-input", action="store_true", help="Ask nothing.")
    for parser in (copying, verifying_, syncing_):
        add = parser.add_argument
        add("--from", dest="source", required=True, metavar="SOURCE", help="A DATABASES alias.")
        add("--to", dest="target", required=True, metavar="TARGET", help="A DATABASES alias.")
        add(
            "--models",
            nargs="+",
            default=[],
            metavar="LABEL",
            help="Only these: app_label or app_label.ModelName.",
        )
        add("--exclude", nargs="+", default=[], metavar="LABEL", help="All but these.")
        if parser is not syncing_:
            add(
                "--jobs", type=_positive, default=1, metavar="N", help="Tables at once (default 1)."
            )
    for parser in (copying, syncing_):
        parser.add_argument(
            "--live",
            action="store_true",
            help="The site is writable: read one consistent snapshot of the source.",
        )
    add = copying.add_argument
    add(
        "--batch-size",
        type=_positive,
        default=5000,
        metavar="N",
        help="Rows per transaction (default 5000).",
    )
    add("--truncate", action="store_true", help="Empty the target's tables first (asks first).")
    add("--resume", action="store_true", help="Continue after the last committed batch.")
    add("--dry-run", action="store_true", help="Print the plan; write nothing.")
    add("--no-verify", action="store_true", help="Do not verify at the end.")
    add("--noinput", "--no-input", action="store_true", help="Ask nothing.")


def run(
    action: str,
    options: dict[str, Any],
    out: Output,
    terminal: Output,
    ask: Callable[[str], str],
) -> None:
    """Run ``copy``, ``verify`` or ``sync``; a CommandError (a non-zero exit) on any problem."""
    if action == "cutover":
        if not options["clear"] and not options["to"]:
            raise CommandError("cutover needs --to ALIAS (or --clear).")
        cutover.cutover(
            options["to"],
            options["alias"],
            options["force"],
            options["clear"],
            None if options["noinput"] else ask,
            out,
        )
        return
    source, target = options["source"], options["target"]
    if action == "verify":
        tables = copied_tables(source, target, options["models"], options["exclude"])
        if not verifying.verify(source, target, tables, out, options["jobs"]):
            raise CommandError(f"{target!r} does not hold exactly the rows of {source!r}.")
        return
    if action == "sync":
        tables, changed = syncing.sync(
            source, target, options["models"], options["exclude"], options["live"], out
        )
        out.write("\nVerifying…\n")
        if not verifying.verify(source, target, tables, out, scope=changed):
            raise CommandError(f"After the sync {target!r} still differs from {source!r}.")
        return
    settings = CopyOptions(
        source=source,
        target=target,
        include=options["models"],
        exclude=options["exclude"],
        batch_size=options["batch_size"],
        jobs=options["jobs"],
        truncate=options["truncate"],
        resume=options["resume"],
        dry_run=options["dry_run"],
        verify=not options["no_verify"],
        live=options["live"],
        confirm=None if options["noinput"] else (lambda question: ask(question) == "yes"),
    )
    resume = f"python manage.py dbtools copy --from {source} --to {target} --resume"
    try:
        copy(settings, terminal)
    except BadValue as error:
        raise CommandError(
            f"Copy stopped: {error}\nThe batches before it are committed. Fix the value on "
            f"{source!r}, then continue with `{resume}`."
        ) from error
    except Interrupted:
        raise CommandError(f"Interrupted at a batch boundary. Continue with `{resume}`.") from None
    except Exception as error:
        if isinstance(error, CommandError):
            raise
        raise CommandError(
            f"Copy stopped: {type(error).__name__}: {error}\nThe batches before it are "
            f"committed; continue with `{resume}`."
        ) from error
