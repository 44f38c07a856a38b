"""``python -m tests.copy_site.whoami SESSION_KEY``: who the site's ``/whoami/`` says is logged
in with that session cookie (nothing for a visitor), through Django's test client.

The site reads its ``default`` alias, so pointing COPY_SOURCE / COPY_SOURCE_NAME at a copy's
target asks whether the copied session still logs its user in.
"""

from __future__ import annotations

import sys

import django


def main(session_key: str) -> int:
    django.setup()
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    response = client.get("/whoami/")
    if response.status_code != 200:
        print(f"/whoami/ answered {response.status_code}", file=sys.stderr)
        return 1
    sys.stdout.write(response.content.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
