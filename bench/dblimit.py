"""The database-limit baseline: consumer-shaped MongoDB transactions from one Python process, nothing else.

Each transaction is what consuming one event costs a service at the least: the inbox upsert that claims
the event, one update of the state it changes, and one outbox row (the size of an event), committed
together, with a few of them in flight at once. Consumed events per second of the whole system,
divided by this, says how close the services come to what MongoDB itself allows on this machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

# Jobs each coroutine writes state to in turn: like a consumer (one job's events one at a time,
# compressor_kit.turns), two coroutines never write the same document, so there are no write conflicts.
JOBS_PER_COROUTINE = 20


async def database_limit(
    mongodb_url: str,
    database: str,
    *,
    transactions: int = 1500,
    in_flight: tuple[int, ...] = (4, 8, 16),
    event_bytes: int = 1500,
) -> dict[str, Any]:
    """Transactions per second at each number in flight (`transactions` each), in `database`, dropped
    after; the limit is the best of them."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    try:
        db = client[database]
        for name in ("inbox", "jobs", "outbox"):  # created up front: not inside the first transactions
            await db.create_collection(name)
        by_in_flight = {n: await _run(client, database, n, transactions, event_bytes) for n in in_flight}
    finally:
        await client.drop_database(database)
        await client.close()
    return {
        "transaction": "inbox upsert + state update + outbox insert, committed",
        "transactions_per_in_flight": transactions,
        "transactions_per_second_by_in_flight": {str(n): tps for n, tps in by_in_flight.items()},
        "transactions_per_second": max(by_in_flight.values()),
    }


async def _run(
    client: AsyncMongoClient[dict[str, Any]], database: str, in_flight: int, transactions: int, event_bytes: int
) -> float:
    db = client[database]
    body = "x" * event_bytes
    todo = iter(range(transactions))

    async def consume_one(worker: int, n: int) -> None:
        event_id = uuid.uuid4().hex
        job = f"job-{worker}-{n % JOBS_PER_COROUTINE}"

        async def work(session: AsyncClientSession) -> None:
            now = datetime.now(UTC)
            await db.inbox.update_one(
                {"_id": f"bench|source|{event_id}"},
                {"$setOnInsert": {"type": "bench.event", "subject": job, "handled_at": now}},
                upsert=True,
                session=session,
            )
            await db.jobs.update_one(
                {"_id": job}, {"$set": {"status": f"step-{n}", "updated_at": now}}, upsert=True, session=session
            )
            await db.outbox.insert_one(
                {"_id": uuid.uuid4().hex, "routing_key": "bench.event", "body": body, "status": "pending"},
                session=session,
            )

        async with client.start_session() as session:
            await session.with_transaction(work)

    async def worker(index: int) -> None:
        for n in todo:
            await consume_one(index, n)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(in_flight)))
    return transactions / (time.perf_counter() - started)
