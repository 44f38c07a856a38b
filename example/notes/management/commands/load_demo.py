"""Create the demo user (demo / demo) and a few notes, once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from notes.models import Note

NOTES = [
    "Moving the database to PostgreSQL this morning: reading works all along.",
    "Reminder: the team lunch is on Friday.",
    "Welcome to the notes board. Log in as demo / demo to write one.",
]


class Command(BaseCommand):
    help = "Create the demo user (demo / demo, a superuser) and sample notes if they are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        user, created = User.objects.get_or_create(
            username="demo", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password("demo")
            user.save()
        if not Note.objects.exists():
            for text in NOTES:
                Note.objects.create(author=user, text=text)
        self.stdout.write("Demo user: demo / demo")
