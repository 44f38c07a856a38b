"""The database guard: while a mode is on, no write reaches a guarded database."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_request_path: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dbtools_request_path", default=None
)
_refused: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "dbtools_refused", default=None
)


@contextmanager
def request_context(path: str) -> Iterator[None]:
    """Mark the code inside as serving ``path``, for logs and for the response phase."""
    path_token = _request_path.set(path)
    refused_token = _refused.set([])
    try:
        yield
    finally:
        _refused.reset(refused_token)
        _request_path.reset(path_token)


def note_refusal() -> None:
    refused = _refused.get()
    if refused is not None:
        refused.append(True)


def refused_in_request() -> bool:
    return bool(_refused.get())
