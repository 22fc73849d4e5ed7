"""MongoDB access for Modbus polling: each device's poll round claimed by one replica, and how its
last polls went (what an admin checks when a controller stops answering)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from telemetry_service.settings import TelemetryRuntime

MODBUS_POLLS = "modbus_polls"

INDEXES = {
    MODBUS_POLLS: [IndexModel([("failures_in_a_row", DESCENDING), ("_id", ASCENDING)], name="failing_first")],
}


async def claim_round(runtime: TelemetryRuntime, device_id: str, round_number: int) -> bool:
    """True for the one replica that polls the device in this round; the others leave it alone (a
    second poll would only read the same values again)."""
    db = runtime.db
    try:
        result = await db[MODBUS_POLLS].update_one(
            {"_id": device_id, "round": {"$lt": round_number}}, {"$set": {"round": round_number}}, upsert=True
        )
    except DuplicateKeyError:
        return False  # the document exists with this round or a later one: claimed elsewhere
    return result.modified_count == 1 or result.upserted_id is not None


async def record_answer(runtime: TelemetryRuntime, device_id: str, *, at: datetime, family: str) -> None:
    db = runtime.db
    await db[MODBUS_POLLS].update_one(
        {"_id": device_id},
        {
            "$set": {"family": family, "polled_at": at, "answered_at": at, "failures_in_a_row": 0, "error": None},
            "$setOnInsert": {"failures": 0},
        },
        upsert=True,
    )


async def record_failure(runtime: TelemetryRuntime, device_id: str, *, at: datetime, family: str, error: str) -> None:
    db = runtime.db
    await db[MODBUS_POLLS].update_one(
        {"_id": device_id},
        {
            "$set": {"family": family, "polled_at": at, "error": error[:300]},
            "$inc": {"failures_in_a_row": 1, "failures": 1},
        },
        upsert=True,
    )


async def polls(
    runtime: TelemetryRuntime, *, failing: bool, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Each polled device's last poll, the longest failing first."""
    db = runtime.db
    query: dict[str, Any] = {"polled_at": {"$exists": True}}
    if failing:
        query["failures_in_a_row"] = {"$gt": 0}
    cursor = (
        db[MODBUS_POLLS]
        .find(query)
        .sort([("failures_in_a_row", DESCENDING), ("_id", ASCENDING)])
        .skip(offset)
        .limit(limit)
    )
    return [doc async for doc in cursor], await db[MODBUS_POLLS].count_documents(query)
