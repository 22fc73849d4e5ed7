"""Live pages: a collection followed as Server-Sent Events.

`ready` once the collection is being followed, then one message for each document written; a comment
keeps the connection open while nothing changes, and the stream ends once the console drains or the
person's session has ended (sign-out, expiry), so a page left open does not go on receiving.

    return live.follow(request, runtime, store.JOBS, row_message)   # row_message(doc) -> message
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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
) -> ServerSentEvent:
    async def messages() -> AsyncIterator[ServerSentEventMessage]:
        ready = False
        async for doc in store.changes(
            runtime, collection, runtime.settings.console_live_keepalive_seconds, only
        ):
            if doc is not None:
                yield message(doc)
            elif not ready:
                ready = True
                yield ServerSentEventMessage(data="{}", event="ready")
            elif runtime.draining or await current_session(request) is None:
                return
            else:
                yield ServerSentEventMessage(comment="still here")

    return ServerSentEvent(messages(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
