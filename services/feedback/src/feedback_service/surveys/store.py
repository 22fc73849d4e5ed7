"""Surveys: created on job.report_published, answered once, expired by a periodic job."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from compressor_contracts import CloudEvent
from compressor_contracts.events.feedback import JobFeedbackReceived, SurveyAnswerSource
from compressor_contracts.events.reporting import JobReportPublished
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.store import JOBS
from feedback_service.notifications.domain import ROUTES
from feedback_service.notifications.store import enqueue
from feedback_service.review.closing import close_if_ready
from feedback_service.surveys.domain import Answer, SurveyState, new_token, token_hash

SURVEYS = "surveys"
SURVEY_INDEXES = {
    SURVEYS: [
        IndexModel([("job_id", ASCENDING)], name="one_survey_per_job", unique=True),
        # Every link handed out for a survey (e-mailed, webhooked, issued by staff) is one hash here.
        IndexModel([("token_hashes", ASCENDING)], name="by_token"),
        IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)], name="expiring"),
    ]
}


async def record_report(
    uow: UnitOfWork, job: dict[str, Any], event: CloudEvent[JobReportPublished], now: datetime, ttl: timedelta
) -> dict[str, Any] | None:
    """Keep the latest record; open the job's survey the first time. Returns the survey when it is new."""
    data = event.data
    record = {
        "record_id": data.record_id,
        "record_version": data.record_version,
        "report": data.report.model_dump(mode="json"),
        "outcome": data.outcome.model_dump(mode="json"),
    }
    # A correction (higher version) replaces the record; an older version arriving late changes nothing.
    await uow.db[JOBS].update_one(
        {
            "_id": job["_id"],
            "$or": [{"record": None}, {"record.record_version": {"$lt": data.record_version}}],
        },
        {"$set": {"record": record, "review_pending": job.get("reviewed_at") is None}},
        session=uow.session,
    )
    if job.get("survey_id"):
        return None
    survey = {
        "_id": f"SRV-{uuid.uuid4().hex[:16]}",
        "job_id": job["_id"],
        "status": SurveyState.OPEN.value,
        "created_at": now,
        "expires_at": now + ttl,
        "record_id": data.record_id,
        "record_version": data.record_version,
        "report": record["report"],
        "token_hashes": [],
        "sent_at": None,
        "answer": None,
    }
    await uow.db[SURVEYS].insert_one(survey, session=uow.session)
    await uow.db[JOBS].update_one(
        {"_id": job["_id"]},
        {"$set": {"survey_id": survey["_id"], "survey_status": SurveyState.OPEN.value}},
        session=uow.session,
    )
    return survey


async def find_by_token(db, token: str, session=None) -> dict[str, Any] | None:
    return await db[SURVEYS].find_one({"token_hashes": token_hash(token)}, session=session)


async def add_token(db, survey_id: str) -> str | None:
    """Issue one more link for an open survey; the raw token is returned once, only its hash kept."""
    token = new_token()
    result = await db[SURVEYS].update_one(
        {"_id": survey_id, "status": SurveyState.OPEN.value}, {"$push": {"token_hashes": token_hash(token)}}
    )
    return token if result.modified_count == 1 else None


async def drop_token(db, survey_id: str, token: str) -> None:
    """A link whose message never left: it stops working."""
    await db[SURVEYS].update_one({"_id": survey_id}, {"$pull": {"token_hashes": token_hash(token)}})


async def record_answer(
    uow: UnitOfWork,
    survey: dict[str, Any],
    answer: Answer,
    via: SurveyAnswerSource,
    low_score: bool,
    now: datetime,
    management_recipients: list[str],
) -> bool:
    """Store the one answer of a survey; False when another answer or the expiry got there first."""
    updated = await uow.db[SURVEYS].find_one_and_update(
        {"_id": survey["_id"], "status": SurveyState.OPEN.value, "expires_at": {"$gt": now}},
        {
            "$set": {
                "status": SurveyState.ANSWERED.value,
                "answer": {
                    "csat": answer.csat,
                    "nps": answer.nps,
                    "comments": answer.comments,
                    "answered_via": via.value,
                    "answered_at": now,
                    "low_score": low_score,
                },
            }
        },
        session=uow.session,
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:
        return False
    job = await uow.db[JOBS].find_one_and_update(
        {"_id": survey["job_id"]},
        {
            "$set": {
                "survey_status": SurveyState.ANSWERED.value,
                "csat": answer.csat,
                "nps": answer.nps,
                "low_score": low_score,
                **({"review_urgent": True} if low_score else {}),
            }
        },
        session=uow.session,
        return_document=ReturnDocument.AFTER,
    )
    received = await uow.publish(
        JobFeedbackReceived(
            job_id=survey["job_id"],
            survey_id=survey["_id"],
            csat=answer.csat,
            nps=answer.nps,
            comments=answer.comments,
            answered_via=via,
            low_score=low_score,
        ),
        correlation_id=job.get("correlation_id"),
    )
    if low_score:
        await enqueue(
            uow,
            job=job,
            event=received,
            route=ROUTES[JobFeedbackReceived],
            now=now,
            management_recipients=management_recipients,
        )
    await close_if_ready(uow, survey["job_id"], now)
    return True


async def expire(uow: UnitOfWork, survey_id: str, now: datetime) -> bool:
    """Expire one survey that is past its time; the job may close now."""
    survey = await uow.db[SURVEYS].find_one_and_update(
        {"_id": survey_id, "status": SurveyState.OPEN.value, "expires_at": {"$lte": now}},
        {"$set": {"status": SurveyState.EXPIRED.value, "expired_at": now}},
        session=uow.session,
    )
    if survey is None:
        return False
    await uow.db[JOBS].update_one(
        {"_id": survey["job_id"], "survey_status": SurveyState.OPEN.value},
        {"$set": {"survey_status": SurveyState.EXPIRED.value}},
        session=uow.session,
    )
    await close_if_ready(uow, survey["job_id"], now)
    return True
