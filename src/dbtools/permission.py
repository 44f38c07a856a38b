"""writes_allowed(): the one way for code to write on purpose while a mode is on."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction

F = TypeVar("F", bound=Callable[..., Any])


class _Grant:
    """One block's permission: revoked when the block ends, for every context holding it."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = True


# The permission in force in this thread or task, and what each open block replaced.
_grant: contextvars.ContextVar[_Grant | None] = contextvars.ContextVar(
    "dbtools_grant", default=None
)
_replaced: contextvars.ContextVar[tuple[tuple[_Grant | None, _Grant], ...]] = (
    contextvars.ContextVar("dbtools_replaced", default=())
)


def allowed() -> bool:
    """Whether the current thread or task may write while a mode is on."""
    grant = _grant.get()
    return grant is not None and grant.active


class writes_allowed:  # noqa: N801 - used like a function, as contextlib's helpers are
    """Let the current thread or task write while a mode is on.

    Use it as ``with dbtools.writes_allowed():`` or as a decorator (sync or async) around
    the migration script or maintenance command that must write. Other threads and tasks
    stay blocked. One instance may be shared by any number of threads and tasks: what each
    block grants is its own, and ends with it.

    A task or a context copied inside the block (``asyncio.create_task``,
    ``contextvars.copy_context()``, asgiref's ``sync_to_async``) may write while the block
    is open, and no longer once it has ended. A thread started inside the block does not
    inherit it, and a generator writes with the permission of whoever iterates it.
    """

    def __enter__(self) -> None:
        grant = _Grant()
        _replaced.set((*_replaced.get(), (_grant.get(), grant)))
        _grant.set(grant)

    def __exit__(self, *exc_info: object) -> None:
        opened = _replaced.get()
        if not opened:
            return
        previous, grant = opened[-1]
        grant.active = False
        _replaced.set(opened[:-1])
        _grant.set(previous)

    def __call__(self, function: F) -> F:
        if iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_inner(*args: Any, **kwargs: Any) -> Any:
                with writes_allowed():
                    return await function(*args, **kwargs)

            return async_inner  # type: ignore[return-value]

        @functools.wraps(function)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with writes_allowed():
                return function(*args, **kwargs)

        return inner  # type: ignore[return-value]
