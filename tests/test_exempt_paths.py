"""DBTOOLS_EXEMPT_PATHS: health checks and the like pass through untouched."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anonymous_mode(settings) -> None:  # type: ignore[no-untyped-def]
    settings.READ_ONLY_MODE = True
    settings.DBTOOLS_EXEMPT_PATHS = [r"^/health/$", r"^/whoami/"]


def test_exempt_paths_accept_unsafe_methods(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/health/")
    assert response.status_code == 200 and response.content == b"POST healthy"


def test_exempt_paths_keep_the_visitor_logged_in(logged_in) -> None:  # type: ignore[no-untyped-def]
    assert logged_in.get("/whoami/").content == b"alice"


def test_patterns_match_from_the_start_of_the_path(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DBTOOLS_EXEMPT_PATHS = [r"/health/"]
    assert client.post("/health/").status_code == 200
    settings.DBTOOLS_EXEMPT_PATHS = [r"health/"]
    assert client.post("/health/").status_code == 503


def test_other_paths_are_still_refused(client) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/notes/", {"text": "x"}).status_code == 503
