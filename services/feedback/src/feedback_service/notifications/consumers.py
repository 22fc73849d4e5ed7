"""Events that become notifications (queue feedback.notifications)."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CloudEvent
from compressor_contracts.events.dispatch import JobEngineerDispatched, JobPrediagnosed, JobSlaAtRisk, JobSlaBreached
from compressor_contracts.events.intake import JobCancelled, JobRequested
from compressor_contracts.events.maintenance import JobProgressReported, JobWorkCompleted
from compressor_contracts.events.quality import JobInspectionEscalated, JobInspectionPassed
from compressor_contracts.events.telemetry import EquipmentWentSilent
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from feedback_service.jobs.commands import job_event, job_requested
from feedback_service.notifications.machines import machine_event
from feedback_service.settings import FeedbackRuntime

QUEUE = "feedback.notifications"


def consumers(runtime: FeedbackRuntime) -> list[Consumer]:
    async def on_job_requested(event: CloudEvent[JobRequested], uow: UnitOfWork) -> None:
        await job_requested(runtime, uow, event)

    async def on_job_event(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        await job_event(runtime, uow, event)

    async def on_machine_event(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        await machine_event(runtime, uow, event)

    return [
        Consumer(
            QUEUE,
            {
                JobRequested: on_job_requested,
                JobCancelled: on_job_event,
                JobSlaAtRisk: on_job_event,
                JobSlaBreached: on_job_event,
                JobInspectionEscalated: on_job_event,
                JobPrediagnosed: on_job_event,
                JobEngineerDispatched: on_job_event,
                JobProgressReported: on_job_event,
                JobWorkCompleted: on_job_event,
                JobInspectionPassed: on_job_event,
                EquipmentWentSilent: on_machine_event,
            },
        )
    ]
