"""Stock never goes below zero: concurrent reservations by different jobs for the last units."""

import asyncio
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from compressor_kit.outbox import Outbox
from compressor_kit.refusals import Refusal
from maintenance_service.parts import store as stock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PART = "2901-1460-00"  # unloader valve kit, opening stock 2


async def test_five_jobs_racing_for_two_units_get_two_reservations(test_settings, test_db):
    client = AsyncMongoClient(test_settings.mongodb_url.get_secret_value(), tz_aware=True)
    try:
        db = client[test_settings.mongodb_database]
        outbox = Outbox(client, db, "maintenance")

        async def reserve(job: str) -> bool:
            try:
                await outbox.transact(lambda uow: stock.reserve(uow, job, {PART: 1}, NOW))
            except Refusal:
                return False
            return True

        results = await asyncio.gather(*(reserve(f"JOB-{n}") for n in range(5)))
    finally:
        await client.close()
    assert sorted(results) == [False, False, False, True, True]
    row = test_db.stock.find_one({"_id": PART})
    assert (row["on_hand"], row["reserved"]) == (2, 2)
    assert test_db.stock_movements.count_documents({"kind": "reserved"}) == 2
