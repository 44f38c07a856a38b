"""The one way the Wagtail banner can silently do nothing: its app listed after Wagtail's."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Warning

APP = "dbtools.contrib.wagtail"
WAGTAIL_ADMIN = "wagtail.admin"


def check_app_order(**kwargs: Any) -> list[CheckMessage]:
    # The app directories loader searches apps in INSTALLED_APPS order, so an app listed after
    # wagtail.admin finds Wagtail's own wagtailadmin/base.html first and never reaches ours.
    names = [config.name for config in apps.get_app_configs()]
    if WAGTAIL_ADMIN not in names or names.index(APP) < names.index(WAGTAIL_ADMIN):
        return []
    return [
        Warning(
            f"{APP} comes after {WAGTAIL_ADMIN} in INSTALLED_APPS: Wagtail's own admin "
            "templates are found first, and the admin shows no read-only banner.",
            hint=f"Move {APP!r} before {WAGTAIL_ADMIN!r}.",
            id="dbtools.W003",
        )
    ]
