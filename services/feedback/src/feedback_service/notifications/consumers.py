"""Events that become notifications (queue feedback.notifications)."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CloudEvent
from compressor_contracts.events.dispatch import JobEngineerDispatched, JobPrediagnosed, JobSlaAtRisk, JobSlaBreached
from compressor_contracts.events.intake import JobCancelled, JobRequested
from compressor_contracts.events.maintenance import JobProgressReported, JobWorkCompleted
from compressor_contracts.events.quality import JobInspectionEscalated, JobInspectionPassed
from compressor_contracts.events.reporting import JobReportPublished
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.store import JOBS, find_job, park, record_request, take_parked
from feedback_service.notifications.domain import ROUTES
from feedback_service.notifications.store import enqueue, withdraw_pending
from feedback_service.settings import feedback_settings
from feedback_service.surveys.consumers import open_survey

QUEUE = "feedback.notifications"


def notification_consumers(runtime) -> Consumer:
    settings = feedback_settings(runtime.settings)

    async def on_job_requested(event: CloudEvent[JobRequested], uow: UnitOfWork) -> None:
        await record_request(uow, event, runtime.clock.now())
        job = await find_job(uow, event.subject)
        await notify(job, event, uow)
        # Events of this job that overtook job.requested (other producers, other queues) are handled now.
        for parked in await take_parked(uow, event.subject):
            job = await find_job(uow, event.subject)
            await handle(job, parked, uow)

    async def on_job_event(event: CloudEvent, uow: UnitOfWork) -> None:
        job = await find_job(uow, event.subject)
        if job is None:
            await park(uow, event, runtime.clock.now())
            return
        await handle(job, event, uow)

    async def handle(job: dict[str, Any], event: CloudEvent, uow: UnitOfWork) -> None:
        if isinstance(event.data, JobReportPublished):
            await open_survey(runtime, job, event, uow)
        elif isinstance(event.data, JobCancelled):
            await cancel(event, uow)
        elif not job.get("cancelled"):  # a cancelled job: nobody is told of its later steps
            await notify(job, event, uow)

    async def on_job_cancelled(event: CloudEvent[JobCancelled], uow: UnitOfWork) -> None:
        if await find_job(uow, event.subject) is None:
            await park(uow, event, runtime.clock.now())
            return
        await cancel(event, uow)

    async def cancel(event: CloudEvent[JobCancelled], uow: UnitOfWork) -> None:
        await uow.db[JOBS].update_one(
            {"_id": event.subject}, {"$set": {"cancelled": True, "review_pending": False}}, session=uow.session
        )
        await withdraw_pending(uow, event.subject, f"job cancelled: {event.data.reason}")

    async def notify(job: dict, event: CloudEvent, uow: UnitOfWork) -> None:
        await enqueue(
            uow,
            job=job,
            event=event,
            route=ROUTES[type(event.data)],
            now=runtime.clock.now(),
            management_recipients=settings.management_recipients(),
        )

    return Consumer(
        QUEUE,
        {
            JobRequested: on_job_requested,
            JobCancelled: on_job_cancelled,
            JobSlaAtRisk: on_job_event,
            JobSlaBreached: on_job_event,
            JobInspectionEscalated: on_job_event,
            JobPrediagnosed: on_job_event,
            JobEngineerDispatched: on_job_event,
            JobProgressReported: on_job_event,
            JobWorkCompleted: on_job_event,
            JobInspectionPassed: on_job_event,
        },
    )
