"""Recording an inspection's results: one transaction that loads the inspection, lets the domain judge
the readings and decide, stores the decision and puts the events it causes in the outbox (passed; or
failed, and escalated from the configured round on). A refusal writes and publishes nothing."""

from __future__ import annotations

from datetime import datetime

from compressor_contracts.common import StaffMember
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from quality_service.inspections import store
from quality_service.inspections.domain import Inspection, Reading, decide, judge


async def record_results(
    uow: UnitOfWork,
    inspection_id: str,
    readings: list[Reading],
    *,
    inspector: StaffMember,
    notes: str | None,
    escalation_threshold: int,
    now: datetime,
) -> Inspection:
    """The decided inspection."""
    inspection = await store.get(uow, inspection_id)
    if inspection is None:
        raise Refusal.not_found(f"no inspection {inspection_id!r}", field="inspection_id")
    verdict = judge(inspection, readings)
    failed_rounds = 0 if verdict.all_passed else await store.failed_rounds(uow, inspection.job_id) + 1
    decided, events = decide(
        inspection,
        verdict,
        inspector=inspector,
        notes=notes,
        failed_rounds=failed_rounds,
        escalation_threshold=escalation_threshold,
        now=now,
    )
    if not await store.save_decision(uow, decided):  # another inspector decided it between our read and write
        raise Refusal.conflict(f"inspection {inspection_id} is already decided", field="inspection_id")
    for data in events:
        # A person caused these events; they still belong to the job's flow.
        await uow.publish(data, correlation_id=inspection.correlation_id)
    return decided
