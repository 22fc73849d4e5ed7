"""Feedback's view of one job: survey, scores, review and close state."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import BaseModel, ConfigDict

from compressor_contracts import StaffRole
from compressor_contracts.events.feedback import SurveyStatus
from compressor_kit.auth import requires
from compressor_kit.refusals import Refusal
from feedback_service.jobs import store as jobs
from feedback_service.jobs.domain import ReviewMemo
from feedback_service.settings import FeedbackRuntime


class JobFeedbackView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "JOB-2026-000042",
                    "customer_id": "CUST-0107",
                    "cancelled": False,
                    "record_id": "REC-2026-000042",
                    "record_version": 1,
                    "survey_id": "SRV-4b1d0c9e2f6a7788",
                    "survey_status": "answered",
                    "csat": 5,
                    "nps": 9,
                    "low_score": False,
                    "review_urgent": False,
                    "reviewed_at": "2026-03-05T09:30:00Z",
                    "review": {
                        "reviewer": {"user_id": "ENG-014", "name": "Lim Wei Jie", "role": "engineer"},
                        "memo": "High-temperature trip: thermostatic valve replaced, oil cooler cleaned.",
                        "lessons": ["Check oil cooler fouling during diagnosis when ambient is above 30 °C."],
                        "follow_ups": [
                            {
                                "kind": "proactive_visit",
                                "description": "Inspect the oil cooler before the dry season.",
                                "due_on": "2026-06-01",
                            }
                        ],
                    },
                    "closed_at": "2026-03-05T09:30:00Z",
                }
            ]
        }
    )

    job_id: str
    customer_id: str
    cancelled: bool
    record_id: str | None
    record_version: int | None
    survey_id: str | None
    survey_status: Literal["open"] | SurveyStatus | None
    csat: int | None
    nps: int | None
    low_score: bool
    review_urgent: bool
    reviewed_at: datetime | None
    review: ReviewMemo | None
    closed_at: datetime | None


@get(
    "/jobs/{job_id:str}/feedback",
    **requires(StaffRole.MANAGER, StaffRole.ENGINEER, StaffRole.RECEPTION, StaffRole.ADMIN),
    operation_id="getJobFeedback",
    tags=["Jobs"],
)
async def get_job_feedback(job_id: FromPath[str], runtime: NamedDependency[FeedbackRuntime]) -> JobFeedbackView:
    job = await jobs.job_of(runtime, job_id)
    if job is None:
        raise Refusal.not_found(f"no job {job_id}", field="job_id")
    return JobFeedbackView(
        job_id=job_id,
        customer_id=job.customer.customer_id,
        cancelled=job.cancelled,
        record_id=job.record.record_id if job.record else None,
        record_version=job.record.record_version if job.record else None,
        survey_id=job.survey_id,
        survey_status=job.survey_status,
        csat=job.csat,
        nps=job.nps,
        low_score=job.low_score,
        review_urgent=job.review_urgent,
        reviewed_at=job.reviewed_at,
        review=job.review,
        closed_at=job.closed_at,
    )


ROUTES = [get_job_feedback]
