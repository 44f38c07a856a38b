"""POST endpoints that only read (GraphQL queries, search forms), through DBTOOLS_EXEMPT_PATHS.

The middleware lets them through; the guard still refuses whatever they would write.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.database import run_outside
from tests.testapp.models import Note

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]


@csrf_exempt
def graphql(request: HttpRequest) -> HttpResponse:
    """A stand-in for a GraphQL endpoint: queries read, mutations write."""
    body = json.loads(request.body)
    if body["query"].startswith("mutation"):
        Note.objects.create(text=body["query"])
        return JsonResponse({"data": {"created": True}})
    return JsonResponse({"data": {"notes": list(Note.objects.values_list("text", flat=True))}})


urlpatterns = [path("graphql/", graphql)]


@pytest.fixture(autouse=True)
def graphql_exempt(settings: Any) -> None:
    settings.GET_ONLY_MODE = True
    settings.DBTOOLS_EXEMPT_PATHS = [r"^/graphql/$"]


def post(query: str) -> Any:
    return Client().post("/graphql/", {"query": query}, content_type="application/json")


def test_a_query_sent_by_post_is_served() -> None:
    response = post("{ notes }")
    assert response.status_code == 200 and response.json() == {"data": {"notes": []}}


def test_a_mutation_sent_by_post_is_still_refused_by_the_guard() -> None:
    response = post("mutation { createNote }")
    assert response.status_code == 503 and response.json()["error"] == "read_only"
    assert run_outside("SELECT COUNT(*) FROM testapp_note") == [(0,)]
