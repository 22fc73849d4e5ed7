"""What a job's events do in feedback: the job is recorded (job.requested), its events become
notifications, its report opens the survey, its cancellation withdraws what is still waiting.
Events that overtake their job's job.requested are parked until it arrives."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CloudEvent
from compressor_contracts.events.intake import JobCancelled, JobRequested
from compressor_contracts.events.reporting import JobReportPublished
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs import store as jobs
from feedback_service.jobs.domain import Job
from feedback_service.notifications.domain import NOTICES
from feedback_service.notifications.store import enqueue, withdraw_pending
from feedback_service.settings import FeedbackRuntime
from feedback_service.surveys.commands import open_survey


async def job_requested(runtime: FeedbackRuntime, uow: UnitOfWork, event: CloudEvent[JobRequested]) -> None:
    job = await jobs.record_request(uow, event, runtime.clock.now())
    await notify(runtime, uow, job, event)
    # Events of this job that overtook job.requested (other producers, other queues) are handled now.
    for parked in await jobs.take_parked(uow, event.subject):
        job = await jobs.find_job(uow, event.subject) or job
        await _handle(runtime, uow, job, parked)


async def job_event(runtime: FeedbackRuntime, uow: UnitOfWork, event: CloudEvent[Any]) -> None:
    """Any other event of a job: handled now if the job is known, parked until it is otherwise."""
    job = await jobs.find_job(uow, event.subject)
    if job is None:
        await jobs.park(uow, event, runtime.clock.now())
        return
    await _handle(runtime, uow, job, event)


async def _handle(runtime: FeedbackRuntime, uow: UnitOfWork, job: Job, event: CloudEvent[Any]) -> None:
    if isinstance(event.data, JobReportPublished):
        await open_survey(runtime, uow, job, event)
    elif isinstance(event.data, JobCancelled):
        await _cancel(uow, event)
    elif not job.cancelled:  # a cancelled job: nobody is told of its later steps
        await notify(runtime, uow, job, event)


async def _cancel(uow: UnitOfWork, event: CloudEvent[JobCancelled]) -> None:
    await jobs.mark_cancelled(uow, event.subject)
    await withdraw_pending(uow, event.subject, f"job cancelled: {event.data.reason}")


async def notify(runtime: FeedbackRuntime, uow: UnitOfWork, job: Job, event: CloudEvent[Any]) -> None:
    await enqueue(
        uow,
        job=job,
        event=event,
        notice=NOTICES[type(event.data)],
        now=runtime.clock.now(),
        management_recipients=runtime.settings.management_recipients(),
    )
