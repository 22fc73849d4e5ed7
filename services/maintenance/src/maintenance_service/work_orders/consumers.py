"""Events from intake, dispatch and quality that open, follow, reopen and close work orders."""

from __future__ import annotations

import logging

from compressor_contracts import CloudEvent
from compressor_contracts.events.dispatch import JobAssigned, JobPrediagnosed
from compressor_contracts.events.intake import JobCancelled, JobRequested
from compressor_contracts.events.quality import JobInspectionFailed
from compressor_kit.consumer import Consumer
from compressor_kit.messaging import PermanentFailure
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime
from maintenance_service.execution.domain import reopen_for_rework
from maintenance_service.parts import store as stock
from maintenance_service.work_orders import domain
from maintenance_service.work_orders.domain import WorkOrder
from maintenance_service.work_orders.store import apply_to_work_order, load

log = logging.getLogger(__name__)
QUEUE = "maintenance.work-orders"


async def on_requested(event: CloudEvent, uow: UnitOfWork) -> None:
    data: JobRequested = event.data

    async def decide(order: WorkOrder):
        return domain.record_request(order, data.customer, data.contact, event.correlationid), [], None

    await apply_to_work_order(uow, data.job_id, decide, create=True)


async def on_assigned(event: CloudEvent, uow: UnitOfWork) -> None:
    data: JobAssigned = event.data

    async def decide(order: WorkOrder):
        return domain.record_assignment(order, data, event.time, event.correlationid), [], None

    await apply_to_work_order(uow, data.job_id, decide, create=True)


async def on_prediagnosed(event: CloudEvent, uow: UnitOfWork) -> None:
    data: JobPrediagnosed = event.data

    async def decide(order: WorkOrder):
        return domain.record_prediagnosis(order, data, event.correlationid), [], None

    await apply_to_work_order(uow, data.job_id, decide, create=True)


async def on_inspection_failed(event: CloudEvent, uow: UnitOfWork) -> None:
    data: JobInspectionFailed = event.data
    if await load(uow.db, data.job_id, uow.session) is None:
        raise PermanentFailure(f"inspection failed for job {data.job_id}, which has no work order")

    async def decide(order: WorkOrder):
        reopened = reopen_for_rework(order, data)
        if reopened is order:
            log.warning("inspection of round %s of %s did not reopen the work order", data.round, data.job_id)
        return reopened, [], None

    await apply_to_work_order(uow, data.job_id, decide)


def cancellation_handler(runtime: Runtime):
    async def on_cancelled(event: CloudEvent, uow: UnitOfWork) -> None:
        data: JobCancelled = event.data
        now = runtime.clock.now()

        async def decide(order: WorkOrder):
            cancelled, released = domain.cancel(order, data.reason, now)
            await stock.release(uow, data.job_id, released, now)
            return cancelled, [], None

        await apply_to_work_order(uow, data.job_id, decide, create=True)

    return on_cancelled


def consumers(runtime: Runtime) -> list[Consumer]:
    return [
        Consumer(
            QUEUE,
            {
                JobRequested: on_requested,
                JobAssigned: on_assigned,
                JobPrediagnosed: on_prediagnosed,
                JobInspectionFailed: on_inspection_failed,
                JobCancelled: cancellation_handler(runtime),
            },
        )
    ]
