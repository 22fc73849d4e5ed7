"""What feedback keeps per job, in MongoDB: one document per job (see `jobs.domain.Job`), and the
events parked until their job is known. All decisions that need several of a job's facts read and
write this one document, so concurrent transactions on the same job conflict and are retried
instead of acting on stale state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from compressor_contracts import CloudEvent, parse_event
from compressor_contracts.events.feedback import SurveyStatus
from compressor_contracts.events.intake import JobRequested
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.domain import Job, JobRecord, ReviewMemo
from feedback_service.review.domain import CLOSING_SURVEY_STATES
from feedback_service.settings import FeedbackRuntime
from feedback_service.surveys.domain import OPEN

JOBS = "jobs"
PARKED = "parked_events"
KEEP_PARKED = timedelta(days=90)
"""An event parked this long never met its job's job.requested (lost, or dead-lettered and not replayed
within the 90 days): MongoDB deletes it, so parked events cannot pile up."""
JOB_INDEXES = {
    JOBS: [
        IndexModel([("review_pending", ASCENDING), ("review_urgent", ASCENDING)], name="review_queue"),
    ],
    PARKED: [
        IndexModel([("job_id", ASCENDING), ("parked_at", ASCENDING)], name="by_job"),
        IndexModel(
            [("parked_at", ASCENDING)], name="expire_parked", expireAfterSeconds=int(KEEP_PARKED.total_seconds())
        ),
    ],
}


def _job(doc: dict[str, Any]) -> Job:
    return Job.model_validate({**doc, "job_id": doc["_id"]})


async def park(uow: UnitOfWork, event: CloudEvent[Any], now: datetime) -> None:
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


async def take_parked(uow: UnitOfWork, job_id: str) -> list[CloudEvent[Any]]:
    cursor = uow.db[PARKED].find({"job_id": job_id}, session=uow.session).sort("parked_at", ASCENDING)
    parked = [parse_event(doc["body"]) async for doc in cursor]
    await uow.db[PARKED].delete_many({"job_id": job_id}, session=uow.session)
    return parked


async def record_request(uow: UnitOfWork, event: CloudEvent[JobRequested], now: datetime) -> Job:
    """The job starts here (a job known already keeps its state); the job as it stands."""
    data = event.data
    existing = await uow.db[JOBS].find_one({"_id": data.job_id}, session=uow.session)
    if existing is not None and existing.get("requested"):
        return _job(existing)
    # New, or only a stub left by parked events.
    details = {
        "job_id": data.job_id,
        "customer": data.customer.model_dump(mode="json"),
        "contact": data.contact.model_dump(mode="json"),
        "site": data.site.model_dump(mode="json"),
        "equipment": data.equipment.model_dump(mode="json"),
        "priority": data.priority.value,
        "fault_description": data.fault_description,
    }
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
    stored = await uow.db[JOBS].find_one_and_update(
        {"_id": data.job_id},
        {"$set": {**details, **initial}},
        upsert=True,
        session=uow.session,
        return_document=ReturnDocument.AFTER,
    )
    if stored is None:
        raise LookupError(f"job {data.job_id} not stored")  # an upsert always returns the document
    return _job(stored)


async def find_job(uow: UnitOfWork, job_id: str) -> Job | None:
    """The job, once its job.requested was handled."""
    doc = await uow.db[JOBS].find_one({"_id": job_id, "requested": True}, session=uow.session)
    return _job(doc) if doc else None


async def job_of(runtime: FeedbackRuntime, job_id: str) -> Job | None:
    """The job as it stands now (outside a transaction), once its job.requested was handled."""
    doc = await runtime.db[JOBS].find_one({"_id": job_id, "requested": True})
    return _job(doc) if doc else None


async def pending_reviews(
    runtime: FeedbackRuntime, *, urgent: bool | None, limit: int, offset: int
) -> tuple[list[Job], int]:
    """Jobs whose review is still to write, urgent first; one page of them and how many there are."""
    query: dict[str, Any] = {"review_pending": True}
    if urgent is not None:
        query["review_urgent"] = urgent
    total = await runtime.db[JOBS].count_documents(query)
    cursor = (
        runtime.db[JOBS].find(query).sort([("review_urgent", DESCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit)
    )
    return [_job(doc) async for doc in cursor], total


async def mark_cancelled(uow: UnitOfWork, job_id: str) -> None:
    await uow.db[JOBS].update_one(
        {"_id": job_id}, {"$set": {"cancelled": True, "review_pending": False}}, session=uow.session
    )


async def keep_record(uow: UnitOfWork, job: Job, record: JobRecord) -> None:
    """A correction (higher version) replaces the record; an older version arriving late changes nothing."""
    await uow.db[JOBS].update_one(
        {
            "_id": job.job_id,
            "$or": [{"record": None}, {"record.record_version": {"$lt": record.record_version}}],
        },
        {"$set": {"record": record.model_dump(mode="json"), "review_pending": job.reviewed_at is None}},
        session=uow.session,
    )


async def survey_opened(uow: UnitOfWork, job_id: str, survey_id: str) -> None:
    await uow.db[JOBS].update_one(
        {"_id": job_id}, {"$set": {"survey_id": survey_id, "survey_status": OPEN}}, session=uow.session
    )


async def survey_answered(uow: UnitOfWork, job_id: str, csat: int, nps: int, low_score: bool) -> Job:
    """The survey's scores on the job (a low score makes its review urgent); the job after."""
    doc = await uow.db[JOBS].find_one_and_update(
        {"_id": job_id},
        {
            "$set": {
                "survey_status": SurveyStatus.ANSWERED.value,
                "csat": csat,
                "nps": nps,
                "low_score": low_score,
                **({"review_urgent": True} if low_score else {}),
            }
        },
        session=uow.session,
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise LookupError(f"no job {job_id} for its survey")
    return _job(doc)


async def survey_expired(uow: UnitOfWork, job_id: str) -> None:
    await uow.db[JOBS].update_one(
        {"_id": job_id, "survey_status": OPEN},
        {"$set": {"survey_status": SurveyStatus.EXPIRED.value}},
        session=uow.session,
    )


async def save_review(uow: UnitOfWork, job_id: str, review: ReviewMemo, now: datetime) -> Job | None:
    """Store the job's one review; None when another got there first."""
    doc = await uow.db[JOBS].find_one_and_update(
        {"_id": job_id, "reviewed_at": None},
        {"$set": {"reviewed_at": now, "review": review.model_dump(mode="json"), "review_pending": False}},
        session=uow.session,
        return_document=ReturnDocument.AFTER,
    )
    return _job(doc) if doc else None


async def mark_closed(uow: UnitOfWork, job_id: str, now: datetime) -> bool:
    """Close the job if it is closable and not closed yet: True for the one caller that closes it. Concurrent
    closers conflict on the document, so one close whatever the order or the replicas."""
    result = await uow.db[JOBS].update_one(
        {
            "_id": job_id,
            "closed_at": None,
            "cancelled": False,
            "reviewed_at": {"$ne": None},
            "survey_status": {"$in": [state.value for state in CLOSING_SURVEY_STATES]},
        },
        {"$set": {"closed_at": now}},
        session=uow.session,
    )
    return result.modified_count == 1
