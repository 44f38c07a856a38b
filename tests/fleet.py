"""The demo site as a fleet test serves it: each response says which worker process answered."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from demo.asgi import application as demo_asgi
from demo.wsgi import application as demo_wsgi

SERVED_BY = "X-Served-By"


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, (SERVED_BY, str(os.getpid()))], exc_info)

    return demo_wsgi(environ, start)  # type: ignore[no-any-return]


async def asgi_application(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    async def send_with_pid(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {
                **message,
                "headers": [
                    *message.get("headers", []),
                    (b"x-served-by", str(os.getpid()).encode()),
                ],
            }
        await send(message)

    await demo_asgi(scope, receive, send_with_pid)
