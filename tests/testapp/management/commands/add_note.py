from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tests.testapp.models import Note


class Command(BaseCommand):
    help = "Add a note: a maintenance command that writes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text")

    def handle(self, *args: Any, text: str, **options: Any) -> None:
        Note.objects.create(text=text)
        self.stdout.write("added")
