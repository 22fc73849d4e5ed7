"""MongoDB access for silences: which devices have been quiet since before a cutoff, and which of their
silences were already reported. The only module that names the `silences` collection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from compressor_kit.mongo import IndexSpec
from compressor_kit.outbox import UnitOfWork
from telemetry_service.devices.store import DEVICES
from telemetry_service.readings.store import DEVICE_STATE
from telemetry_service.settings import TelemetryRuntime

SILENCES = "silences"
INDEXES: IndexSpec = {SILENCES: []}


def _aware(moment: datetime | None) -> datetime | None:
    # MongoDB hands back naive UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def quiet_since(runtime: TelemetryRuntime, cutoff: datetime) -> list[dict[str, Any]]:
    """Devices registered before `cutoff` whose last reading (if any) is older than it: device_id,
    equipment_id, registered_at and last_reading_at (None when they never sent one)."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"registered_at": {"$lt": cutoff}}},
        {"$lookup": {"from": DEVICE_STATE, "localField": "_id", "foreignField": "_id", "as": "state"}},
        {
            "$project": {
                "equipment_id": 1,
                "registered_at": 1,
                "last_reading_at": {"$first": "$state.last.read_at"},
            }
        },
        {"$match": {"$or": [{"last_reading_at": None}, {"last_reading_at": {"$lt": cutoff}}]}},
    ]
    return [
        {
            "device_id": doc["_id"],
            "equipment_id": doc["equipment_id"],
            "registered_at": _aware(doc["registered_at"]),
            "last_reading_at": _aware(doc.get("last_reading_at")),
        }
        async for doc in await runtime.db[DEVICES].aggregate(pipeline)
    ]


async def reported(runtime: TelemetryRuntime, keys: list[str]) -> set[str]:
    """Which of these silences were reported before."""
    return {doc["_id"] async for doc in runtime.db[SILENCES].find({"_id": {"$in": keys}}, {"_id": 1})}


async def mark_reported(uow: UnitOfWork, key: str, now: datetime) -> bool:
    """Claim the silence; True the first time (its event is then published in this transaction)."""
    result = await uow.db[SILENCES].update_one(
        {"_id": key}, {"$setOnInsert": {"reported_at": now}}, upsert=True, session=uow.session
    )
    return result.upserted_id is not None
