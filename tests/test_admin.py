"""Django's admin while a mode is on: the banner shows, and its save buttons get the refusal."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from dbtools import writes_allowed
from tests.testapp.models import Note

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client):  # type: ignore[no-untyped-def]
    with writes_allowed():
        client.force_login(User.objects.create_superuser("root", password="x"))
        Note.objects.create(text="existing")
    return client


def test_the_admin_shows_the_banner(admin, settings) -> None:  # type: ignore[no-untyped-def]
    assert "dbtools-banner" not in admin.get("/admin/testapp/note/").content.decode()
    settings.GET_ONLY_MODE = True
    page = admin.get("/admin/testapp/note/").content.decode()
    assert 'class="dbtools-banner"' in page and "existing" in page


def test_saving_in_the_admin_gets_the_refusal_page(admin, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    response = admin.post(
        "/admin/testapp/note/add/", {"text": "added in the admin", "_save": "Save"}
    )
    assert response.status_code == 503
    assert "added in the admin" in response.content.decode()
    assert list(Note.objects.values_list("text", flat=True)) == ["existing"]


def test_deleting_in_the_admin_gets_the_refusal_page(admin, settings) -> None:  # type: ignore[no-untyped-def]
    note = Note.objects.get()
    settings.GET_ONLY_MODE = True
    response = admin.post(f"/admin/testapp/note/{note.pk}/delete/", {"post": "yes"})
    assert response.status_code == 503
    assert Note.objects.count() == 1
