"""A refused request: 503, Retry-After, never cached; a page for browsers, JSON for API clients."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def get_only_mode(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GET_ONLY_MODE = True
    settings.DBTOOLS_MESSAGE = "Moving to PostgreSQL 17 until noon."
    settings.DBTOOLS_RETRY_AFTER = 120


def test_status_retry_after_and_no_caching(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/notes/", {"text": "hi"})
    assert response.status_code == 503
    assert response["Retry-After"] == "120"
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private", "max-age=0"} <= cache_control
    assert response["CDN-Cache-Control"] == "no-store"
    assert "Accept" in response["Vary"]


def test_browser_gets_the_page_with_the_message(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/notes/", {"text": "hi"}, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8"
    )
    assert response["Content-Type"].startswith("text/html")
    assert [t.name for t in response.templates] == ["dbtools/read_only.html"]
    page = response.content.decode()
    assert "read-only for maintenance" in page.lower()
    assert "Moving to PostgreSQL 17 until noon." in page
    assert 'lang="en"' in page


def test_the_typed_text_is_shown_back_escaped(client) -> None:  # type: ignore[no-untyped-def]
    text = 'My long comment <script>alert("x")</script> & more'
    response = client.post("/notes/", {"text": text, "title": "Hello"})
    page = response.content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in page
    assert "<script>alert" not in page
    assert "Hello" in page


def test_secrets_and_csrf_token_are_never_shown_back() -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/notes/",
        {
            "csrfmiddlewaretoken": token,
            "username": "alice",
            "password": "hunter2-secret",
            "new_password1": "pw-one-xyz",
            "api_key": "key-123-abc",
            "text": "keep me",
        },
    )
    page = response.content.decode()
    assert "keep me" in page and "alice" in page
    for secret in (token, "hunter2-secret", "pw-one-xyz", "key-123-abc"):
        assert secret not in page


def test_file_contents_are_never_shown_back(client) -> None:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("report.txt", b"TOP-SECRET-FILE-BODY", content_type="text/plain")
    response = client.post("/notes/", {"text": "see attached", "attachment": upload})
    page = response.content.decode()
    assert "TOP-SECRET-FILE-BODY" not in page
    assert "report.txt" in page and "see attached" in page


@pytest.mark.parametrize(
    "kwargs",
    [
        {"HTTP_ACCEPT": "application/json"},
        {"HTTP_ACCEPT": "application/json, text/html;q=0.5"},
        {"content_type": "application/json", "data": json.dumps({"text": "hi"})},
        {"content_type": "application/vnd.api+json", "data": "{}"},
    ],
)
def test_api_clients_get_json(client, kwargs) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/notes/", **kwargs)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "read_only"
    assert body["message"] == "Moving to PostgreSQL 17 until noon."
    assert body["retry_after"] == 120
    assert body["mode"] == "get_only"
    assert response["Retry-After"] == "120"


@pytest.mark.parametrize("accept", ["text/html, application/json;q=0.9", "*/*", ""])
def test_html_is_preferred_unless_json_is_asked_for(client, accept: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/notes/", {"text": "hi"}, HTTP_ACCEPT=accept)
    assert response["Content-Type"].startswith("text/html")


def test_a_custom_template_replaces_the_page(client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "dbtools").mkdir()
    (tmp_path / "dbtools" / "read_only.html").write_text("Ours: {{ message }} / {{ retry_after }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    response = client.post("/notes/", {"text": "hi"})
    assert response.content == b"Ours: Moving to PostgreSQL 17 until noon. / 120"


@pytest.mark.parametrize("mode", ["GET_ONLY_MODE", "READ_ONLY_MODE"])
def test_the_refusal_makes_no_database_query(
    logged_in, settings, mode, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    setattr(settings, mode, True)
    with django_assert_num_queries(0):
        response = logged_in.post("/notes/", {"text": "hi"})
    assert response.status_code == 503
