"""The internal review memo (phase 9) and the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from compressor_contracts.common import LongText, StaffMember, StaffRole, Text
from compressor_contracts.events.feedback import FollowUp, SurveyStatus
from compressor_kit.auth import principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from feedback_service.jobs import store as jobs
from feedback_service.review.commands import record_review as review_job
from feedback_service.settings import FeedbackRuntime

TAGS = ["Reviews"]

FOLLOW_UP_EXAMPLE: JsonDict = {
    "kind": "proactive_visit",
    "description": "Inspect the oil cooler before the dry season.",
    "due_on": "2026-06-01",
}
REVIEWER_EXAMPLE: JsonDict = {"user_id": "ENG-014", "name": "Lim Wei Jie", "role": "engineer"}


class ReviewIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "memo": "High-temperature trip: thermostatic valve replaced, oil cooler cleaned.",
                    "lessons": ["Check oil cooler fouling during diagnosis when ambient is above 30 °C."],
                    "follow_ups": [FOLLOW_UP_EXAMPLE],
                }
            ]
        },
    )

    memo: LongText = Field(description="What was done and how it went.")
    lessons: list[Text] = Field(default=[], max_length=50, description="Lessons learned.")
    follow_ups: list[FollowUp] = Field(
        default=[], max_length=50, description="Follow-up actions, e.g. a proactive visit."
    )


class ReviewOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "JOB-2026-000042",
                    "reviewer": REVIEWER_EXAMPLE,
                    "memo": "High-temperature trip: thermostatic valve replaced, oil cooler cleaned.",
                    "lessons": ["Check oil cooler fouling during diagnosis when ambient is above 30 °C."],
                    "follow_ups": [FOLLOW_UP_EXAMPLE],
                    "urgent": False,
                    "reviewed_at": "2026-03-05T09:30:00Z",
                    "closed": True,
                }
            ]
        }
    )

    job_id: str
    reviewer: StaffMember
    memo: str
    lessons: list[str]
    follow_ups: list[FollowUp]
    urgent: bool
    reviewed_at: datetime
    closed: bool


class ReviewQueueItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "JOB-2026-000042",
                    "customer_name": "Seri Murni Foods Sdn Bhd",
                    "urgent": True,
                    "survey_status": "answered",
                    "csat": 2,
                    "nps": 3,
                }
            ]
        }
    )

    job_id: str
    customer_name: str
    urgent: bool
    survey_status: Literal["open"] | SurveyStatus | None
    csat: int | None
    nps: int | None


def _reviewer(request: Request[Any, Any, Any]) -> StaffMember:
    principal = principal_of(request)
    role = StaffRole.MANAGER if StaffRole.MANAGER in principal.roles else StaffRole.ENGINEER
    name = principal.claims.get("name") or principal.subject
    return StaffMember(user_id=principal.subject, name=str(name)[:200], role=role)


@post(
    "/jobs/{job_id:str}/review",
    **requires(StaffRole.ENGINEER, StaffRole.MANAGER),
    operation_id="recordReview",
    status_code=201,
    tags=TAGS,
)
async def record_review(
    request: Request[Any, Any, Any],
    job_id: FromPath[str],
    data: JSONBody[ReviewIn],
    runtime: NamedDependency[FeedbackRuntime],
) -> ReviewOut:
    """Record the job's review memo (once). Publishes job.reviewed, and job.closed when the survey is
    already answered or expired. An engineer may review only a job they did; a manager any job."""
    reviewer = _reviewer(request)
    now = runtime.clock.now()
    job, closed = await review_job(runtime, job_id, reviewer, data.memo, data.lessons, data.follow_ups, now)
    return ReviewOut(
        job_id=job_id,
        reviewer=reviewer,
        memo=data.memo,
        lessons=data.lessons,
        follow_ups=data.follow_ups,
        urgent=job.review_urgent,
        reviewed_at=now,
        closed=closed,
    )


@get(
    "/reviews/pending",
    **requires(StaffRole.MANAGER, StaffRole.ENGINEER),
    operation_id="listPendingReviews",
    tags=TAGS,
)
async def list_pending_reviews(
    runtime: NamedDependency[FeedbackRuntime],
    limit: Limit = 50,
    offset: Offset = 0,
    urgent: bool | None = Parameter(default=None, description="Only urgent (true) or only normal (false) reviews."),
) -> Page[ReviewQueueItem]:
    """Jobs whose report is out and whose review is still to write, urgent (low score) first."""
    pending, total = await jobs.pending_reviews(runtime, urgent=urgent, limit=limit, offset=offset)
    items = [
        ReviewQueueItem(
            job_id=job.job_id,
            customer_name=job.customer.name,
            urgent=job.review_urgent,
            survey_status=job.survey_status,
            csat=job.csat,
            nps=job.nps,
        )
        for job in pending
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)


ROUTES = [record_review, list_pending_reviews]
