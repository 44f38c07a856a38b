"""The ``read_only`` template variable: is a mode on, which one, and what to tell visitors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest

from dbtools.current import current_state
from dbtools.state import Mode, State


@dataclass(frozen=True)
class ReadOnlyContext:
    """What templates see as ``read_only``; true in ``{% if read_only %}`` while a mode is on."""

    active: bool
    mode: str
    anonymous: bool
    get_only: bool
    message: str
    retry_after: int
    until: datetime | None

    def __bool__(self) -> bool:
        return self.active

    @classmethod
    def of(cls, state: State) -> ReadOnlyContext:
        return cls(
            active=state.active,
            mode=state.mode.value,
            anonymous=state.mode is Mode.ANONYMOUS,
            get_only=state.mode is Mode.GET_ONLY,
            message=state.message,
            retry_after=state.seconds_to_retry(),
            until=state.until,
        )


def read_only(request: HttpRequest) -> dict[str, ReadOnlyContext]:
    """Add ``read_only`` to every template rendered with a RequestContext."""
    return {"read_only": ReadOnlyContext.of(current_state())}
