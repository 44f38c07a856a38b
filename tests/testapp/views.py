"""Views the tests drive: reads, writes, session and message writers, sync and async."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from tests.testapp.models import Counter, Note


def whoami(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.get_username() or "anonymous")


async def awhoami(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(user.get_username() or "anonymous")


def notes(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        Note.objects.create(text=request.POST.get("text", ""))
        return HttpResponse("saved", status=201)
    return HttpResponse("\n".join(Note.objects.values_list("text", flat=True)))


async def anotes(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        await Note.objects.acreate(text=request.POST.get("text", ""))
        return HttpResponse("saved", status=201)
    return HttpResponse("\n".join([n.text async for n in Note.objects.all()]))


def api_notes(request: HttpRequest) -> JsonResponse:
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        Note.objects.create(text="api")
        return JsonResponse({"ok": True}, status=201)
    return JsonResponse({"notes": list(Note.objects.values_list("text", flat=True))})


def session_writer(request: HttpRequest) -> HttpResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return HttpResponse(f"visits={request.session['visits']}")


def page_history(request: HttpRequest) -> HttpResponse:
    pages = request.session.setdefault("pages", [])
    pages.append(request.get_full_path())  # changes the list in place, as views often do
    request.session.modified = True
    return HttpResponse(f"pages={len(pages)}")


def message_adder(request: HttpRequest) -> HttpResponse:
    messages.info(request, "hello")
    return HttpResponse("ok")


def counter(request: HttpRequest) -> HttpResponse:
    """A GET with a side effect: the kind of write the request layer cannot see."""
    Counter.objects.filter(name="page").update(hits=F("hits") + 1)
    return HttpResponse("counted")


def page(request: HttpRequest) -> HttpResponse:
    return render(request, "testapp/page.html")


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{request.method} healthy")


def header_auth(request: HttpRequest) -> HttpResponse:
    """Authenticates from the Authorization header, as DRF and JWT packages do."""
    from base64 import b64decode

    from django.contrib.auth import authenticate

    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "basic":
        username, _, password = b64decode(credentials).decode().partition(":")
        user = authenticate(request, username=username, password=password)
        return HttpResponse(user.get_username() if user else "anonymous")
    if scheme.lower() in ("token", "bearer") and credentials:
        return HttpResponse(f"token:{credentials}")
    return HttpResponse("anonymous")


def signalled(request: HttpRequest) -> HttpResponse:
    from tests.testapp.signals import page_viewed

    page_viewed.send(sender=None, path=request.path)
    return HttpResponse("signalled")


def magic_login(request: HttpRequest) -> HttpResponse:
    """A GET that logs the visitor in (magic links, OAuth callbacks): it writes last_login."""
    from django.contrib.auth import login
    from django.contrib.auth.models import User

    login(request, User.objects.get(username=request.GET["username"]))
    return HttpResponse("logged in")


def lose_connection(request: HttpRequest) -> HttpResponse:
    """The database kills this request's connection (a failover, a DBA), then it queries."""
    from django.db import connection

    from tests.database import run_outside

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_backend_pid()")
            run_outside(f"SELECT pg_terminate_backend({cursor.fetchone()[0]})")
        else:
            cursor.execute("SELECT CONNECTION_ID()")
            run_outside(f"KILL {cursor.fetchone()[0]}")
    return HttpResponse(str(Note.objects.count()))
