"""Stock levels in MongoDB. Every change is one conditional update, so stock never goes below
zero and never more is reserved than is on hand, even with concurrent replicas."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.errors import PyMongoError

from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from maintenance_service.parts.domain import CATALOGUE, CataloguePart, Settlement, StockLevel
from maintenance_service.settings import MaintenanceRuntime

log = logging.getLogger(__name__)

STOCK = "stock"
SEED_RETRY_SECONDS = 5
MOVEMENTS = "stock_movements"
INDEXES = {MOVEMENTS: [IndexModel([("job_id", ASCENDING), ("at", ASCENDING)], name="by_job")], STOCK: []}


def _opening(part: CataloguePart) -> dict[str, float]:
    return {"on_hand": part.opening_stock, "reserved": 0}


STOCK_TURN = "stock"


def turn(runtime: MaintenanceRuntime) -> AbstractAsyncContextManager[None]:
    """The turn to write stock rows, taken around a command that reserves or consumes stock.

    Every job's reservations and consumptions update the same few stock rows. Concurrent transactions
    on them abort each other (write conflicts) and retry with backoff, which under load cost seconds per
    request (measured by `make bench`); taking turns within the running service costs milliseconds.
    Replicas still meet as write conflicts, which the transaction's retries resolve.
    """
    return runtime.turns.turn(STOCK_TURN)


async def seed_stock(runtime: MaintenanceRuntime) -> None:
    """Start-up: one stock row per catalogue part; existing stock levels are kept. Retried until the
    database answers (rows are also created on first use, so nothing waits for this)."""
    while True:
        try:
            await _upsert_catalogue(runtime)
            return
        except PyMongoError:
            log.warning("stock seeding failed; retrying in %s s", SEED_RETRY_SECONDS, exc_info=True)
            await asyncio.sleep(SEED_RETRY_SECONDS)


async def _upsert_catalogue(runtime: MaintenanceRuntime) -> None:
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


def _available_at_least(quantity: float) -> dict[str, Any]:
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
            raise Refusal.conflict(
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
            raise Refusal.conflict(f"the reservation of part {part_number} does not cover {quantity:g}")
        await _move(uow, job_id, "consumed", part_number, quantity, at)
    for part_number, quantity in settlement.from_free_stock.items():
        result = await uow.db[STOCK].update_one(
            {"_id": part_number, **_available_at_least(quantity)},
            {"$inc": {"on_hand": -quantity}},
            session=uow.session,
        )
        if result.modified_count != 1:
            raise Refusal.conflict(
                f"the store has less than {quantity:g} {CATALOGUE[part_number].unit} of part {part_number} "
                "available; book the stock receipt first",
                field="parts_used",
            )
        await _move(uow, job_id, "consumed", part_number, quantity, at)
    await release(uow, job_id, settlement.released, at)


async def receive(uow: UnitOfWork, part_number: str, quantity: float, at: datetime) -> StockLevel:
    await _ensure_rows(uow, [part_number])
    row = await uow.db[STOCK].find_one_and_update(
        {"_id": part_number},
        {"$inc": {"on_hand": quantity}},
        session=uow.session,
        return_document=ReturnDocument.AFTER,
    )
    assert row is not None, "the row was ensured above, in this transaction"
    await uow.db[MOVEMENTS].insert_one(
        {"job_id": None, "kind": "received", "part_number": part_number, "quantity": quantity, "at": at},
        session=uow.session,
    )
    return _level(row)


def _level(row: dict[str, Any]) -> StockLevel:
    return StockLevel(on_hand=row["on_hand"], reserved=row["reserved"])


async def stock_levels(runtime: MaintenanceRuntime, part_numbers: list[str]) -> dict[str, StockLevel]:
    """The stock of each part (a part whose row is not created yet has its opening stock)."""
    rows = {doc["_id"]: doc async for doc in runtime.db[STOCK].find({"_id": {"$in": part_numbers}})}
    return {number: _level(rows.get(number) or _opening(CATALOGUE[number])) for number in part_numbers}
