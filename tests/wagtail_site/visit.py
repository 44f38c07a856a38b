"""Run by tests/test_wagtail_admin.py with DJANGO_SETTINGS_MODULE=tests.wagtail_site.settings:
migrate, log a superuser in, visit the Wagtail admin with no mode and with each mode, and write
what was served, and the ids the system checks report, as JSON to the file named in argv[1].
"""

from __future__ import annotations

import json
import sys

import django


def main(report: str) -> None:
    django.setup()

    from django.contrib.auth.models import User
    from django.core.checks import run_checks
    from django.core.management import call_command
    from django.http import HttpResponseBase
    from django.test import Client, override_settings
    from wagtail.models import Page

    def seen(response: HttpResponseBase) -> dict[str, object]:
        return {
            "status": response.status_code,
            "type": response.get("Content-Type", ""),
            "location": response.get("Location", ""),
            "body": response.content.decode(),
        }

    call_command("migrate", verbosity=0)
    User.objects.create_superuser("admin", password="admin")
    # The page Wagtail's own migrations make below the root: its explorer and edit views.
    page = Page.objects.get(depth=2)
    admin_pages = {
        "dashboard": "/admin/",
        "explorer": f"/admin/pages/{page.pk}/",
        "edit": f"/admin/pages/{page.pk}/edit/",
    }

    editor = Client()
    assert editor.login(username="admin", password="admin")
    served: dict[str, object] = {"checks": [message.id for message in run_checks()]}
    for mode, switches in (
        ("off", {}),
        ("get_only", {"GET_ONLY_MODE": True}),
        ("anonymous", {"READ_ONLY_MODE": True}),
    ):
        with override_settings(**switches):
            visits = {name: seen(editor.get(url)) for name, url in admin_pages.items()}
            visits["login"] = seen(Client().get("/admin/login/"))
            visits["status"] = seen(Client().get("/ops/status/"))
        served[mode] = visits
    with open(report, "w") as out:
        json.dump(served, out)


if __name__ == "__main__":
    main(sys.argv[1])
