"""Parsing of ``--for`` durations (``90``, ``30m``, ``1h30m``) and ``--until`` moments."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.utils import timezone

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(?:(\d+)([smhd]))")


def parse_duration(text: str) -> timedelta:
    """A positive duration; plain digits are seconds. Raises ValueError otherwise."""
    text = text.strip().lower()
    if text.isdigit():
        seconds = int(text)
    elif re.fullmatch(r"(?:\d+[smhd])+", text):
        seconds = sum(int(n) * UNITS[unit] for n, unit in DURATION.findall(text))
    else:
        raise ValueError(f"{text!r} is not a duration such as 90, 45s, 30m, 2h or 1h30m")
    if seconds <= 0:
        raise ValueError("the duration must be longer than zero")
    return timedelta(seconds=seconds)


def parse_moment(text: str) -> datetime:
    """An ISO-8601 moment; without an offset it is read in the project's TIME_ZONE."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 date and time") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment
