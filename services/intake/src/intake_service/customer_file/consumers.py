"""The customer file learns from job.closed (see `commands.file_closed_job`)."""

from __future__ import annotations

from compressor_contracts import CloudEvent, JobClosed
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from intake_service.customer_file import commands
from intake_service.settings import IntakeRuntime

QUEUE = "intake.customer-file"


def consumers(runtime: IntakeRuntime) -> list[Consumer]:
    async def on_job_closed(event: CloudEvent[JobClosed], uow: UnitOfWork) -> None:
        await commands.file_closed_job(runtime, event, uow)

    return [Consumer(QUEUE, {JobClosed: on_job_closed})]
