"""A GET whose code writes, as real apps do, is served with a mode on; nothing it wrote is kept."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import Client
from django.urls import path

from dbtools import writes_allowed
from tests.database import run_outside
from tests.settings import BACKEND
from tests.testapp.models import Counter, Note

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

called_back: list[str] = []


def search(request: HttpRequest) -> HttpResponse:
    """Records the query and bumps a daily hit counter, as a CMS's search does."""
    note = Note.objects.create(text=f"query: {request.GET.get('q', '')}")
    Counter.objects.filter(name="daily").update(hits=F("hits") + 1)
    seen = Note.objects.filter(pk=note.pk).exists()  # the view sees its own write
    return HttpResponse(f"id={note.pk} seen={seen}")


def thumbnail(request: HttpRequest) -> HttpResponse:
    """Inserts a rendition row on first view, inside an atomic block of its own."""
    with transaction.atomic():
        counter, created = Counter.objects.get_or_create(name="thumb-200x200")
        again, created_again = Counter.objects.get_or_create(name="thumb-200x200")
    transaction.on_commit(lambda: called_back.append("thumbnail"))
    return HttpResponse(f"created={created} found={again.pk == counter.pk and not created_again}")


def edit(request: HttpRequest) -> HttpResponse:
    """Deletes stale editing-session rows on GET, then shows the page."""
    Note.objects.filter(text__startswith="stale").delete()
    transaction.on_commit(lambda: called_back.append("edit"))
    return HttpResponse("edit form")


def userbar(request: HttpRequest) -> HttpResponse:
    """Creates a profile row the first time an editor is seen."""
    Counter.objects.get_or_create(name="profile-7", defaults={"hits": 1})
    return HttpResponse("page with user bar")


def schema(request: HttpRequest) -> HttpResponse:
    """A write no rollback could undo on every database: refused, discard or not."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE dbtools_made_on_get (id INTEGER)")
    return HttpResponse("made")


def committing(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        Note.objects.create(text="kept?")
        cursor.execute("COMMIT")
    return HttpResponse("committed")


def autocommit_on(request: HttpRequest) -> HttpResponse:
    """MySQL commits the transaction under way when autocommit is turned back on."""
    with connection.cursor() as cursor:
        Note.objects.create(text="kept?")
        cursor.execute("SET autocommit = 1")
    return HttpResponse("committed")


def streaming(request: HttpRequest) -> StreamingHttpResponse:
    def rows() -> Any:
        yield "start "
        Note.objects.create(text="written while streaming")
        yield "end"

    return StreamingHttpResponse(rows())


urlpatterns = [
    path("search/", search),
    path("thumbnail/", thumbnail),
    path("edit/", edit),
    path("userbar/", userbar),
    path("schema/", schema),
    path("commit/", committing),
    path("autocommit/", autocommit_on),
    path("stream/", streaming),
]
WRITING_PAGES = ["/search/?q=pipes", "/thumbnail/", "/edit/", "/userbar/"]


@pytest.fixture
def rows() -> Any:
    with writes_allowed():
        Counter.objects.create(name="daily", hits=5)
        Note.objects.create(text="stale editing session")

    def read() -> tuple[list[Any], list[Any]]:
        return (
            run_outside("SELECT name, hits FROM testapp_counter ORDER BY name"),
            run_outside("SELECT text FROM testapp_note ORDER BY id"),
        )

    called_back.clear()
    return read


@pytest.mark.parametrize("switch", ["GET_ONLY_MODE", "READ_ONLY_MODE"])
@pytest.mark.parametrize("page", WRITING_PAGES)
def test_a_get_that_writes_is_served_and_nothing_is_kept(
    settings: Any, rows: Any, switch: str, page: str
) -> None:
    before = rows()
    setattr(settings, switch, True)
    response = Client().get(page)
    assert response.status_code == 200, response.content[:300]
    assert rows() == before
    assert called_back == []  # on_commit callbacks of discarded writes never run
    setattr(settings, switch, False)
    assert rows() == before


def test_the_view_sees_its_own_writes(settings: Any, rows: Any) -> None:
    settings.GET_ONLY_MODE = True
    assert Client().get("/search/?q=x").content.endswith(b"seen=True")
    assert Client().get("/thumbnail/").content == b"created=True found=True"


def test_a_head_request_that_writes_is_served_too(settings: Any, rows: Any) -> None:
    before = rows()
    settings.GET_ONLY_MODE = True
    assert Client().head("/search/?q=x").status_code == 200
    assert rows() == before


@pytest.mark.parametrize("page", WRITING_PAGES)
def test_refuse_answers_a_get_that_writes_with_the_refusal(
    settings: Any, rows: Any, page: str
) -> None:
    settings.DBTOOLS_SAFE_REQUEST_WRITES = "refuse"
    before = rows()
    settings.GET_ONLY_MODE = True
    assert Client().get(page).status_code == 503
    assert rows() == before


@pytest.mark.parametrize(
    "page", ["/schema/", "/commit/", *(["/autocommit/"] if BACKEND == "mariadb" else [])]
)
def test_what_a_rollback_cannot_undo_is_still_refused(settings: Any, rows: Any, page: str) -> None:
    before = rows()
    settings.GET_ONLY_MODE = True
    assert Client().get(page).status_code == 503
    assert rows() == before
    assert run_outside("SELECT COUNT(*) FROM testapp_note WHERE text = 'kept?'") == [(0,)]


def test_a_post_is_still_refused_before_the_view(settings: Any, rows: Any) -> None:
    before = rows()
    settings.GET_ONLY_MODE = True
    assert Client().post("/search/", {"q": "x"}).status_code == 503
    assert rows() == before


def test_a_streaming_body_that_writes_after_the_response_writes_nothing(
    settings: Any, rows: Any
) -> None:
    before = rows()
    settings.GET_ONLY_MODE = True
    response = Client(raise_request_exception=False).get("/stream/")
    with pytest.raises(Exception):  # noqa: B017 - the iterator's write is refused
        b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert rows() == before


def test_after_a_discarded_request_the_connection_is_read_only_again(
    settings: Any, rows: Any
) -> None:
    before = rows()
    settings.GET_ONLY_MODE = True
    assert Client().get("/search/?q=x").status_code == 200
    with pytest.raises(Exception):  # noqa: B017 - the database's own refusal, whichever kind
        connection.connection.cursor().execute(
            "INSERT INTO testapp_note (text) VALUES ('raw after the request')"
        )
        if not connection.get_autocommit():
            connection.connection.commit()
    settings.GET_ONLY_MODE = False
    connection.close()
    assert rows() == before
