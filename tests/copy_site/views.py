import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def whoami(request: HttpRequest) -> HttpResponse:
    """The logged-in user's name, empty for a visitor: whether a session cookie still logs in."""
    return HttpResponse(request.user.get_username(), content_type="text/plain; charset=utf-8")


def where(request: HttpRequest) -> JsonResponse:
    """Which database ``default`` serves this request from (after a cut-over, the new one)."""
    return JsonResponse({"vendor": connection.vendor, "name": connection.settings_dict["NAME"]})


@csrf_exempt
def tags(request: HttpRequest) -> JsonResponse:
    """POST {"name": ...} adds a tag, through ``default``; for the cut-over under a fleet."""
    from tests.copyapp.models import Tag

    name = json.loads(request.body)["name"]
    tag = Tag.objects.create(name=name)
    return JsonResponse({"id": tag.pk}, status=201)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
