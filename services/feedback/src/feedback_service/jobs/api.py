"""Feedback's view of one job: survey, scores, review and close state."""

from __future__ import annotations

from datetime import datetime

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import BaseModel

from compressor_kit.auth import Role, requires
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from feedback_service.jobs.store import JOBS


class JobFeedbackView(BaseModel):
    job_id: str
    customer_id: str
    cancelled: bool
    record_id: str | None
    record_version: int | None
    survey_id: str | None
    survey_status: str | None
    csat: int | None
    nps: int | None
    low_score: bool
    review_urgent: bool
    reviewed_at: datetime | None
    review: dict | None
    closed_at: datetime | None


@get(
    "/jobs/{job_id:str}/feedback",
    **requires(Role.MANAGER, Role.ENGINEER, Role.RECEPTION, Role.ADMIN),
    operation_id="getJobFeedback",
)
async def get_job_feedback(job_id: FromPath[str], runtime: NamedDependency[Runtime]) -> JobFeedbackView:
    job = await runtime.db[JOBS].find_one({"_id": job_id, "requested": True})
    if job is None:
        raise Problem(404, f"no job {job_id}", field="job_id")
    record = job.get("record") or {}
    return JobFeedbackView(
        job_id=job_id,
        customer_id=job["customer"]["customer_id"],
        cancelled=bool(job.get("cancelled")),
        record_id=record.get("record_id"),
        record_version=record.get("record_version"),
        survey_id=job.get("survey_id"),
        survey_status=job.get("survey_status"),
        csat=job.get("csat"),
        nps=job.get("nps"),
        low_score=bool(job.get("low_score")),
        review_urgent=bool(job.get("review_urgent")),
        reviewed_at=job.get("reviewed_at"),
        review=job.get("review"),
        closed_at=job.get("closed_at"),
    )


ROUTES = [get_job_feedback]
