from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, transaction

from dbtools import writes_allowed
from tests.copyapp.data import populate


class Command(BaseCommand):
    help = (
        "Fill a migrated, empty database with the copy tests' data: ROWS rows of every field "
        "type and the relation shapes around them. Prints session=<key> for a logged-in user."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The alias to fill.")
        parser.add_argument("--rows", type=int, default=200, help="Rows of copyapp.Everything.")
        parser.add_argument("--seed", type=int, default=0, help="Same seed, same data.")

    def handle(self, *args: Any, database: str, rows: int, seed: int, **options: Any) -> None:
        # A set-up step: it writes whatever mode the site is in. One transaction, so a failure
        # leaves nothing half-written behind.
        with writes_allowed(), transaction.atomic(using=database):
            session_key = populate(database, rows, seed)
        self.stdout.write(f"session={session_key}")
