"""Recording an inspection's results: one transaction that decides the inspection and puts the events
it causes in the outbox (passed; or failed, and escalated from the configured round on)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from compressor_contracts.common import StaffMember
from compressor_contracts.events.quality import JobInspectionEscalated, JobInspectionFailed, JobInspectionPassed
from compressor_kit.outbox import UnitOfWork
from quality_service.inspections import store
from quality_service.inspections.domain import (
    InspectionClosed,
    InspectionNotFound,
    InspectionStatus,
    Reading,
    escalation_detail,
    escalation_due,
    evaluate,
)
from quality_service.templates.domain import IndicatorSpec


async def record_results(
    uow: UnitOfWork,
    inspection_id: str,
    readings: list[Reading],
    *,
    inspector: StaffMember,
    notes: str | None,
    escalation_threshold: int,
    now: datetime,
) -> dict[str, Any]:
    """The decided inspection; raises InspectionNotFound, InspectionClosed or ReadingsRefused, in which
    case the transaction aborts and nothing is written or published."""
    doc = await store.get(uow, inspection_id)
    if doc is None:
        raise InspectionNotFound(inspection_id)
    if doc["status"] != InspectionStatus.OPEN:
        raise InspectionClosed(inspection_id, doc["status"])
    verdict = evaluate([IndicatorSpec.model_validate(i) for i in doc["indicators"]], readings)

    job_id = doc["job_id"]
    failed_rounds = 0 if verdict.all_passed else await store.failed_rounds(uow, job_id) + 1
    escalate = not verdict.all_passed and escalation_due(failed_rounds, escalation_threshold)
    decided = await store.decide(
        uow,
        inspection_id,
        {
            "status": InspectionStatus.PASSED if verdict.all_passed else InspectionStatus.FAILED,
            "results": [r.model_dump(mode="json") for r in verdict.results],
            "inspector": inspector.model_dump(mode="json"),
            "notes": notes,
            "decided_at": now,
            "escalated": escalate,
        },
    )
    if decided is None:  # another inspector decided it between our read and our write
        raise InspectionClosed(inspection_id, "decided")

    about = {"job_id": job_id, "round": doc["round"], "inspector": inspector, "template_id": doc["template_id"]}
    flow = doc["correlation_id"]  # a person caused these events; they still belong to the job's flow
    if verdict.all_passed:
        await uow.publish(JobInspectionPassed(**about, indicators=verdict.results), correlation_id=flow)
        return decided
    await uow.publish(
        JobInspectionFailed(**about, failed_indicators=verdict.failed, passed_indicators=verdict.passed),
        correlation_id=flow,
    )
    if escalate:
        unit = doc["equipment"]
        label = f"{unit['brand']} {unit['model']}, serial {unit['serial_number']}"
        await uow.publish(
            JobInspectionEscalated(
                job_id=job_id,
                failed_rounds=failed_rounds,
                threshold=escalation_threshold,
                last_failed_indicators=verdict.failed,
                detail=escalation_detail(job_id, failed_rounds, label, verdict.failed),
            ),
            correlation_id=flow,
        )
    return decided
