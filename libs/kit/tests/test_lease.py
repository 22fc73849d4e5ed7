"""A lease in the real MongoDB: one holder at a time, taken over once it runs out or is released."""

from __future__ import annotations

import asyncio

from pymongo import AsyncMongoClient

from compressor_kit.lease import Lease


async def test_one_holder_at_a_time_and_a_takeover_once_released_or_run_out(test_settings):
    async with AsyncMongoClient(test_settings.mongodb_url.get_secret_value()) as client:
        leases = client[test_settings.mongodb_database]["leases"]
        try:
            first, second = Lease(leases, "intake", seconds=1.5), Lease(leases, "intake", seconds=1.5)
            assert await first.hold() and first.held
            assert not await second.hold() and not second.held
            assert await first.hold()  # renewed
            assert (await leases.find_one({"_id": "intake"}))["generation"] == 1

            await first.release()
            assert not first.held
            assert await second.hold()  # at once, not after the lease's length
            assert not await first.hold()
            assert (await leases.find_one({"_id": "intake"}))["generation"] == 2

            await asyncio.sleep(1.7)  # the holder stopped renewing: the lease runs out by the server's clock
            assert not second.held
            assert await first.hold()
            assert not await second.hold()
            assert (await leases.find_one({"_id": "intake"}))["generation"] == 3

            other = Lease(leases, "another", seconds=1.5)
            assert await other.hold()  # leases by name are independent
        finally:
            await client.drop_database(test_settings.mongodb_database)
