"""Surveys in MongoDB: created on job.report_published, answered once, expired by a periodic job."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel

from compressor_contracts.events.feedback import SurveyStatus
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.domain import JobRecord
from feedback_service.settings import FeedbackRuntime
from feedback_service.surveys.domain import OPEN, Survey, SurveyAnswer, new_token, token_hash

SURVEYS = "surveys"
SURVEY_INDEXES = {
    SURVEYS: [
        IndexModel([("job_id", ASCENDING)], name="one_survey_per_job", unique=True),
        # Every link handed out for a survey (e-mailed, webhooked, issued by staff) is one hash here.
        IndexModel([("token_hashes", ASCENDING)], name="by_token"),
        IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)], name="expiring"),
    ]
}


def _survey(doc: dict[str, Any]) -> Survey:
    return Survey.model_validate({**doc, "survey_id": doc["_id"]})


async def open_survey(uow: UnitOfWork, job_id: str, record: JobRecord, now: datetime, ttl: timedelta) -> Survey:
    survey = Survey(
        survey_id=f"SRV-{uuid.uuid4().hex[:16]}",
        job_id=job_id,
        status=OPEN,
        created_at=now,
        expires_at=now + ttl,
        record_id=record.record_id,
        record_version=record.record_version,
        report=record.report,
        token_hashes=[],
        sent_at=None,
        answer=None,
    )
    doc = survey.model_dump(mode="json", exclude={"survey_id", "created_at", "expires_at"})
    await uow.db[SURVEYS].insert_one(
        {"_id": survey.survey_id, **doc, "created_at": now, "expires_at": survey.expires_at}, session=uow.session
    )
    return survey


async def find_by_token(uow: UnitOfWork, token: str) -> Survey | None:
    doc = await uow.db[SURVEYS].find_one({"token_hashes": token_hash(token)}, session=uow.session)
    return _survey(doc) if doc else None


async def find_of_job(uow: UnitOfWork, job_id: str) -> Survey | None:
    doc = await uow.db[SURVEYS].find_one({"job_id": job_id}, session=uow.session)
    return _survey(doc) if doc else None


async def survey_with_token(runtime: FeedbackRuntime, token: str) -> Survey | None:
    doc = await runtime.db[SURVEYS].find_one({"token_hashes": token_hash(token)})
    return _survey(doc) if doc else None


async def survey_of_job(runtime: FeedbackRuntime, job_id: str) -> Survey | None:
    doc = await runtime.db[SURVEYS].find_one({"job_id": job_id})
    return _survey(doc) if doc else None


async def survey_by_id(runtime: FeedbackRuntime, survey_id: str) -> Survey | None:
    doc = await runtime.db[SURVEYS].find_one({"_id": survey_id})
    return _survey(doc) if doc else None


async def add_token(runtime: FeedbackRuntime, survey_id: str) -> str | None:
    """Issue one more link for an open survey; the raw token is returned once, only its hash kept."""
    token = new_token()
    result = await runtime.db[SURVEYS].update_one(
        {"_id": survey_id, "status": OPEN}, {"$push": {"token_hashes": token_hash(token)}}
    )
    return token if result.modified_count == 1 else None


async def drop_token(runtime: FeedbackRuntime, survey_id: str, token: str) -> None:
    """A link whose message never left: it stops working."""
    await runtime.db[SURVEYS].update_one({"_id": survey_id}, {"$pull": {"token_hashes": token_hash(token)}})


async def save_answer(uow: UnitOfWork, survey_id: str, answer: SurveyAnswer) -> bool:
    """Store the one answer of a survey; False when another answer or the expiry got there first."""
    result = await uow.db[SURVEYS].update_one(
        {"_id": survey_id, "status": OPEN, "expires_at": {"$gt": answer.answered_at}},
        {
            "$set": {
                "status": SurveyStatus.ANSWERED.value,
                "answer": {**answer.model_dump(mode="json"), "answered_at": answer.answered_at},
            }
        },
        session=uow.session,
    )
    return result.modified_count == 1


async def due_for_expiry(runtime: FeedbackRuntime, now: datetime, limit: int) -> list[str]:
    """Ids of open surveys past their time."""
    cursor = runtime.db[SURVEYS].find({"status": OPEN, "expires_at": {"$lte": now}}, {"_id": 1}, limit=limit)
    return [doc["_id"] async for doc in cursor]


async def expire(uow: UnitOfWork, survey_id: str, now: datetime) -> Survey | None:
    """Expire one survey that is past its time; None when it is not (answered or expired meanwhile)."""
    doc = await uow.db[SURVEYS].find_one_and_update(
        {"_id": survey_id, "status": OPEN, "expires_at": {"$lte": now}},
        {"$set": {"status": SurveyStatus.EXPIRED.value, "expired_at": now}},
        session=uow.session,
    )
    return _survey(doc) if doc else None


async def mark_sent(uow: UnitOfWork, survey_id: str, now: datetime) -> bool:
    """The survey went out (its first link was delivered); True the first time."""
    first = await uow.db[SURVEYS].update_one(
        {"_id": survey_id, "sent_at": None}, {"$set": {"sent_at": now}}, session=uow.session
    )
    return first.modified_count == 1
