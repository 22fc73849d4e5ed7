"""Reviewing and closing a job: each loads the job, lets the review rules decide, stores the result
and records its events in one transaction."""

from __future__ import annotations

from datetime import datetime

from compressor_contracts.common import StaffMember
from compressor_contracts.events.feedback import FollowUp, JobReviewed
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from feedback_service.jobs import store as jobs
from feedback_service.jobs.domain import Job
from feedback_service.review.domain import closing_event, ready_to_close, review
from feedback_service.settings import FeedbackRuntime


async def record_review(
    runtime: FeedbackRuntime,
    job_id: str,
    reviewer: StaffMember,
    memo: str,
    lessons: list[str],
    follow_ups: list[FollowUp],
    now: datetime,
) -> tuple[Job, bool]:
    """Record the job's review memo (once): job.reviewed, and job.closed when the survey is already
    answered or expired. The job as reviewed, and whether it closed."""

    async def work(uow: UnitOfWork) -> tuple[Job, bool]:
        job = await jobs.find_job(uow, job_id)
        if job is None:
            raise Refusal.not_found(f"no job {job_id}", field="job_id")
        decided = review(job, reviewer, memo, lessons, follow_ups)
        reviewed = await jobs.save_review(uow, job_id, decided, now)
        if reviewed is None:
            raise Refusal.conflict(f"job {job_id} is already reviewed")
        await uow.publish(
            JobReviewed(
                job_id=job_id,
                reviewer=reviewer,
                memo=memo,
                lessons=lessons,
                follow_ups=follow_ups,
                urgent=reviewed.review_urgent,
            ),
            correlation_id=reviewed.correlation_id,
        )
        return reviewed, await close_if_ready(uow, job_id, now)

    return await runtime.outbox.transact(work)


async def close_if_ready(uow: UnitOfWork, job_id: str, now: datetime) -> bool:
    """Close the job (job.closed, exactly once) if it is ready: call after changing the job in the same
    transaction, whichever of review, survey answer or survey expiry comes last."""
    job = await jobs.find_job(uow, job_id)
    if job is None or not ready_to_close(job):
        return False
    if not await jobs.mark_closed(uow, job_id, now):
        return False
    await uow.publish(closing_event(job), correlation_id=job.correlation_id)
    return True
