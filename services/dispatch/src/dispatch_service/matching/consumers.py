"""dispatch.job-requests: match an engineer to every new job; stop work on cancelled jobs."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CloudEvent, JobCancelled, JobRequested
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from dispatch_service.matching.commands import assign_new_job, cancel_job
from dispatch_service.settings import DispatchRuntime


def consumers(runtime: DispatchRuntime) -> list[Consumer]:
    async def on_job_requested(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        await assign_new_job(uow, event, runtime.settings, runtime.clock.now())

    async def on_job_cancelled(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        await cancel_job(uow, event, runtime.clock.now())

    return [Consumer("dispatch.job-requests", {JobRequested: on_job_requested, JobCancelled: on_job_cancelled})]
