"""The demo's pages: read notes, write one, and a small JSON API."""

from __future__ import annotations

import json
from contextlib import suppress

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import dbtools
from notes.forms import NoteForm
from notes.models import Note


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notes/home.html",
        {"notes": Note.objects.select_related("author")[:50], "form": NoteForm()},
    )


def note_detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note.objects.select_related("author"), pk=pk)
    # A view counter is not worth refusing a page for while the site is read-only.
    with suppress(dbtools.ReadOnlyError):
        Note.objects.filter(pk=pk).update(views=F("views") + 1)
    return render(request, "notes/detail.html", {"note": note})


@login_required
@require_POST
def new_note(request: HttpRequest) -> HttpResponse:
    form = NoteForm(request.POST)
    if form.is_valid():
        note = form.save(commit=False)
        note.author = request.user
        note.save()
        messages.success(request, "Your note is saved.")
        return redirect("home")
    return render(request, "notes/home.html", {"notes": Note.objects.all()[:50], "form": form})


@csrf_exempt
def api_notes(request: HttpRequest) -> JsonResponse:
    """GET lists notes; POST {"text": ...} adds one (open to anyone, for load tests)."""
    if request.method == "POST":
        try:
            text = str(json.loads(request.body or b"{}").get("text", "")).strip()
        except (ValueError, AttributeError):
            return JsonResponse({"error": "invalid JSON"}, status=400)
        if not text:
            return JsonResponse({"error": "text is required"}, status=400)
        note = Note.objects.create(text=text[:2000])
        return JsonResponse({"id": note.pk, "text": note.text}, status=201)
    notes = [{"id": n.pk, "text": n.text} for n in Note.objects.all()[:50]]
    return JsonResponse({"notes": notes})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
