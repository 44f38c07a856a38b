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
        self.follow_the_store()

    def follow_the_store(self) -> None:
        """Read the runtime store before the first connection is made.

        A process that starts after a cut-over must open its first connection to the
        database the route names, not to the one its settings name.
        """
        from dbtools.conf import conf
        from dbtools.stores import watcher

        if conf.DBTOOLS_STATE in ("cache", "file"):
            watcher.state()
