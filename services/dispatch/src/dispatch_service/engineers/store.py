"""Engineers in MongoDB: ids issued from a counter, the demo engineers seeded idempotently."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from dispatch_service.engineers.domain import (
    SeedEngineer,
    engineer_number,
    format_engineer_id,
)
from dispatch_service.jobs import COUNTERS, ENGINEERS
from dispatch_service.settings import dispatch_settings

log = logging.getLogger(__name__)

SEED_FILE = Path(__file__).parent / "seed" / "engineers.json"
ENGINEER_COUNTER = "engineer_id"


async def next_engineer_id(db: AsyncDatabase) -> str:
    counter = await db[COUNTERS].find_one_and_update(
        {"_id": ENGINEER_COUNTER}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    return format_engineer_id(counter["value"])


def load_seed(path: Path = SEED_FILE) -> list[SeedEngineer]:
    return [SeedEngineer.model_validate(item) for item in json.loads(path.read_text(encoding="utf-8"))]


async def seed_engineers(db: AsyncDatabase, engineers: list[SeedEngineer], now: Any) -> int:
    """Insert the seed engineers that are missing; engineers edited since keep their edits.
    Safe to run concurrently and repeatedly (upsert on the engineer id)."""
    inserted = 0
    for engineer in engineers:
        body = engineer.model_dump(mode="json", exclude={"engineer_id"})
        result = await db[ENGINEERS].update_one(
            {"_id": engineer.engineer_id},
            {"$setOnInsert": {**body, "created_at": now, "updated_at": now}},
            upsert=True,
        )
        inserted += 1 if result.upserted_id is not None else 0
    if engineers:
        # New engineers get ids after the seeded ones.
        highest = max(engineer_number(e.engineer_id) for e in engineers)
        await db[COUNTERS].update_one({"_id": ENGINEER_COUNTER}, {"$max": {"value": highest}}, upsert=True)
    return inserted


async def seed_demo_engineers(runtime: Any) -> None:
    """Background job run once at start-up (retried until the database answers)."""
    if not dispatch_settings(runtime).dispatch_seed_engineers:
        return
    engineers = load_seed()
    while True:
        try:
            inserted = await seed_engineers(runtime.db, engineers, runtime.clock.now())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("seeding engineers failed; retrying")
            await asyncio.sleep(5)
            continue
        log.info("seed engineers: %d inserted, %d already present", inserted, len(engineers) - inserted)
        return
