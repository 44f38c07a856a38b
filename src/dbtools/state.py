"""The mode a process is in: off, GET-only or anonymous, with the facts shown to users."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dbtools.conf import DEFAULT_MESSAGE, DEFAULT_RETRY_AFTER


class Mode(str, enum.Enum):
    OFF = "off"
    GET_ONLY = "get_only"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class State:
    """One snapshot of the mode and what users are told about it."""

    mode: Mode = Mode.OFF
    message: str = DEFAULT_MESSAGE
    retry_after: int = DEFAULT_RETRY_AFTER
    since: datetime | None = None
    until: datetime | None = None
    set_by: str = ""
    # A cut-over in effect: (alias, the alias whose settings it now uses), and since when.
    route: tuple[tuple[str, str], ...] = ()
    route_since: datetime | None = None
    # Whether a mode is on. A plain attribute, worked out once: the guard asks on every
    # query, and reading an Enum member costs about 0.2 us on Python 3.11.
    active: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "active", self.mode is not Mode.OFF)

    def expired(self, now: datetime | None = None) -> bool:
        return self.until is not None and (now or utcnow()) >= self.until

    def seconds_to_retry(self, now: datetime | None = None) -> int:
        """What Retry-After says: the time left when an end is known, else the setting."""
        if self.until is not None:
            left = (self.until - (now or utcnow())).total_seconds()
            return max(1, int(left + 0.999))
        return self.retry_after


OFF = State()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
