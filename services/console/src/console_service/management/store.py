"""Where management alerts live (`management_alerts`, one per event that raised one); the dashboard's
open pages follow them through console_service.live."""

from __future__ import annotations

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
