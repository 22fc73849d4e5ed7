"""The report is published: open the survey and send the report link with it (queue feedback.surveys)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from compressor_contracts import CloudEvent
from compressor_contracts.events.reporting import JobReportPublished
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.store import find_job, park
from feedback_service.notifications.domain import ROUTES
from feedback_service.notifications.store import enqueue
from feedback_service.settings import feedback_settings
from feedback_service.surveys.store import record_report

QUEUE = "feedback.surveys"


async def open_survey(runtime, job: dict[str, Any], event: CloudEvent[JobReportPublished], uow: UnitOfWork) -> None:
    if job.get("cancelled") or job.get("closed_at"):
        return
    settings = feedback_settings(runtime.settings)
    now = runtime.clock.now()
    survey = await record_report(uow, job, event, now, timedelta(hours=settings.survey_ttl_hours))
    if survey is None:
        return  # a corrected record: the survey already went out with the first version
    await enqueue(
        uow,
        job=job,
        event=event,
        route=ROUTES[JobReportPublished],
        now=now,
        management_recipients=settings.management_recipients(),
        survey_id=survey["_id"],
    )


def survey_consumers(runtime) -> Consumer:
    async def on_report_published(event: CloudEvent[JobReportPublished], uow: UnitOfWork) -> None:
        job = await find_job(uow, event.subject)
        if job is None:
            await park(uow, event, runtime.clock.now())
            return
        await open_survey(runtime, job, event, uow)

    return Consumer(QUEUE, {JobReportPublished: on_report_published})
