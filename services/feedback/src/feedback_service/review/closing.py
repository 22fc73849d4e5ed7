"""Closing a job: exactly once, by whichever of review, survey answer or survey expiry comes last."""

from __future__ import annotations

from datetime import datetime

from compressor_contracts import CloudEvent
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.store import JOBS
from feedback_service.review.domain import CLOSING_SURVEY_STATES, closing_event, ready_to_close


async def close_if_ready(uow: UnitOfWork, job_id: str, now: datetime, cause: CloudEvent | None = None) -> bool:
    """Call after changing the job document in the same transaction. The conditional update
    matches only an unclosed, closable job; concurrent closers conflict on the document, so one
    `job.closed` is published whatever the order or the replicas."""
    job = await uow.db[JOBS].find_one({"_id": job_id}, session=uow.session)
    if job is None or not ready_to_close(job):
        return False
    result = await uow.db[JOBS].update_one(
        {
            "_id": job_id,
            "closed_at": None,
            "cancelled": False,
            "reviewed_at": {"$ne": None},
            "survey_status": {"$in": list(CLOSING_SURVEY_STATES)},
        },
        {"$set": {"closed_at": now}},
        session=uow.session,
    )
    if result.modified_count != 1:
        return False
    await uow.publish(closing_event(job), cause=cause, correlation_id=job.get("correlation_id"))
    return True
