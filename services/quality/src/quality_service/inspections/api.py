"""HTTP API of the inspector: find the open inspections, read what to measure, record the results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
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
from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from quality_service.inspections import recording, store
from quality_service.inspections.domain import (
    InspectionClosed,
    InspectionNotFound,
    InspectionStatus,
    Reading,
    ReadingsRefused,
)
from quality_service.inspections.policy import InspectionPolicy
from quality_service.templates.domain import IndicatorSpec


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeasurementIn(_Model):
    code: Identifier = Field(description="Indicator code from the inspection's checklist.")
    value: float = Field(description="The value read on the instrument.")
    unit: Unit = Field(description="Unit of the value; must be the checklist's unit ('degC' and 'mg/m3' are accepted).")


class InspectionResultsIn(_Model):
    measurements: list[MeasurementIn] = Field(
        max_length=100, description="One reading per indicator of the checklist, in any order; none may be missing."
    )
    notes: Text | None = Field(default=None, description="The inspector's remarks.")


class InspectionSummary(_Model):
    inspection_id: str
    job_id: str
    round: int
    status: InspectionStatus
    template_id: str
    equipment_model: str = Field(description="Brand and model of the unit.")
    serial_number: str
    opened_at: datetime
    decided_at: datetime | None = None


class InspectionView(_Model):
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


class FieldProblem(_Model):
    field: str | None
    message: str | None


class ProblemDetails(_Model):
    """RFC 9457 problem+json, as every refusal is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] = Field(default=[], description="Each refused field and why.")


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(
        ProblemDetails, description=description, media_type="application/problem+json", generate_examples=False
    )


NOT_FOUND = {404: _problem("No such inspection.")}
REFUSALS = {
    **NOT_FOUND,
    409: _problem("The inspection is already decided, or its job was cancelled; nothing was written."),
    422: _problem("A missing, unknown, repeated or mis-united indicator, each field named; nothing was written."),
}


def _view(doc: dict[str, Any]) -> InspectionView:
    results = doc.get("results", [])
    return InspectionView(
        inspection_id=doc["_id"],
        failed_indicators=[r["code"] for r in results if not r["passed"]],
        **{k: v for k, v in doc.items() if k in InspectionView.model_fields and k != "failed_indicators"},
    )


def _summary(doc: dict[str, Any]) -> InspectionSummary:
    equipment = doc["equipment"]
    return InspectionSummary(
        inspection_id=doc["_id"],
        job_id=doc["job_id"],
        round=doc["round"],
        status=doc["status"],
        template_id=doc["template_id"],
        equipment_model=f"{equipment['brand']} {equipment['model']}",
        serial_number=equipment["serial_number"],
        opened_at=doc["opened_at"],
        decided_at=doc.get("decided_at"),
    )


SUMMARY_FIELDS = {
    "job_id": 1,
    "round": 1,
    "status": 1,
    "template_id": 1,
    "equipment": 1,
    "opened_at": 1,
    "decided_at": 1,
}


@get("/inspections", **requires(Role.INSPECTOR), operation_id="ListInspections")
async def list_inspections(
    runtime: NamedDependency[Runtime],
    status: Annotated[InspectionStatus | None, Parameter(description="Only inspections in this state.")] = None,
    job_id: Annotated[str | None, Parameter(max_length=64, description="Only this job's inspections.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[InspectionSummary]:
    """Inspections, oldest first: `?status=open` is the inspector's work queue; `?job_id=` finds a job's rounds."""
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status
    if job_id is not None:
        query["job_id"] = job_id
    collection = runtime.db[store.INSPECTIONS]
    cursor = collection.find(query, SUMMARY_FIELDS).sort([("opened_at", 1), ("_id", 1)]).skip(offset).limit(limit)
    items = [_summary(doc) async for doc in cursor]
    return Page(items=items, total=await collection.count_documents(query), limit=limit, offset=offset)


@get(
    "/inspections/{inspection_id:str}",
    **requires(Role.INSPECTOR),
    operation_id="GetInspection",
    responses=NOT_FOUND,
)
async def get_inspection(runtime: NamedDependency[Runtime], inspection_id: FromPath[str]) -> InspectionView:
    """One inspection with its checklist (what to measure and the limits) and, once decided, its results."""
    doc = await runtime.db[store.INSPECTIONS].find_one({"_id": inspection_id})
    if doc is None:
        raise Problem(404, f"no inspection {inspection_id!r}", field="inspection_id")
    return _view(doc)


@post(
    "/inspections/{inspection_id:str}/results",
    **requires(Role.INSPECTOR),
    operation_id="RecordInspectionResults",
    status_code=200,
    responses=REFUSALS,
)
async def record_results(
    request: Request,
    runtime: NamedDependency[Runtime],
    inspection_id: FromPath[str],
    data: JSONBody[InspectionResultsIn],
) -> InspectionView:
    """Record every indicator; the inspection passes only if each is within its limits.

    Publishes job.inspection_passed, or job.inspection_failed (the job goes back to maintenance for
    another round) and, from the configured number of failed rounds on, job.inspection_escalated.
    Refusals (404, 409, 422) write and publish nothing.
    """
    inspector = _inspector(request)
    readings = [Reading(m.code, m.value, m.unit) for m in data.measurements]
    try:
        decided = await runtime.outbox.transact(
            lambda uow: recording.record_results(
                uow,
                inspection_id,
                readings,
                inspector=inspector,
                notes=data.notes,
                escalation_threshold=InspectionPolicy().escalation_failed_rounds,
                now=runtime.clock.now(),
            )
        )
    except InspectionNotFound:
        raise Problem(404, f"no inspection {inspection_id!r}", field="inspection_id") from None
    except InspectionClosed as closed:
        raise Problem(409, str(closed), field="inspection_id") from None
    except ReadingsRefused as refused:
        raise Problem(
            422,
            f"the readings cannot be evaluated: {refused}",
            errors=[{"field": e.field, "message": e.message} for e in refused.errors],
        ) from None
    return _view(decided)


def _inspector(request: Request) -> StaffMember:
    principal = principal_of(request)
    try:
        return StaffMember(
            user_id=principal.subject,
            name=str(principal.claims.get("name") or principal.subject),
            role=StaffRole.INSPECTOR,
        )
    except ValidationError:
        raise Problem(403, "the token's subject is not a valid user id", field="sub") from None


ROUTES = [list_inspections, get_inspection, record_results]
