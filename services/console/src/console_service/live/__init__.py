"""Live pages: a collection followed as Server-Sent Events.

`ready` once the collection is being followed, then one message for each document written; a comment
keeps the connection open while nothing changes, and the stream ends once the console drains or the
person's session has ended (sign-out, expiry), so a page left open does not go on receiving.

    return live.follow(request, runtime, store.JOBS, row_message)   # row_message(doc) -> message
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.response import ServerSentEvent, ServerSentEventMessage

from console_service.live import store
from console_service.sessions.guard import current_session
from console_service.settings import ConsoleRuntime


def follow(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    collection: str,
    message: Callable[[dict[str, Any]], ServerSentEventMessage],
    only: dict[str, Any] | None = None,
    catch_up: Callable[[], Awaitable[dict[str, Any] | None]] | None = None,
) -> ServerSentEvent:
    """`catch_up`: the document as it is once the stream is open, sent right after `ready`: what was written
    between the page's rendering and the stream's start is not missed (a page following one document)."""

    async def messages() -> AsyncIterator[ServerSentEventMessage]:
        ready = False
        async for doc in store.changes(runtime, collection, runtime.settings.console_live_keepalive_seconds, only):
            if doc is not None:
                yield message(doc)
            elif not ready:
                ready = True
                yield ServerSentEventMessage(data="{}", event="ready")
                current = await catch_up() if catch_up else None
                if current is not None:
                    yield message(current)
            elif runtime.draining or await current_session(request) is None:
                return
            else:
                yield ServerSentEventMessage(comment="still here")

    return ServerSentEvent(messages(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
