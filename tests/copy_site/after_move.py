"""Run with ``default`` pointing at a copy's target: what a site finds there after the move.

    python -m tests.copy_site.after_move SESSION_KEY

Prints JSON: the tables where a new row could not be inserted (its key would collide with a
copied one), the comments whose generic foreign key points at nothing, and whom the source's
session cookie logs in as. Every insert is rolled back.
"""

from __future__ import annotations

import json
import sys

import django


class RolledBack(Exception):
    pass


def first_inserts() -> list[str]:
    """Every table whose key a sequence counts: one new row, as the ORM makes it."""
    from django.apps import apps
    from django.db import connection, transaction

    from dbtools import writes_allowed

    failures = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if (
            meta.proxy
            or not meta.managed
            or meta.pk.get_internal_type()
            not in (
                "AutoField",
                "BigAutoField",
                "SmallAutoField",
            )
        ):
            continue
        newest = model._base_manager.order_by("-pk").first()
        if newest is None:
            continue
        largest = newest.pk
        try:
            with writes_allowed(), transaction.atomic():
                # Room for the new row's unique values: the newest row goes, its values stay.
                connection.disable_constraint_checking()
                model._base_manager.filter(pk=largest)._raw_delete(connection.alias)
                newest.pk = None
                newest._state.adding = True
                newest.save(force_insert=True)
                if newest.pk <= largest:
                    failures.append(f"{meta.db_table}: new key {newest.pk} <= {largest}")
                raise RolledBack
        except RolledBack:
            pass
        except Exception as error:  # noqa: BLE001 - each table's failure is reported
            failures.append(f"{meta.db_table}: {type(error).__name__}: {error}")
        finally:
            connection.enable_constraint_checking()
    return failures


def dangling_comments() -> list[int]:
    from tests.copyapp.models import Comment

    return [c.pk for c in Comment.objects.all() if c.content_object is None]


def logged_in_as(session_key: str) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return client.get("/whoami/").content.decode()


if __name__ == "__main__":
    django.setup()
    from tests.copyapp.models import Comment

    report = {
        "first_insert_failures": first_inserts(),
        "dangling_comments": dangling_comments(),
        "comments": Comment.objects.count(),
        "logged_in_as": logged_in_as(sys.argv[1]),
    }
    print(json.dumps(report))
