"""MongoDB access for inspections. Every write takes the unit of work's session, so it commits with
the events it causes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from compressor_kit.outbox import UnitOfWork
from quality_service.inspections.domain import Inspection, InspectionStatus
from quality_service.settings import QualityRuntime

INSPECTIONS = "inspections"
CANCELLED_JOBS = "cancelled_jobs"

INDEXES = {
    INSPECTIONS: [
        # The domain's "exactly one": one inspection per job and work round, whatever replica or redelivery.
        IndexModel([("job_id", ASCENDING), ("round", ASCENDING)], unique=True, name="one_per_job_round"),
        IndexModel([("status", ASCENDING), ("opened_at", ASCENDING)], name="work_queue"),
    ],
    CANCELLED_JOBS: [],
}
DECISION = ("status", "results", "inspector", "notes", "decided_at", "escalated")


def _inspection(doc: Mapping[str, Any]) -> Inspection:
    return Inspection.model_validate({**doc, "inspection_id": doc["_id"]})


def _fields(inspection: Inspection, names: set[str] | None = None) -> dict[str, Any]:
    fields = inspection.model_dump(mode="json", include=names, exclude={"inspection_id"})
    # Times stay dates in MongoDB (the work queue sorts on them).
    for name in ("opened_at", "decided_at", "cancelled_at"):
        if name in fields:
            fields[name] = getattr(inspection, name)
    return fields


async def find(runtime: QualityRuntime, inspection_id: str) -> Inspection | None:
    doc = await runtime.db[INSPECTIONS].find_one({"_id": inspection_id})
    return _inspection(doc) if doc else None


async def find_page(
    runtime: QualityRuntime, *, status: InspectionStatus | None, job_id: str | None, limit: int, offset: int
) -> tuple[list[Inspection], int]:
    """Inspections oldest first (in one state, of one job, if given), one page, and how many in all."""
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status
    if job_id is not None:
        query["job_id"] = job_id
    collection = runtime.db[INSPECTIONS]
    cursor = collection.find(query).sort([("opened_at", 1), ("_id", 1)]).skip(offset).limit(limit)
    return [_inspection(doc) async for doc in cursor], await collection.count_documents(query)


async def job_cancelled(uow: UnitOfWork, job_id: str) -> bool:
    return await uow.db[CANCELLED_JOBS].find_one({"_id": job_id}, {"_id": 1}, session=uow.session) is not None


async def last_failed(uow: UnitOfWork, job_id: str, before_round: int) -> Inspection | None:
    doc = await uow.db[INSPECTIONS].find_one(
        {"job_id": job_id, "status": InspectionStatus.FAILED, "round": {"$lt": before_round}},
        sort=[("round", DESCENDING)],
        session=uow.session,
    )
    return _inspection(doc) if doc else None


async def open_once(uow: UnitOfWork, inspection: Inspection) -> bool:
    """Insert the inspection unless its job and round already have one; True when inserted.
    Concurrent openers conflict on the unique index inside their transactions; the retry sees the winner."""
    result = await uow.db[INSPECTIONS].update_one(
        {"job_id": inspection.job_id, "round": inspection.round},
        {"$setOnInsert": {"_id": inspection.inspection_id, **_fields(inspection)}},
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


async def get(uow: UnitOfWork, inspection_id: str) -> Inspection | None:
    doc = await uow.db[INSPECTIONS].find_one({"_id": inspection_id}, session=uow.session)
    return _inspection(doc) if doc else None


async def save_decision(uow: UnitOfWork, decided: Inspection) -> bool:
    """Record the decision if the inspection is still open; False when someone decided it first."""
    result = await uow.db[INSPECTIONS].update_one(
        {"_id": decided.inspection_id, "status": InspectionStatus.OPEN},
        {"$set": _fields(decided, set(DECISION))},
        session=uow.session,
    )
    return result.modified_count == 1


async def failed_rounds(uow: UnitOfWork, job_id: str) -> int:
    return await uow.db[INSPECTIONS].count_documents(
        {"job_id": job_id, "status": InspectionStatus.FAILED}, session=uow.session
    )
