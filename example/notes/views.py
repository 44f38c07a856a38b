"""The demo's pages: read notes, write one, and a small JSON API."""

from __future__ import annotations

import json
from contextlib import suppress

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
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
    """GET lists notes; POST {"text": ...} adds one, {"texts": [...]} several in one
    transaction (open to anyone, for the load test)."""
    if request.method == "POST":
        try:
            body = json.loads(request.body or b"{}")
            texts = [str(t).strip()[:2000] for t in body.get("texts", [body.get("text", "")])]
        except (ValueError, AttributeError, TypeError):
            return JsonResponse({"error": "invalid JSON"}, status=400)
        if not texts or not all(texts):
            return JsonResponse({"error": "text is required"}, status=400)
        with transaction.atomic():
            notes = [Note.objects.create(text=text) for text in texts]
        return JsonResponse({"ids": [n.pk for n in notes], "id": notes[0].pk}, status=201)
    notes = [{"id": n.pk, "text": n.text} for n in Note.objects.all()[:50]]
    return JsonResponse({"notes": notes})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
