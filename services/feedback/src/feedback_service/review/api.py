"""The internal review memo (phase 9) and the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from compressor_contracts.common import LongText, StaffMember, StaffRole, Text
from compressor_contracts.events.feedback import FollowUp, JobReviewed
from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from feedback_service.jobs.store import JOBS
from feedback_service.review.closing import close_if_ready


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memo: LongText = Field(description="What was done and how it went.")
    lessons: list[Text] = Field(default=[], max_length=50, description="Lessons learned.")
    follow_ups: list[FollowUp] = Field(
        default=[], max_length=50, description="Follow-up actions, e.g. a proactive visit."
    )


class ReviewOut(BaseModel):
    job_id: str
    reviewer: StaffMember
    memo: str
    lessons: list[str]
    follow_ups: list[FollowUp]
    urgent: bool
    reviewed_at: datetime
    closed: bool


class ReviewQueueItem(BaseModel):
    job_id: str
    customer_name: str
    urgent: bool
    survey_status: str | None
    csat: int | None
    nps: int | None


def _reviewer(request) -> StaffMember:
    principal = principal_of(request)
    role = StaffRole.MANAGER if Role.MANAGER in principal.roles else StaffRole.ENGINEER
    name = principal.claims.get("name") or principal.subject
    return StaffMember(user_id=principal.subject, name=str(name)[:200], role=role)


@post(
    "/jobs/{job_id:str}/review", **requires(Role.ENGINEER, Role.MANAGER), operation_id="recordReview", status_code=201
)
async def record_review(
    request: Request, job_id: FromPath[str], data: JSONBody[ReviewIn], runtime: NamedDependency[Runtime]
) -> ReviewOut:
    """Record the job's review memo (once). Publishes job.reviewed, and job.closed when the survey is
    already answered or expired. An engineer may review only a job they did; a manager any job."""
    reviewer = _reviewer(request)
    now = runtime.clock.now()

    async def work(uow) -> tuple[dict, bool]:
        job = await uow.db[JOBS].find_one({"_id": job_id, "requested": True}, session=uow.session)
        if job is None:
            raise Problem(404, f"no job {job_id}", field="job_id")
        if job.get("cancelled"):
            raise Problem(409, f"job {job_id} was cancelled")
        if job.get("record") is None:
            raise Problem(409, f"job {job_id} has no published report yet; review it after the report")
        if job.get("reviewed_at") is not None:
            raise Problem(409, f"job {job_id} is already reviewed")
        engineer_id = job["record"]["outcome"]["engineer"]["engineer_id"]
        if reviewer.role is StaffRole.ENGINEER and reviewer.user_id != engineer_id:
            raise Problem(403, f"only the job's engineer ({engineer_id}) or a manager may review job {job_id}")
        review = {
            "reviewer": reviewer.model_dump(mode="json"),
            "memo": data.memo,
            "lessons": data.lessons,
            "follow_ups": [f.model_dump(mode="json") for f in data.follow_ups],
        }
        updated = await uow.db[JOBS].find_one_and_update(
            {"_id": job_id, "reviewed_at": None},
            {"$set": {"reviewed_at": now, "review": review, "review_pending": False}},
            session=uow.session,
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            raise Problem(409, f"job {job_id} is already reviewed")
        await uow.publish(
            JobReviewed(
                job_id=job_id,
                reviewer=reviewer,
                memo=data.memo,
                lessons=data.lessons,
                follow_ups=data.follow_ups,
                urgent=bool(updated.get("review_urgent")),
            ),
            correlation_id=updated.get("correlation_id"),
        )
        closed = await close_if_ready(uow, job_id, now)
        return updated, closed

    job, closed = await runtime.outbox.transact(work)
    return ReviewOut(
        job_id=job_id,
        reviewer=reviewer,
        memo=data.memo,
        lessons=data.lessons,
        follow_ups=data.follow_ups,
        urgent=bool(job.get("review_urgent")),
        reviewed_at=now,
        closed=closed,
    )


@get("/reviews/pending", **requires(Role.MANAGER, Role.ENGINEER), operation_id="listPendingReviews")
async def list_pending_reviews(
    runtime: NamedDependency[Runtime],
    limit: Limit = 50,
    offset: Offset = 0,
    urgent: bool | None = Parameter(default=None, description="Only urgent (true) or only normal (false) reviews."),
) -> Page[ReviewQueueItem]:
    """Jobs whose report is out and whose review is still to write, urgent (low score) first."""
    query: dict[str, Any] = {"review_pending": True}
    if urgent is not None:
        query["review_urgent"] = urgent
    total = await runtime.db[JOBS].count_documents(query)
    cursor = (
        runtime.db[JOBS].find(query).sort([("review_urgent", DESCENDING), ("_id", ASCENDING)]).skip(offset).limit(limit)
    )
    items = [
        ReviewQueueItem(
            job_id=job["_id"],
            customer_name=job["customer"]["name"],
            urgent=bool(job.get("review_urgent")),
            survey_status=job.get("survey_status"),
            csat=job.get("csat"),
            nps=job.get("nps"),
        )
        async for job in cursor
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)


ROUTES = [record_review, list_pending_reviews]
