"""MongoDB access for inspections. Every write takes the unit of work's session, so it commits with
the events it causes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from compressor_kit.outbox import UnitOfWork
from quality_service.inspections.domain import InspectionStatus

INSPECTIONS = "inspections"
CANCELLED_JOBS = "cancelled_jobs"

INDEXES = {
    INSPECTIONS: [
        # The domain's "exactly one": one inspection per job and work round, whatever replica or redelivery.
        IndexModel([("job_id", ASCENDING), ("round", ASCENDING)], unique=True, name="one_per_job_round"),
        IndexModel([("status", ASCENDING), ("opened_at", ASCENDING)], name="work_queue"),
    ],
}


def new_inspection_id() -> str:
    return f"INS-{uuid.uuid4().hex[:16].upper()}"


async def job_cancelled(uow: UnitOfWork, job_id: str) -> bool:
    return await uow.db[CANCELLED_JOBS].find_one({"_id": job_id}, {"_id": 1}, session=uow.session) is not None


async def last_failed(uow: UnitOfWork, job_id: str, before_round: int) -> dict[str, Any] | None:
    return await uow.db[INSPECTIONS].find_one(
        {"job_id": job_id, "status": InspectionStatus.FAILED, "round": {"$lt": before_round}},
        {"results": 1, "round": 1},
        sort=[("round", DESCENDING)],
        session=uow.session,
    )


async def open_once(uow: UnitOfWork, fields: dict[str, Any]) -> bool:
    """Insert the inspection unless this job and round already have one; True when inserted.
    Concurrent openers conflict on the unique index inside their transactions; the retry sees the winner."""
    result = await uow.db[INSPECTIONS].update_one(
        {"job_id": fields["job_id"], "round": fields["round"]},
        {"$setOnInsert": {"_id": new_inspection_id(), **fields}},
        upsert=True,
        session=uow.session,
    )
    return result.upserted_id is not None


async def cancel_job(uow: UnitOfWork, job_id: str, reason: str, at: datetime) -> int:
    """Remember the cancellation (a late work round must not open an inspection) and close what is open."""
    await uow.db[CANCELLED_JOBS].update_one(
        {"_id": job_id}, {"$setOnInsert": {"reason": reason, "cancelled_at": at}}, upsert=True, session=uow.session
    )
    result = await uow.db[INSPECTIONS].update_many(
        {"job_id": job_id, "status": InspectionStatus.OPEN},
        {"$set": {"status": InspectionStatus.CANCELLED, "cancelled_at": at, "cancel_reason": reason}},
        session=uow.session,
    )
    return result.modified_count


async def get(uow: UnitOfWork, inspection_id: str) -> dict[str, Any] | None:
    return await uow.db[INSPECTIONS].find_one({"_id": inspection_id}, session=uow.session)


async def decide(uow: UnitOfWork, inspection_id: str, decision: dict[str, Any]) -> dict[str, Any] | None:
    """Record the decision if the inspection is still open; None when someone decided it first."""
    return await uow.db[INSPECTIONS].find_one_and_update(
        {"_id": inspection_id, "status": InspectionStatus.OPEN},
        {"$set": decision},
        return_document=ReturnDocument.AFTER,
        session=uow.session,
    )


async def failed_rounds(uow: UnitOfWork, job_id: str) -> int:
    return await uow.db[INSPECTIONS].count_documents(
        {"job_id": job_id, "status": InspectionStatus.FAILED}, session=uow.session
    )
