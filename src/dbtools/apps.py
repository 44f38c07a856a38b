from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class DbToolsConfig(AppConfig):
    name = "dbtools"
    verbose_name = "django-db-tools"

    def ready(self) -> None:
        from dbtools import checks as dbtools_checks
        from dbtools import guard, handler

        for check in dbtools_checks.ALL_CHECKS:
            checks.register(check)
        guard.install_everywhere()
        handler.install()
