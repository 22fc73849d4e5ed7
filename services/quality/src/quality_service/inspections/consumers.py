"""Event handlers: a completed work round opens its inspection; a cancelled job closes its inspections."""

from __future__ import annotations

import logging

from compressor_contracts import CloudEvent
from compressor_contracts.events.intake import JobCancelled
from compressor_contracts.events.maintenance import JobWorkCompleted
from compressor_kit.clock import Clock
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from compressor_kit.telemetry import current_trace_carrier
from quality_service.inspections import store
from quality_service.inspections.domain import InspectionStatus
from quality_service.templates.domain import TemplateCatalogue

log = logging.getLogger(__name__)

QUEUE = "quality.inspections"


def inspection_consumer(templates: TemplateCatalogue, clock: Clock) -> Consumer:
    async def open_inspection(event: CloudEvent[JobWorkCompleted], uow: UnitOfWork) -> None:
        work = event.data
        if await store.job_cancelled(uow, work.job_id):
            log.info("job %s is cancelled: no inspection for round %s", work.job_id, work.round)
            return
        template = templates.for_equipment(work.equipment)
        previous = await store.last_failed(uow, work.job_id, work.round)
        opened = await store.open_once(
            uow,
            {
                "job_id": work.job_id,
                "round": work.round,
                "status": InspectionStatus.OPEN,
                "template_id": template.template_id,
                "template_title": template.title,
                # The checklist is copied: a template revised later never changes this inspection.
                "indicators": [spec.model_dump(mode="json") for spec in template.checklist(work.equipment)],
                "rework_of": [r for r in (previous or {}).get("results", []) if not r["passed"]],
                "equipment": work.equipment.model_dump(mode="json"),
                "engineer": work.engineer.model_dump(mode="json"),
                "repair_method": work.repair_method,
                "opened_at": clock.now(),
                "opened_by_event": event.id,
                # Events the inspector's decision causes belong to the job's flow.
                "correlation_id": event.correlationid,
                # The job's trace context, for linking the inspector's later request to the job's trace.
                "trace": current_trace_carrier(),
            },
        )
        if not opened:
            log.info("job %s round %s already has its inspection", work.job_id, work.round)

    async def close_inspections(event: CloudEvent[JobCancelled], uow: UnitOfWork) -> None:
        closed = await store.cancel_job(uow, event.data.job_id, event.data.reason, clock.now())
        log.info("job %s cancelled: %d open inspection(s) closed", event.data.job_id, closed)

    return Consumer(QUEUE, {JobWorkCompleted: open_inspection, JobCancelled: close_inspections})
