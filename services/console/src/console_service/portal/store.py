"""Where the portal's read model lives: one document per job as its customer may see it (`portal_jobs`),
written by the console's job consumer in the same unit of work as the board's row."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from compressor_kit.outbox import UnitOfWork
from console_service.settings import ConsoleRuntime

PORTAL_JOBS = "portal_jobs"
JOBS_LIMIT = 300

INDEXES = {
    PORTAL_JOBS: [
        IndexModel([("customer_id", ASCENDING), ("updated_at", DESCENDING)], name="by_customer"),
    ]
}


async def job_in(uow: UnitOfWork, job_id: str) -> dict[str, Any] | None:
    return await uow.db[PORTAL_JOBS].find_one({"_id": job_id}, session=uow.session)


async def save_job(uow: UnitOfWork, job: dict[str, Any]) -> None:
    await uow.db[PORTAL_JOBS].replace_one({"_id": job["_id"]}, job, upsert=True, session=uow.session)


async def job_of(runtime: ConsoleRuntime, job_id: str) -> dict[str, Any] | None:
    return await runtime.db[PORTAL_JOBS].find_one({"_id": job_id})


async def jobs_of_customer(runtime: ConsoleRuntime, customer_id: str) -> list[dict[str, Any]]:
    """The customer's jobs, most recently changed first (at most JOBS_LIMIT)."""
    cursor = runtime.db[PORTAL_JOBS].find({"customer_id": customer_id}).sort([("updated_at", DESCENDING)])
    return [job async for job in cursor.limit(JOBS_LIMIT)]
