"""The change streams live pages follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from console_service.settings import ConsoleRuntime


async def changes(
    runtime: ConsoleRuntime, collection: str, quiet_seconds: float, only: dict[str, Any] | None = None
) -> AsyncIterator[dict[str, Any] | None]:
    """Every document of `collection` written from now on (inserted, updated or replaced), as it is
    after the write: a MongoDB change stream (the replica set gives one), so every console replica sees
    the writes of every other. Yields None first, once the stream is open (nothing written after that
    is missed), and again after each `quiet_seconds` without a change. `only`: a further condition on the
    change (e.g. `{"documentKey._id": job_id}`), so a page following one document hears of no other."""
    pipeline = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}, **(only or {})}}]
    wait_ms = max(1, int(quiet_seconds * 1000))
    async with await runtime.db[collection].watch(
        pipeline, full_document="updateLookup", max_await_time_ms=wait_ms
    ) as stream:
        yield None
        while stream.alive:
            change = await stream.try_next()
            if change is None:
                yield None
            elif change.get("fullDocument") is not None:
                yield change["fullDocument"]
