"""The inspection and its rules: which readings are acceptable input, how each indicator is judged
against its limits, and when repeated failures go to management. Pure Python, no I/O."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from compressor_contracts import EventData
from compressor_contracts.common import Engineer, Equipment, IndicatorResult, StaffMember
from compressor_contracts.events.maintenance import JobWorkCompleted
from compressor_contracts.events.quality import JobInspectionEscalated, JobInspectionFailed, JobInspectionPassed
from compressor_kit.refusals import FieldIssue, Refusal, RefusalKind
from quality_service.templates.domain import IndicatorSpec, InspectionTemplate, canonical_unit

DETAIL_MAX_CHARS = 2000  # the contract's Text limit


class InspectionStatus(StrEnum):
    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """The job was cancelled while the inspection was open."""


class Inspection(BaseModel):
    """One job's work round, inspected against the checklist copied from its template when it opened
    (a template revised later never changes an inspection under way)."""

    # Documents written before may hold fields no longer kept (the job's trace context, now kept by the kit).
    model_config = ConfigDict(extra="ignore")

    inspection_id: str
    job_id: str
    round: int
    status: InspectionStatus = InspectionStatus.OPEN
    template_id: str
    template_title: str
    indicators: list[IndicatorSpec]
    """The checklist: every indicator to measure, with its limits."""
    rework_of: list[IndicatorResult] = []
    """Indicators that failed the previous round (what this rework had to correct)."""
    equipment: Equipment
    engineer: Engineer
    repair_method: str
    opened_at: datetime
    opened_by_event: str
    correlation_id: str
    """Of the job's flow: the events the inspector's decision causes belong to it."""
    decided_at: datetime | None = None
    inspector: StaffMember | None = None
    results: list[IndicatorResult] = []
    notes: str | None = None
    escalated: bool = False
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @property
    def failed(self) -> list[IndicatorResult]:
        return [r for r in self.results if not r.passed]

    @property
    def equipment_label(self) -> str:
        return f"{self.equipment.brand} {self.equipment.model}, serial {self.equipment.serial_number}"


def new_inspection_id() -> str:
    return f"INS-{uuid.uuid4().hex[:16].upper()}"


def open_inspection(
    work: JobWorkCompleted,
    template: InspectionTemplate,
    previous_failure: Inspection | None,
    *,
    event_id: str,
    correlation_id: str,
    now: datetime,
) -> Inspection:
    """The inspection of a completed work round; `previous_failure` is the job's last failed round before it."""
    return Inspection(
        inspection_id=new_inspection_id(),
        job_id=work.job_id,
        round=work.round,
        template_id=template.template_id,
        template_title=template.title,
        indicators=template.checklist(work.equipment),
        rework_of=previous_failure.failed if previous_failure else [],
        equipment=work.equipment,
        engineer=work.engineer,
        repair_method=work.repair_method,
        opened_at=now,
        opened_by_event=event_id,
        correlation_id=correlation_id,
    )


@dataclass(frozen=True)
class Reading:
    """One value the inspector read, as sent."""

    code: str
    value: float
    unit: str


@dataclass(frozen=True)
class Verdict:
    """Every indicator of the checklist with its value, limits and outcome, in checklist order."""

    results: list[IndicatorResult]

    @property
    def failed(self) -> list[IndicatorResult]:
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> list[IndicatorResult]:
        return [r for r in self.results if r.passed]

    @property
    def all_passed(self) -> bool:
        return not self.failed


def within_limits(spec: IndicatorSpec, value: float) -> bool:
    """Limits are inclusive: a value exactly at its limit meets it."""
    if spec.min_limit is not None and value < spec.min_limit:
        return False
    return spec.max_limit is None or value <= spec.max_limit


def evaluate_indicator(spec: IndicatorSpec, value: float) -> IndicatorResult:
    passed = within_limits(spec, value)
    return IndicatorResult(
        code=spec.code,
        name=spec.name,
        name_ms=spec.name_ms,
        value=value,
        unit=spec.unit,
        min_limit=spec.min_limit,
        max_limit=spec.max_limit,
        passed=passed,
        corrective_action=None if passed else spec.corrective_action,
        corrective_action_ms=None if passed else spec.corrective_action_ms,
    )


def check_readings(checklist: Sequence[IndicatorSpec], readings: Sequence[Reading]) -> dict[str, float]:
    """The value per indicator code; refuses naming every unknown, repeated, mis-united or missing
    indicator. A missing indicator is an error, never a pass."""
    specs = {spec.code: spec for spec in checklist}
    values: dict[str, float] = {}
    errors: list[FieldIssue] = []
    for index, reading in enumerate(readings):
        where = f"measurements.{index}"
        spec = specs.get(reading.code)
        if spec is None:
            errors.append(
                FieldIssue(
                    f"{where}.code",
                    f"{reading.code!r} is not an indicator of this inspection; expected: {', '.join(specs)}",
                )
            )
            continue
        if reading.code in values:
            errors.append(FieldIssue(f"{where}.code", f"{reading.code!r} is recorded twice"))
            continue
        if canonical_unit(reading.unit) != spec.unit:
            errors.append(
                FieldIssue(f"{where}.unit", f"{spec.name} is recorded in {spec.unit!r}, not {reading.unit!r}")
            )
        if not math.isfinite(reading.value):
            errors.append(FieldIssue(f"{where}.value", "must be a finite number"))
        values[reading.code] = reading.value
    for code, spec in specs.items():
        if code not in values:
            errors.append(FieldIssue(f"measurements.{code}", f"{spec.name} ({code}) was not measured"))
    if errors:
        listed = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise Refusal(RefusalKind.INVALID, f"the readings cannot be evaluated: {listed}", issues=errors)
    return values


def evaluate(checklist: Sequence[IndicatorSpec], readings: Sequence[Reading]) -> Verdict:
    """Judge every indicator of the checklist; refuses incomplete or unknown readings."""
    values = check_readings(checklist, readings)
    return Verdict([evaluate_indicator(spec, values[spec.code]) for spec in checklist])


def escalation_due(failed_rounds: int, threshold: int) -> bool:
    """Management hears of a job once its inspection has failed `threshold` rounds, and again on every
    further failed round until it passes."""
    return failed_rounds >= threshold


def describe_limit(result: IndicatorResult) -> str:
    unit = result.unit
    if result.min_limit is not None and result.max_limit is not None:
        return f"{result.min_limit:g}-{result.max_limit:g} {unit}"
    if result.max_limit is not None:
        return f"max {result.max_limit:g} {unit}"
    return f"min {result.min_limit:g} {unit}"


def escalation_detail(job_id: str, failed_rounds: int, equipment_label: str, failed: Sequence[IndicatorResult]) -> str:
    items = "; ".join(f"{r.name}: {r.value:g} {r.unit} (limit {describe_limit(r)})" for r in failed)
    detail = f"Job {job_id} ({equipment_label}) failed its quality inspection {failed_rounds} rounds. "
    detail += f"Still failing: {items}"
    return detail if len(detail) <= DETAIL_MAX_CHARS else detail[: DETAIL_MAX_CHARS - 3] + "..."


def judge(inspection: Inspection, readings: Sequence[Reading]) -> Verdict:
    """The verdict on the readings; refused once the inspection is decided (or its job cancelled), or
    when the readings cannot be evaluated."""
    if inspection.status != InspectionStatus.OPEN:
        raise Refusal.conflict(
            f"inspection {inspection.inspection_id} is already {inspection.status.value}", field="inspection_id"
        )
    return evaluate(inspection.indicators, readings)


def decide(
    inspection: Inspection,
    verdict: Verdict,
    *,
    inspector: StaffMember,
    notes: str | None,
    failed_rounds: int,
    escalation_threshold: int,
    now: datetime,
) -> tuple[Inspection, list[EventData]]:
    """The decided inspection and the events it causes: passed; or failed, and escalated once the job
    has failed `escalation_threshold` rounds (`failed_rounds` counts this one)."""
    escalate = not verdict.all_passed and escalation_due(failed_rounds, escalation_threshold)
    decided = inspection.model_copy(
        update={
            "status": InspectionStatus.PASSED if verdict.all_passed else InspectionStatus.FAILED,
            "results": verdict.results,
            "inspector": inspector,
            "notes": notes,
            "decided_at": now,
            "escalated": escalate,
        }
    )
    job_id, round_, template_id = inspection.job_id, inspection.round, inspection.template_id
    if verdict.all_passed:
        passed = JobInspectionPassed(
            job_id=job_id, round=round_, inspector=inspector, template_id=template_id, indicators=verdict.results
        )
        return decided, [passed]
    events: list[EventData] = [
        JobInspectionFailed(
            job_id=job_id,
            round=round_,
            inspector=inspector,
            template_id=template_id,
            failed_indicators=verdict.failed,
            passed_indicators=verdict.passed,
        )
    ]
    if escalate:
        events.append(
            JobInspectionEscalated(
                job_id=job_id,
                failed_rounds=failed_rounds,
                threshold=escalation_threshold,
                last_failed_indicators=verdict.failed,
                detail=escalation_detail(job_id, failed_rounds, inspection.equipment_label, verdict.failed),
            )
        )
    return decided, events
