"""Phase 4 routes: procedures, proposing a plan, the customer's approval or rejection."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_contracts.common import CompressorType, CustomerRepresentative
from compressor_kit.auth import CUSTOMER, Principal, principal_of, requires
from compressor_kit.outbox import UnitOfWork
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from maintenance_service.parts import store as stock
from maintenance_service.parts.domain import CATALOGUE, shortages
from maintenance_service.planning.domain import (
    PlanDraft,
    Procedure,
    approve,
    decided_by,
    draft_plan,
    load_procedures,
    procedures_for,
    propose,
    reject,
)
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.work_orders.api import WorkOrderView, readable_work_order, work_order_view
from maintenance_service.work_orders.domain import WorkOrder
from maintenance_service.work_orders.store import Decision, change_work_order

PROCEDURES = load_procedures(catalogue=CATALOGUE)
TAGS = ["Planning"]
APPROVER_EXAMPLE: dict[str, Any] = {"name": "Encik Faizal Hassan", "role": "Plant manager"}


class PlanDecision(BaseModel):
    """The customer's decision on a plan revision."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"approver": APPROVER_EXAMPLE, "comments": "Please finish before the night shift."}]
        },
    )

    approver: CustomerRepresentative | None = Field(
        default=None, description="Who decides; defaults to the job's contact person."
    )
    comments: str | None = Field(default=None, min_length=1, max_length=2000)


def _decided_by(order: WorkOrder, principal: Principal, given: CustomerRepresentative | None) -> CustomerRepresentative:
    name = principal.claims.get("name")
    return decided_by(order, principal.subject, principal.roles, name if isinstance(name, str) else None, given)


@get(
    "/procedures",
    **requires(StaffRole.ENGINEER, StaffRole.MANAGER, StaffRole.DISPATCHER, StaffRole.ADMIN),
    operation_id="listProcedures",
    summary="Manufacturer maintenance procedures, optionally for one compressor type or model",
    tags=TAGS,
)
async def list_procedures(
    compressor_type: FromQuery[CompressorType | None] = None,
    model_code: FromQuery[str | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Procedure]:
    found = [
        p
        for p in PROCEDURES.values()
        if (compressor_type is None or p.compressor_type == compressor_type)
        and (model_code is None or not p.model_codes or model_code in p.model_codes)
    ]
    return Page(items=found[offset : offset + limit], total=len(found), limit=limit, offset=offset)


@get(
    "/procedures/{procedure_id:str}",
    **requires(StaffRole.ENGINEER, StaffRole.MANAGER, StaffRole.DISPATCHER, StaffRole.ADMIN),
    operation_id="getProcedure",
    sync_to_thread=False,
    tags=TAGS,
)
def get_procedure(procedure_id: FromPath[str]) -> Procedure:
    if procedure_id not in PROCEDURES:
        raise Refusal.not_found(f"unknown procedure {procedure_id!r}", field="procedure_id")
    return PROCEDURES[procedure_id]


@get(
    "/work-orders/{job_id:str}/procedures",
    **requires(StaffRole.ENGINEER, StaffRole.MANAGER),
    operation_id="listProceduresForJob",
    summary="The procedures that fit the job's compressor, model-specific first",
    tags=TAGS,
)
async def procedures_for_job(
    job_id: FromPath[str], request: Request[Any, Any, Any], runtime: NamedDependency[MaintenanceRuntime]
) -> list[Procedure]:
    order = await readable_work_order(runtime, request, job_id)
    return procedures_for(PROCEDURES, order.equipment) if order.equipment else []


@post(
    "/work-orders/{job_id:str}/plans",
    **requires(StaffRole.ENGINEER),
    operation_id="proposePlan",
    summary="Propose a plan (or a revision) built from a procedure (job.plan_proposed)",
    tags=TAGS,
)
async def propose_plan(
    job_id: FromPath[str],
    data: JSONBody[PlanDraft],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        procedure, steps, parts, hours, standards = draft_plan(order, user, data, PROCEDURES, CATALOGUE)
        missing = shortages(parts, await stock.available(uow, {p.part_number for p in parts}), CATALOGUE)
        updated, event = propose(order, user, procedure, steps, parts, hours, standards, missing, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


@post(
    "/work-orders/{job_id:str}/plans/{revision:int}/approve",
    **requires(CUSTOMER, StaffRole.MANAGER),
    operation_id="approvePlan",
    summary="The customer's responsible person approves; the plan's parts are reserved (job.plan_approved)",
    status_code=200,
    tags=TAGS,
)
async def approve_plan(
    job_id: FromPath[str],
    revision: Annotated[int, Parameter(ge=0, le=1_000_000)],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
    data: JSONBody[PlanDecision | None] = None,
) -> WorkOrderView:
    principal, now = principal_of(request), runtime.clock.now()
    decision = data or PlanDecision()

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        approver = _decided_by(order, principal, decision.approver)
        updated, event, reservation = approve(order, revision, approver, principal.subject, decision.comments, now)
        # Stock rows are shared by every job: reserve last, so concurrent approvals conflict least.
        uow.write_last(lambda: stock.reserve(uow, job_id, reservation, now))
        return updated, [event], updated

    async with stock.turn(runtime):
        return work_order_view(await change_work_order(runtime, job_id, decide))


class Rejection(PlanDecision):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"approver": APPROVER_EXAMPLE, "comments": "Too long a stop; replace only the valve element."}]
        }
    )

    comments: str = Field(min_length=1, max_length=2000, description="Why, and what to change.")


@post(
    "/work-orders/{job_id:str}/plans/{revision:int}/reject",
    **requires(CUSTOMER, StaffRole.MANAGER),
    operation_id="rejectPlan",
    summary="The customer's responsible person rejects with comments; a revision follows (job.plan_rejected)",
    status_code=200,
    tags=TAGS,
)
async def reject_plan(
    job_id: FromPath[str],
    revision: Annotated[int, Parameter(ge=0, le=1_000_000)],
    data: JSONBody[Rejection],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
) -> WorkOrderView:
    principal, now = principal_of(request), runtime.clock.now()

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        rejected_by = _decided_by(order, principal, data.approver)
        updated, event = reject(order, revision, rejected_by, principal.subject, data.comments, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


ROUTES = [list_procedures, get_procedure, procedures_for_job, propose_plan, approve_plan, reject_plan]
