"""Phase 4 routes: procedures, proposing a plan, the customer's approval or rejection."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts.common import CompressorType, CustomerRepresentative
from compressor_kit.auth import Principal, Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.runtime import Runtime
from maintenance_service.parts import store as stock
from maintenance_service.parts.domain import CATALOGUE, shortages
from maintenance_service.planning.domain import (
    PlanDraft,
    Procedure,
    approve,
    build_plan,
    load_procedures,
    procedures_for,
    propose,
    reject,
    require_approver,
)
from maintenance_service.work_orders.api import readable_work_order, work_order_view
from maintenance_service.work_orders.domain import Refused, WorkOrder, invalid
from maintenance_service.work_orders.store import change_work_order

PROCEDURES = load_procedures(catalogue=CATALOGUE)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approver: CustomerRepresentative | None = Field(
        default=None, description="Who decides; defaults to the job's contact person."
    )
    comments: str | None = Field(default=None, min_length=1, max_length=2000)


def decider(order: WorkOrder, principal: Principal, given: CustomerRepresentative | None) -> CustomerRepresentative:
    require_approver(order, principal.subject, principal.roles)
    if given is not None:
        return given
    if Role.CUSTOMER in principal.roles and order.contact is not None:
        return CustomerRepresentative(name=order.contact.name, role=order.contact.role or "Responsible person")
    return CustomerRepresentative(name=principal.claims.get("name") or principal.subject, role="Service manager")


@get(
    "/procedures",
    **requires(Role.ENGINEER, Role.MANAGER, Role.DISPATCHER, Role.ADMIN),
    operation_id="listProcedures",
    summary="Manufacturer maintenance procedures, optionally for one compressor type or model",
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
    **requires(Role.ENGINEER, Role.MANAGER, Role.DISPATCHER, Role.ADMIN),
    operation_id="getProcedure",
    sync_to_thread=False,
)
def get_procedure(procedure_id: FromPath[str]) -> Procedure:
    if procedure_id not in PROCEDURES:
        raise Refused(404, f"unknown procedure {procedure_id!r}", field="procedure_id")
    return PROCEDURES[procedure_id]


@get(
    "/work-orders/{job_id:str}/procedures",
    **requires(Role.ENGINEER, Role.MANAGER),
    operation_id="listProceduresForJob",
    summary="The procedures that fit the job's compressor, model-specific first",
)
async def procedures_for_job(
    job_id: FromPath[str], request: Request, runtime: NamedDependency[Runtime]
) -> list[Procedure]:
    order = await readable_work_order(runtime, request, job_id)
    return procedures_for(PROCEDURES, order.equipment) if order.equipment else []


@post(
    "/work-orders/{job_id:str}/plans",
    **requires(Role.ENGINEER),
    operation_id="proposePlan",
    summary="Propose a plan (or a revision) built from a procedure (job.plan_proposed)",
)
async def propose_plan(
    job_id: FromPath[str], data: JSONBody[PlanDraft], request: Request, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order: WorkOrder, uow):
        order.require_active()
        order.require_engineer(user)
        if order.equipment is None:
            raise invalid("the job's equipment is unknown", "procedure_id")
        procedure, steps, parts, hours, standards = build_plan(data, order.equipment, PROCEDURES, CATALOGUE)
        missing = shortages(parts, await stock.available(uow, {p.part_number for p in parts}), CATALOGUE)
        updated, event = propose(order, user, procedure, steps, parts, hours, standards, missing, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


@post(
    "/work-orders/{job_id:str}/plans/{revision:int}/approve",
    **requires(Role.CUSTOMER, Role.MANAGER),
    operation_id="approvePlan",
    summary="The customer's responsible person approves; the plan's parts are reserved (job.plan_approved)",
    status_code=200,
)
async def approve_plan(
    job_id: FromPath[str],
    revision: Annotated[int, Parameter(ge=0, le=1_000_000)],
    request: Request,
    runtime: NamedDependency[Runtime],
    data: JSONBody[Decision | None] = None,
) -> dict[str, Any]:
    principal, now = principal_of(request), runtime.clock.now()
    data = data or Decision()

    async def decide(order: WorkOrder, uow):
        approver = decider(order, principal, data.approver)
        updated, event, reservation = approve(order, revision, approver, principal.subject, data.comments, now)
        # Stock rows are shared by every job: reserve last, so concurrent approvals conflict least.
        uow.write_last(lambda: stock.reserve(uow, job_id, reservation, now))
        return updated, [event], updated

    async with stock.stock_turn():
        return work_order_view(await change_work_order(runtime, job_id, decide))


class Rejection(Decision):
    comments: str = Field(min_length=1, max_length=2000, description="Why, and what to change.")


@post(
    "/work-orders/{job_id:str}/plans/{revision:int}/reject",
    **requires(Role.CUSTOMER, Role.MANAGER),
    operation_id="rejectPlan",
    summary="The customer's responsible person rejects with comments; a revision follows (job.plan_rejected)",
    status_code=200,
)
async def reject_plan(
    job_id: FromPath[str],
    revision: Annotated[int, Parameter(ge=0, le=1_000_000)],
    data: JSONBody[Rejection],
    request: Request,
    runtime: NamedDependency[Runtime],
) -> dict[str, Any]:
    principal, now = principal_of(request), runtime.clock.now()

    async def decide(order: WorkOrder, uow):
        rejected_by = decider(order, principal, data.approver)
        updated, event = reject(order, revision, rejected_by, principal.subject, data.comments, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


ROUTES = [list_procedures, get_procedure, procedures_for_job, propose_plan, approve_plan, reject_plan]
