from typing import Any

from django.dispatch import Signal, receiver

from tests.testapp.models import Note

page_viewed = Signal()


@receiver(page_viewed)
def remember_view(sender: Any, path: str, **kwargs: Any) -> None:
    """A signal handler that writes, as audit logs and analytics apps do."""
    Note.objects.create(text=f"viewed {path}")
