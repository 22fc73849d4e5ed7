"""The report is published: open the survey and send the report link with it (queue feedback.surveys)."""

from __future__ import annotations

from compressor_contracts import CloudEvent
from compressor_contracts.events.reporting import JobReportPublished
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.commands import job_event
from feedback_service.settings import FeedbackRuntime

QUEUE = "feedback.surveys"


def consumers(runtime: FeedbackRuntime) -> list[Consumer]:
    async def on_report_published(event: CloudEvent[JobReportPublished], uow: UnitOfWork) -> None:
        await job_event(runtime, uow, event)  # parked until job.requested if that has not arrived yet

    return [Consumer(QUEUE, {JobReportPublished: on_report_published})]
