"""What feedback keeps per job: the customer's contact and preference (from job.requested), the
latest record (from job.report_published), the survey, review and close state. All decisions
that need several of these read and write this one document, so concurrent transactions on the
same job conflict and are retried instead of acting on stale state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from compressor_contracts import CloudEvent, parse_event
from compressor_contracts.events.intake import JobRequested
from compressor_kit.outbox import UnitOfWork

JOBS = "jobs"
PARKED = "parked_events"
JOB_INDEXES = {
    JOBS: [
        IndexModel([("review_pending", ASCENDING), ("review_urgent", ASCENDING)], name="review_queue"),
    ],
    PARKED: [IndexModel([("job_id", ASCENDING), ("parked_at", ASCENDING)], name="by_job")],
}


async def park(uow: UnitOfWork, event: CloudEvent, now: datetime) -> None:
    """Keep an event that arrived before its job's job.requested (another queue, another producer);
    it is handled when job.requested arrives. Parking also writes the job's document, so a
    job.requested handled at the same moment conflicts with it and is retried: it cannot miss
    the parked event."""
    await uow.db[JOBS].update_one({"_id": event.subject}, {"$inc": {"parked": 1}}, upsert=True, session=uow.session)
    await uow.db[PARKED].update_one(
        {"_id": event.id},
        {"$setOnInsert": {"job_id": event.subject, "body": event.model_dump_json(), "parked_at": now}},
        upsert=True,
        session=uow.session,
    )


async def take_parked(uow: UnitOfWork, job_id: str) -> list[CloudEvent]:
    cursor = uow.db[PARKED].find({"job_id": job_id}, session=uow.session).sort("parked_at", ASCENDING)
    parked = [parse_event(doc["body"]) async for doc in cursor]
    await uow.db[PARKED].delete_many({"job_id": job_id}, session=uow.session)
    return parked


async def record_request(uow: UnitOfWork, event: CloudEvent[JobRequested], now: datetime) -> dict[str, Any]:
    data = event.data
    details = {
        "job_id": data.job_id,
        "customer": data.customer.model_dump(mode="json"),
        "contact": data.contact.model_dump(mode="json"),
        "site": data.site.model_dump(mode="json"),
        "equipment": data.equipment.model_dump(mode="json"),
        "priority": data.priority.value,
        "fault_description": data.fault_description,
    }
    existing = await uow.db[JOBS].find_one({"_id": data.job_id}, session=uow.session)
    if existing is not None and existing.get("requested"):
        return details  # the job is known already: keep its state
    # New, or only a stub left by parked events: the job starts here.
    initial = {
        "requested": True,
        "correlation_id": event.correlationid,
        "requested_at": now,
        "cancelled": False,
        "survey_status": None,
        "review_urgent": False,
        "reviewed_at": None,
        "review_pending": False,
        "closed_at": None,
    }
    await uow.db[JOBS].update_one(
        {"_id": data.job_id}, {"$set": {**details, **initial}}, upsert=True, session=uow.session
    )
    return details


async def find_job(uow: UnitOfWork, job_id: str) -> dict[str, Any] | None:
    """The job, once its job.requested was handled."""
    return await uow.db[JOBS].find_one({"_id": job_id, "requested": True}, session=uow.session)


def job_context(job: dict[str, Any]) -> dict[str, Any]:
    """The job's details as templates see them."""
    return {key: job.get(key) for key in ("job_id", "customer", "contact", "site", "equipment", "priority")} | {
        "fault_description": job.get("fault_description")
    }
