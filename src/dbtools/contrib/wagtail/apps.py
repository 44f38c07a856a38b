from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class DbToolsWagtailConfig(AppConfig):
    name = "dbtools.contrib.wagtail"
    # The default label, "wagtail", would be the last part of the name and could clash.
    label = "dbtools_wagtail"
    verbose_name = "django-db-tools for Wagtail"

    def ready(self) -> None:
        from dbtools.contrib.wagtail.checks import check_app_order

        checks.register(check_app_order)
