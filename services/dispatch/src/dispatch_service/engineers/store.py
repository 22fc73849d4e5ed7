"""Engineers in MongoDB (`engineers`, _id = engineer id): ids issued from a counter, the demo
engineers seeded idempotently, and the profiles matching works on."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from compressor_contracts import CompressorType
from compressor_kit.mongo import IndexSpec
from compressor_kit.outbox import UnitOfWork
from compressor_kit.pagination import Page
from dispatch_service.engineers.domain import (
    EngineerData,
    EngineerProfile,
    EngineerRecord,
    engineer_number,
    format_engineer_id,
)
from dispatch_service.settings import DispatchRuntime

log = logging.getLogger(__name__)

ENGINEERS = "engineers"
COUNTERS = "counters"
INDEXES: IndexSpec = {
    ENGINEERS: [IndexModel([("regions", ASCENDING), ("active", ASCENDING)], name="by_region")],
    COUNTERS: [],
}

SEED_FILE = Path(__file__).parent / "seed" / "engineers.json"
ENGINEER_COUNTER = "engineer_id"
BOOKKEEPING = ("_id", "created_at", "updated_at")


def _record(doc: Mapping[str, Any]) -> EngineerRecord:
    return EngineerRecord.model_validate(
        {"engineer_id": doc["_id"], **{k: v for k, v in doc.items() if k not in BOOKKEEPING}}
    )


async def _next_engineer_id(runtime: DispatchRuntime) -> str:
    counter = await runtime.db[COUNTERS].find_one_and_update(
        {"_id": ENGINEER_COUNTER}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert counter is not None  # an upsert returning the document after it always finds one
    return format_engineer_id(counter["value"])


async def create(runtime: DispatchRuntime, data: EngineerData, now: datetime) -> EngineerRecord:
    """Register an engineer under the next free id."""
    engineer_id = await _next_engineer_id(runtime)
    while await runtime.db[ENGINEERS].find_one({"_id": engineer_id}, {"_id": 1}) is not None:
        engineer_id = await _next_engineer_id(runtime)  # skip ids taken by seed data
    doc = {"_id": engineer_id, **data.model_dump(mode="json"), "created_at": now, "updated_at": now}
    await runtime.db[ENGINEERS].insert_one(doc)
    return _record(doc)


@dataclass(frozen=True)
class EngineerFilter:
    region: str | None = None
    compressor_type: CompressorType | None = None
    brand: str | None = None
    active: bool | None = None


async def page(runtime: DispatchRuntime, where: EngineerFilter, limit: int, offset: int) -> Page[EngineerRecord]:
    query: dict[str, Any] = {}
    if where.region:
        query["regions"] = where.region
    if where.compressor_type:
        query["skills.compressor_types"] = where.compressor_type.value
    if where.brand:
        query["skills.brands"] = where.brand
    if where.active is not None:
        query["active"] = where.active
    total = await runtime.db[ENGINEERS].count_documents(query)
    docs = await runtime.db[ENGINEERS].find(query).sort("_id", 1).skip(offset).limit(limit).to_list()
    return Page(items=[_record(d) for d in docs], total=total, limit=limit, offset=offset)


async def find(runtime: DispatchRuntime, engineer_id: str) -> EngineerRecord | None:
    doc = await runtime.db[ENGINEERS].find_one({"_id": engineer_id})
    return None if doc is None else _record(doc)


async def update(
    runtime: DispatchRuntime, engineer_id: str, changes: Mapping[str, object], now: datetime
) -> EngineerRecord | None:
    """Set the fields given (JSON values); None when there is no such engineer."""
    doc = await runtime.db[ENGINEERS].find_one_and_update(
        {"_id": engineer_id}, {"$set": {**changes, "updated_at": now}}, return_document=ReturnDocument.AFTER
    )
    return None if doc is None else _record(doc)


async def profile(uow: UnitOfWork, engineer_id: str) -> EngineerProfile | None:
    doc = await uow.db[ENGINEERS].find_one({"_id": engineer_id}, session=uow.session)
    return None if doc is None else EngineerProfile.of(_record(doc))


async def profiles_in(uow: UnitOfWork, region: str) -> list[EngineerProfile]:
    """Every engineer covering `region`."""
    cursor = uow.db[ENGINEERS].find({"regions": region}, session=uow.session).sort("_id", 1)
    return [EngineerProfile.of(_record(doc)) async for doc in cursor]


async def profiles_outside(uow: UnitOfWork, region: str, limit: int) -> list[EngineerProfile]:
    """A few engineers not covering `region` (so that a reason can say why they were not chosen)."""
    cursor = uow.db[ENGINEERS].find({"regions": {"$ne": region}}, session=uow.session).sort("_id", 1).limit(limit)
    return [EngineerProfile.of(_record(doc)) async for doc in cursor]


def load_seed(path: Path = SEED_FILE) -> list[EngineerRecord]:
    return [EngineerRecord.model_validate(item) for item in json.loads(path.read_text(encoding="utf-8"))]


async def seed_engineers(runtime: DispatchRuntime, engineers: list[EngineerRecord], now: datetime) -> int:
    """Insert the seed engineers that are missing; engineers edited since keep their edits.
    Safe to run concurrently and repeatedly (upsert on the engineer id)."""
    inserted = 0
    for engineer in engineers:
        body = engineer.model_dump(mode="json", exclude={"engineer_id"})
        result = await runtime.db[ENGINEERS].update_one(
            {"_id": engineer.engineer_id},
            {"$setOnInsert": {**body, "created_at": now, "updated_at": now}},
            upsert=True,
        )
        inserted += 1 if result.upserted_id is not None else 0
    if engineers:
        # New engineers get ids after the seeded ones.
        highest = max(engineer_number(e.engineer_id) for e in engineers)
        await runtime.db[COUNTERS].update_one({"_id": ENGINEER_COUNTER}, {"$max": {"value": highest}}, upsert=True)
    return inserted


async def seed_demo_engineers(runtime: DispatchRuntime) -> None:
    """Background job run once at start-up (retried until the database answers)."""
    if not runtime.settings.dispatch_seed_engineers:
        return
    engineers = load_seed()
    while True:
        try:
            inserted = await seed_engineers(runtime, engineers, runtime.clock.now())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("seeding engineers failed; retrying")
            await asyncio.sleep(5)
            continue
        log.info("seed engineers: %d inserted, %d already present", inserted, len(engineers) - inserted)
        return
