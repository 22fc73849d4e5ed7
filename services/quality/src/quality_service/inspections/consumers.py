"""Event handlers: a completed work round opens its inspection; a cancelled job closes its inspections."""

from __future__ import annotations

import logging

from compressor_contracts import CloudEvent
from compressor_contracts.events.intake import JobCancelled
from compressor_contracts.events.maintenance import JobWorkCompleted
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from quality_service.inspections import store
from quality_service.inspections.domain import open_inspection
from quality_service.settings import QualityRuntime
from quality_service.templates.catalogue import TEMPLATES

log = logging.getLogger(__name__)

QUEUE = "quality.inspections"


def consumers(runtime: QualityRuntime) -> list[Consumer]:
    async def open_for_round(event: CloudEvent[JobWorkCompleted], uow: UnitOfWork) -> None:
        work = event.data
        if await store.job_cancelled(uow, work.job_id):
            log.info("job %s is cancelled: no inspection for round %s", work.job_id, work.round)
            return
        inspection = open_inspection(
            work,
            TEMPLATES.for_equipment(work.equipment),
            await store.last_failed(uow, work.job_id, work.round),
            event_id=event.id,
            correlation_id=event.correlationid,
            now=runtime.clock.now(),
        )
        if not await store.open_once(uow, inspection):
            log.info("job %s round %s already has its inspection", work.job_id, work.round)

    async def close_inspections(event: CloudEvent[JobCancelled], uow: UnitOfWork) -> None:
        closed = await store.cancel_job(uow, event.data.job_id, event.data.reason, runtime.clock.now())
        log.info("job %s cancelled: %d open inspection(s) closed", event.data.job_id, closed)

    return [Consumer(QUEUE, {JobWorkCompleted: open_for_round, JobCancelled: close_inspections})]
