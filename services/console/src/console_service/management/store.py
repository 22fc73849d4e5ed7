"""Where management alerts live (`management_alerts`, one per event that raised one), and the change
stream the dashboard's open pages follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo import DESCENDING, IndexModel

from compressor_contracts import CloudEvent
from compressor_kit.outbox import UnitOfWork
from console_service.management import domain
from console_service.settings import ConsoleRuntime

ALERTS = "management_alerts"
SHOWN = 30

# For the composition root (app.py's `indexes`), which this package does not edit: newest first.
INDEXES = {ALERTS: [IndexModel([("at", DESCENDING), ("_id", DESCENDING)], name="newest_first")]}


async def record_alert(uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    """The alert `event` raises, if any, in the consumer's unit of work (once per event: the inbox
    takes each event once, and the event's id is the alert's, so a replay writes nothing new)."""
    alert = domain.alert_of(event)
    if alert is None:
        return
    await uow.db[ALERTS].update_one({"_id": alert["_id"]}, {"$setOnInsert": alert}, upsert=True, session=uow.session)


async def latest(runtime: ConsoleRuntime, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The newest alerts first."""
    cursor = runtime.db[ALERTS].find({}).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
    return [alert async for alert in cursor]


async def new_alerts(runtime: ConsoleRuntime, quiet_seconds: float) -> AsyncIterator[dict[str, Any] | None]:
    """Every alert recorded from now on (by any replica): a MongoDB change stream on the alerts. Yields
    None first, once the stream is open, and again after each `quiet_seconds` without a new alert."""
    pipeline = [{"$match": {"operationType": {"$in": ["insert", "replace"]}}}]
    wait_ms = max(1, int(quiet_seconds * 1000))
    async with await runtime.db[ALERTS].watch(
        pipeline, full_document="updateLookup", max_await_time_ms=wait_ms
    ) as stream:
        yield None
        while stream.alive:
            change = await stream.try_next()
            if change is None:
                yield None
            elif change.get("fullDocument") is not None:
                yield change["fullDocument"]
