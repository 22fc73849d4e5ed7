"""Stock levels in MongoDB. Every change is one conditional update, so stock never goes below
zero and never more is reserved than is on hand, even with concurrent replicas."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime
from maintenance_service.parts.domain import CATALOGUE, CataloguePart, Settlement
from maintenance_service.work_orders.domain import Refused, conflict

log = logging.getLogger(__name__)

STOCK = "stock"
SEED_RETRY_SECONDS = 5
MOVEMENTS = "stock_movements"
INDEXES = {MOVEMENTS: [IndexModel([("job_id", ASCENDING), ("at", ASCENDING)], name="by_job")]}


def _opening(part: CataloguePart) -> dict:
    return {"on_hand": part.opening_stock, "reserved": 0}


# Every job's reservations and consumptions update the same few stock rows. Concurrent transactions
# on them abort each other (write conflicts) and retry with backoff, which under load cost seconds per
# request (measured by `make bench`); taking turns within a process costs milliseconds. Replicas still
# meet as write conflicts, which the transaction's retries resolve.
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def stock_turn() -> asyncio.Lock:
    """The turn to write stock rows, one per event loop (a lock belongs to the loop it waits on)."""
    return _turns.setdefault(asyncio.get_running_loop(), asyncio.Lock())


async def seed_stock(runtime: Runtime) -> None:
    """Start-up: one stock row per catalogue part; existing stock levels are kept. Retried until the
    database answers (rows are also created on first use, so nothing waits for this)."""
    while True:
        try:
            await _upsert_catalogue(runtime)
            return
        except PyMongoError:
            log.warning("stock seeding failed; retrying in %s s", SEED_RETRY_SECONDS, exc_info=True)
            await asyncio.sleep(SEED_RETRY_SECONDS)


async def _upsert_catalogue(runtime: Runtime) -> None:
    await runtime.db[STOCK].bulk_write(
        [
            UpdateOne(
                {"_id": part.part_number},
                {"$set": {"description": part.description, "unit": part.unit}, "$setOnInsert": _opening(part)},
                upsert=True,
            )
            for part in CATALOGUE.values()
        ]
    )


async def _ensure_rows(uow: UnitOfWork, part_numbers: Iterable[str]) -> None:
    # A request can come before the start-up seeding finished: create the row the same way.
    for part_number in part_numbers:
        part = CATALOGUE[part_number]
        await uow.db[STOCK].update_one(
            {"_id": part_number},
            {"$setOnInsert": {"description": part.description, "unit": part.unit, **_opening(part)}},
            upsert=True,
            session=uow.session,
        )


async def available(uow: UnitOfWork, part_numbers: Iterable[str]) -> dict[str, float]:
    part_numbers = list(part_numbers)
    await _ensure_rows(uow, part_numbers)
    cursor = uow.db[STOCK].find({"_id": {"$in": part_numbers}}, session=uow.session)
    return {doc["_id"]: doc["on_hand"] - doc["reserved"] async for doc in cursor}


async def _move(uow: UnitOfWork, job_id: str, kind: str, part_number: str, quantity: float, at: datetime) -> None:
    await uow.db[MOVEMENTS].insert_one(
        {"job_id": job_id, "kind": kind, "part_number": part_number, "quantity": quantity, "at": at},
        session=uow.session,
    )


def _available_at_least(quantity: float) -> dict:
    return {"$expr": {"$gte": [{"$subtract": ["$on_hand", "$reserved"]}, quantity]}}


async def reserve(uow: UnitOfWork, job_id: str, parts: dict[str, float], at: datetime) -> None:
    """Reserve every part or none (the caller's transaction aborts on the first shortage)."""
    await _ensure_rows(uow, parts)
    for part_number, quantity in parts.items():
        result = await uow.db[STOCK].update_one(
            {"_id": part_number, **_available_at_least(quantity)},
            {"$inc": {"reserved": quantity}},
            session=uow.session,
        )
        if result.modified_count != 1:
            raise conflict(
                f"part {part_number} ({CATALOGUE[part_number].description}) is out of stock: "
                f"{quantity:g} {CATALOGUE[part_number].unit} needed; the plan waits for parts",
                field="parts",
            )
        await _move(uow, job_id, "reserved", part_number, quantity, at)


async def release(uow: UnitOfWork, job_id: str, parts: dict[str, float], at: datetime) -> None:
    for part_number, quantity in parts.items():
        await uow.db[STOCK].update_one(
            {"_id": part_number, "reserved": {"$gte": quantity}},
            {"$inc": {"reserved": -quantity}},
            session=uow.session,
        )
        await _move(uow, job_id, "released", part_number, quantity, at)


async def consume(uow: UnitOfWork, job_id: str, settlement: Settlement, at: datetime) -> None:
    await _ensure_rows(uow, [*settlement.from_reservation, *settlement.from_free_stock])
    for part_number, quantity in settlement.from_reservation.items():
        result = await uow.db[STOCK].update_one(
            {"_id": part_number, "reserved": {"$gte": quantity}, "on_hand": {"$gte": quantity}},
            {"$inc": {"reserved": -quantity, "on_hand": -quantity}},
            session=uow.session,
        )
        if result.modified_count != 1:
            raise Refused(409, f"the reservation of part {part_number} does not cover {quantity:g}")
        await _move(uow, job_id, "consumed", part_number, quantity, at)
    for part_number, quantity in settlement.from_free_stock.items():
        result = await uow.db[STOCK].update_one(
            {"_id": part_number, **_available_at_least(quantity)},
            {"$inc": {"on_hand": -quantity}},
            session=uow.session,
        )
        if result.modified_count != 1:
            raise conflict(
                f"the store has less than {quantity:g} {CATALOGUE[part_number].unit} of part {part_number} "
                "available; book the stock receipt first",
                field="parts_used",
            )
        await _move(uow, job_id, "consumed", part_number, quantity, at)
    await release(uow, job_id, settlement.released, at)


async def receive(uow: UnitOfWork, part_number: str, quantity: float, at: datetime) -> dict:
    await _ensure_rows(uow, [part_number])
    doc = await uow.db[STOCK].find_one_and_update(
        {"_id": part_number}, {"$inc": {"on_hand": quantity}}, session=uow.session, return_document=True
    )
    await uow.db[MOVEMENTS].insert_one(
        {"job_id": None, "kind": "received", "part_number": part_number, "quantity": quantity, "at": at},
        session=uow.session,
    )
    return doc


async def stock_levels(db: AsyncDatabase, part_numbers: list[str]) -> dict[str, dict]:
    rows = {doc["_id"]: doc async for doc in db[STOCK].find({"_id": {"$in": part_numbers}})}
    levels = {}
    for part_number in part_numbers:
        row = rows.get(part_number) or _opening(CATALOGUE[part_number])
        levels[part_number] = {
            "on_hand": row["on_hand"],
            "reserved": row["reserved"],
            "available": row["on_hand"] - row["reserved"],
        }
    return levels
