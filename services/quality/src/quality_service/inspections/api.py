"""HTTP API of the inspector: find the open inspections, read what to measure, record the results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compressor_contracts.common import (
    Engineer,
    Equipment,
    Identifier,
    IndicatorResult,
    StaffMember,
    StaffRole,
    Text,
    Unit,
)
from compressor_contracts.examples import ENGINEER, EQUIPMENT, INSPECTOR, JOB_ID
from compressor_kit.auth import principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from quality_service.inspections import recording, store
from quality_service.inspections.domain import Inspection, InspectionStatus, Reading
from quality_service.settings import QualityRuntime
from quality_service.templates.domain import INDICATOR_EXAMPLE, IndicatorSpec

TAGS = ["Inspections"]
INSPECTION_ID = "INS-3F9A1C2B7D4E5F60"


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class MeasurementIn(BaseModel):
    model_config = _examples({"code": "discharge_temperature", "value": 96.5, "unit": "degC"})

    code: Identifier = Field(description="Indicator code from the inspection's checklist.")
    value: float = Field(description="The value read on the instrument.")
    unit: Unit = Field(description="Unit of the value; must be the checklist's unit ('degC' and 'mg/m3' are accepted).")


class InspectionResultsIn(BaseModel):
    model_config = _examples(
        {
            "measurements": [
                {"code": "discharge_pressure", "value": 7.1, "unit": "bar"},
                {"code": "discharge_temperature", "value": 96.5, "unit": "degC"},
            ],
            "notes": "Readings after 30 min at full load.",
        }
    )

    measurements: list[MeasurementIn] = Field(
        max_length=100, description="One reading per indicator of the checklist, in any order; none may be missing."
    )
    notes: Text | None = Field(default=None, description="The inspector's remarks.")


class InspectionSummary(BaseModel):
    model_config = _examples(
        {
            "inspection_id": INSPECTION_ID,
            "job_id": JOB_ID,
            "round": 1,
            "status": "open",
            "template_id": "QT-OIS-VSD",
            "equipment_model": "Atlas Copco GA 37 VSD+",
            "serial_number": "API123456",
            "opened_at": "2026-03-03T10:05:00Z",
            "decided_at": None,
        }
    )

    inspection_id: str
    job_id: str
    round: int
    status: InspectionStatus
    template_id: str
    equipment_model: str = Field(description="Brand and model of the unit.")
    serial_number: str
    opened_at: datetime
    decided_at: datetime | None = None


class InspectionView(BaseModel):
    model_config = _examples(
        {
            "inspection_id": INSPECTION_ID,
            "job_id": JOB_ID,
            "round": 1,
            "status": "failed",
            "template_id": "QT-OIS-VSD",
            "template_title": "Atlas Copco GA 37 VSD+ oil-injected screw, 37 kW, set point 7.0 bar",
            "equipment": EQUIPMENT.model_dump(mode="json"),
            "engineer": ENGINEER.model_dump(mode="json"),
            "repair_method": "Replaced the thermostatic valve element and the oil filter.",
            "indicators": [INDICATOR_EXAMPLE],
            "rework_of": [],
            "opened_at": "2026-03-03T10:05:00Z",
            "decided_at": "2026-03-03T11:20:00Z",
            "inspector": INSPECTOR.model_dump(mode="json"),
            "results": [
                {
                    "code": "discharge_temperature",
                    "name": "Element outlet temperature, full load",
                    "name_ms": INDICATOR_EXAMPLE["name_ms"],
                    "value": 104.0,
                    "unit": "°C",
                    "min_limit": 70,
                    "max_limit": 100,
                    "passed": False,
                    "corrective_action": INDICATOR_EXAMPLE["corrective_action"],
                    "corrective_action_ms": INDICATOR_EXAMPLE["corrective_action_ms"],
                }
            ],
            "failed_indicators": ["discharge_temperature"],
            "notes": "Outlet temperature still rising after 30 min.",
            "escalated": False,
            "cancelled_at": None,
            "cancel_reason": None,
        }
    )

    inspection_id: str
    job_id: str
    round: int = Field(description="The work round inspected: 1, then one more per failed inspection.")
    status: InspectionStatus
    template_id: str
    template_title: str
    equipment: Equipment
    engineer: Engineer = Field(description="Who did the work of this round.")
    repair_method: str
    indicators: list[IndicatorSpec] = Field(description="The checklist: every indicator to measure, with its limits.")
    rework_of: list[IndicatorResult] = Field(
        description="Indicators that failed the previous round (what this rework had to correct); empty in round 1."
    )
    opened_at: datetime
    decided_at: datetime | None = None
    inspector: StaffMember | None = None
    results: list[IndicatorResult] = Field(default=[], description="Every indicator judged, once decided.")
    failed_indicators: list[str] = Field(default=[], description="Codes of the indicators that failed.")
    notes: str | None = None
    escalated: bool = Field(default=False, description="Whether this failure alerted management.")
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


def _view(inspection: Inspection) -> InspectionView:
    shown = {name: value for name, value in inspection if name in InspectionView.model_fields}
    return InspectionView(**shown, failed_indicators=[r.code for r in inspection.failed])


def _summary(inspection: Inspection) -> InspectionSummary:
    return InspectionSummary(
        inspection_id=inspection.inspection_id,
        job_id=inspection.job_id,
        round=inspection.round,
        status=inspection.status,
        template_id=inspection.template_id,
        equipment_model=f"{inspection.equipment.brand} {inspection.equipment.model}",
        serial_number=inspection.equipment.serial_number,
        opened_at=inspection.opened_at,
        decided_at=inspection.decided_at,
    )


@get("/inspections", **requires(StaffRole.INSPECTOR), operation_id="ListInspections", tags=TAGS)
async def list_inspections(
    runtime: NamedDependency[QualityRuntime],
    status: Annotated[InspectionStatus | None, Parameter(description="Only inspections in this state.")] = None,
    job_id: Annotated[str | None, Parameter(max_length=64, description="Only this job's inspections.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[InspectionSummary]:
    """Inspections, oldest first: `?status=open` is the inspector's work queue; `?job_id=` finds a job's rounds."""
    found, total = await store.find_page(runtime, status=status, job_id=job_id, limit=limit, offset=offset)
    return Page(items=[_summary(inspection) for inspection in found], total=total, limit=limit, offset=offset)


@get("/inspections/{inspection_id:str}", **requires(StaffRole.INSPECTOR), operation_id="GetInspection", tags=TAGS)
async def get_inspection(runtime: NamedDependency[QualityRuntime], inspection_id: FromPath[str]) -> InspectionView:
    """One inspection with its checklist (what to measure and the limits) and, once decided, its results."""
    inspection = await store.find(runtime, inspection_id)
    if inspection is None:
        raise Refusal.not_found(f"no inspection {inspection_id!r}", field="inspection_id")
    return _view(inspection)


@post(
    "/inspections/{inspection_id:str}/results",
    **requires(StaffRole.INSPECTOR),
    operation_id="RecordInspectionResults",
    status_code=200,
    tags=TAGS,
)
async def record_results(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[QualityRuntime],
    inspection_id: FromPath[str],
    data: JSONBody[InspectionResultsIn],
) -> InspectionView:
    """Record every indicator; the inspection passes only if each is within its limits.

    Publishes job.inspection_passed, or job.inspection_failed (the job goes back to maintenance for
    another round) and, from the configured number of failed rounds on, job.inspection_escalated.
    Refusals write and publish nothing: 404 for an unknown inspection, 409 when it is already decided
    or its job was cancelled, 422 for a missing, unknown, repeated or mis-united indicator (each
    field named).
    """
    inspector = _inspector(request)
    readings = [Reading(m.code, m.value, m.unit) for m in data.measurements]
    decided = await runtime.outbox.transact(
        lambda uow: recording.record_results(
            uow,
            inspection_id,
            readings,
            inspector=inspector,
            notes=data.notes,
            escalation_threshold=runtime.settings.quality_escalation_failed_rounds,
            now=runtime.clock.now(),
        )
    )
    return _view(decided)


def _inspector(request: Request[Any, Any, Any]) -> StaffMember:
    principal = principal_of(request)
    try:
        return StaffMember(
            user_id=principal.subject,
            name=str(principal.claims.get("name") or principal.subject),
            role=StaffRole.INSPECTOR,
        )
    except ValidationError:
        raise Refusal.forbidden("the token's subject is not a valid user id", field="sub") from None


ROUTES = [list_inspections, get_inspection, record_results]
