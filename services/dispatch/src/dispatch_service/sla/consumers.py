"""dispatch.sla-tracking: the events that meet a deadline (arrival meets arrive-by, a passed
inspection meets resolve-by)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compressor_contracts import CloudEvent, JobEngineerArrived, JobInspectionPassed
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from dispatch_service.jobs import store as jobs
from dispatch_service.jobs.domain import Job
from dispatch_service.settings import DispatchRuntime
from dispatch_service.sla.domain import arrived, inspection_passed


async def _track(uow: UnitOfWork, job_id: str, change: Callable[[Job], Job]) -> None:
    job = await jobs.find(uow, job_id)
    if job is not None:  # a job dispatch never matched (or a tombstone) has no deadlines
        await jobs.save(uow, job, change(job))


def consumers(runtime: DispatchRuntime) -> list[Consumer]:
    async def on_engineer_arrived(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        data: JobEngineerArrived = event.data
        now = runtime.clock.now()
        await _track(uow, data.job_id, lambda job: arrived(job, data.arrived_at, now))

    async def on_inspection_passed(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        now = runtime.clock.now()
        await _track(uow, event.data.job_id, lambda job: inspection_passed(job, event.time, now))

    return [
        Consumer(
            "dispatch.sla-tracking",
            {JobEngineerArrived: on_engineer_arrived, JobInspectionPassed: on_inspection_passed},
        )
    ]
