"""The ``read_only`` template variable and ``{% read_only_banner %}``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_no_banner_and_falsy_context_when_off(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/page/").content.decode()
    assert "dbtools-banner" not in page
    assert '<p id="ctx">off</p>' in page


@pytest.mark.parametrize(
    ("switch", "mode"), [("GET_ONLY_MODE", "get_only"), ("READ_ONLY_MODE", "anonymous")]
)
def test_banner_and_context_while_a_mode_is_on(client, settings, switch: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    setattr(settings, switch, "yes")
    settings.DBTOOLS_MESSAGE = "Back at 10:00 <UTC>"
    page = client.get("/page/").content.decode()
    assert 'class="dbtools-banner"' in page
    assert "Back at 10:00 &lt;UTC&gt;" in page
    assert f'<p id="ctx">on:{mode}:Back at 10:00 &lt;UTC&gt;</p>' in page
