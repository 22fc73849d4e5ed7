"""Events from intake, dispatch and quality that open, follow, reopen and close work orders, and tell it that
the work passed its inspection (the customer may then accept it with a signature)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from compressor_contracts import CloudEvent
from compressor_contracts.events.dispatch import JobAssigned, JobPrediagnosed
from compressor_contracts.events.intake import JobCancelled, JobRequested
from compressor_contracts.events.quality import JobInspectionFailed, JobInspectionPassed
from compressor_kit.consumer import Consumer
from compressor_kit.delivery import PermanentFailure
from compressor_kit.outbox import UnitOfWork
from maintenance_service.execution.domain import reopen_for_rework
from maintenance_service.parts import store as stock
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.work_orders import domain
from maintenance_service.work_orders.domain import WorkOrder
from maintenance_service.work_orders.store import Decision, apply_to_work_order, load

log = logging.getLogger(__name__)
QUEUE = "maintenance.work-orders"


async def on_requested(event: CloudEvent[JobRequested], uow: UnitOfWork) -> None:
    data = event.data

    async def decide(order: WorkOrder) -> Decision[None]:
        return domain.record_request(order, data.customer, data.contact, event.correlationid), [], None

    await apply_to_work_order(uow, data.job_id, decide, create=True)


async def on_assigned(event: CloudEvent[JobAssigned], uow: UnitOfWork) -> None:
    data = event.data

    async def decide(order: WorkOrder) -> Decision[None]:
        return domain.record_assignment(order, data, event.time, event.correlationid), [], None

    await apply_to_work_order(uow, data.job_id, decide, create=True)


async def on_prediagnosed(event: CloudEvent[JobPrediagnosed], uow: UnitOfWork) -> None:
    data = event.data

    async def decide(order: WorkOrder) -> Decision[None]:
        return domain.record_prediagnosis(order, data, event.correlationid), [], None

    await apply_to_work_order(uow, data.job_id, decide, create=True)


async def on_inspection_failed(event: CloudEvent[JobInspectionFailed], uow: UnitOfWork) -> None:
    data = event.data
    if await load(uow, data.job_id) is None:
        raise PermanentFailure(f"inspection failed for job {data.job_id}, which has no work order")

    async def decide(order: WorkOrder) -> Decision[None]:
        reopened = reopen_for_rework(order, data)
        if reopened is order:
            log.warning("inspection of round %s of %s did not reopen the work order", data.round, data.job_id)
        return reopened, [], None

    await apply_to_work_order(uow, data.job_id, decide)


async def on_inspection_passed(event: CloudEvent[JobInspectionPassed], uow: UnitOfWork) -> None:
    data = event.data
    if await load(uow, data.job_id) is None:
        raise PermanentFailure(f"inspection passed for job {data.job_id}, which has no work order")

    async def decide(order: WorkOrder) -> Decision[None]:
        return domain.record_inspection_passed(order, data.round, event.time), [], None

    await apply_to_work_order(uow, data.job_id, decide)


def cancellation_handler(
    runtime: MaintenanceRuntime,
) -> Callable[[CloudEvent[JobCancelled], UnitOfWork], Awaitable[None]]:
    async def on_cancelled(event: CloudEvent[JobCancelled], uow: UnitOfWork) -> None:
        data = event.data
        now = runtime.clock.now()

        async def decide(order: WorkOrder) -> Decision[None]:
            cancelled, released = domain.cancel(order, data.reason, now)
            await stock.release(uow, data.job_id, released, now)
            return cancelled, [], None

        await apply_to_work_order(uow, data.job_id, decide, create=True)

    return on_cancelled


def consumers(runtime: MaintenanceRuntime) -> list[Consumer]:
    return [
        Consumer(
            QUEUE,
            {
                JobRequested: on_requested,
                JobAssigned: on_assigned,
                JobPrediagnosed: on_prediagnosed,
                JobInspectionFailed: on_inspection_failed,
                JobInspectionPassed: on_inspection_passed,
                JobCancelled: cancellation_handler(runtime),
            },
        )
    ]
