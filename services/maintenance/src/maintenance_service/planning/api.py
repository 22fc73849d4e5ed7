"""Phase 4 routes: procedures, proposing a plan, the customer's approval or rejection."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import EventData, StaffRole
from compressor_contracts.common import CompressorType, CustomerRepresentative, Engineer, StoredObject
from compressor_contracts.events.maintenance import SignedFor
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
    plan_awaiting_decision,
    procedures_for,
    propose,
    reject,
)
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.signatures.api import new_signature_id
from maintenance_service.signatures.domain import (
    IMAGE_DESCRIPTION,
    IMAGE_EXAMPLE,
    SIGNER_EXAMPLE,
    SignatureDraft,
    approval_signature_collector,
    sign,
    signature_png,
)
from maintenance_service.signatures.images import keep_image, recording
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
        default=None, description="Who decides; defaults to the signer, else the job's contact person."
    )
    comments: str | None = Field(default=None, min_length=1, max_length=2000)


class PlanApproval(PlanDecision):
    """The approval of a plan revision, signed by the customer's responsible person: required when the
    customer approves in the portal and when the assigned engineer records it on site; a manager recording
    the customer's decision given by phone needs none. A signed approval also publishes job.signed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"signature": {"signer": SIGNER_EXAMPLE, "image": IMAGE_EXAMPLE}, "comments": "Proceed today."},
                {"approver": APPROVER_EXAMPLE, "comments": "Approved by phone."},
            ]
        },
    )

    signature: SignatureDraft | None = Field(
        default=None, description="The signer and the drawn signature (" + IMAGE_DESCRIPTION + ")"
    )


def _decided_by(
    order: WorkOrder, principal: Principal, given: CustomerRepresentative | None, *, on_site: bool = False
) -> CustomerRepresentative:
    name = principal.claims.get("name")
    return decided_by(
        order, principal.subject, principal.roles, name if isinstance(name, str) else None, given, on_site=on_site
    )


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
    **requires(CUSTOMER, StaffRole.MANAGER, StaffRole.ENGINEER),
    operation_id="approvePlan",
    summary="The customer's responsible person approves, signed in the portal or on the assigned engineer's "
    "phone (or a manager records it); the plan's parts are reserved (job.plan_approved, job.signed)",
    status_code=200,
    tags=TAGS,
)
async def approve_plan(
    job_id: FromPath[str],
    revision: Annotated[int, Parameter(ge=0, le=1_000_000)],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
    data: JSONBody[PlanApproval | None] = None,
) -> WorkOrderView:
    principal, now = principal_of(request), runtime.clock.now()
    decision = data or PlanApproval()
    signature = decision.signature
    given = decision.approver or (signature.signer if signature else None)

    def signature_rules(order: WorkOrder) -> Engineer | None:
        _decided_by(order, principal, given, on_site=True)
        collector = approval_signature_collector(
            order, principal.subject, principal.roles, revision, signature is not None
        )
        plan_awaiting_decision(order, revision)
        return collector

    # Everything that can refuse is checked before the image is stored: a refusal stores nothing.
    image: StoredObject | None = None
    signature_id = new_signature_id()
    if signature is not None or StaffRole.MANAGER not in principal.roles:
        signature_rules(await readable_work_order(runtime, request, job_id))
    if signature is not None:
        image = await keep_image(runtime, job_id, signature_id, signature_png(signature.image))

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        collector = signature_rules(order)
        approver = _decided_by(order, principal, given, on_site=True)
        updated, event, reservation = approve(order, revision, approver, principal.subject, decision.comments, now)
        events: list[EventData] = [event]
        if signature is not None and image is not None:
            updated, signed = sign(
                updated,
                signature_id=signature_id,
                signed_for=SignedFor.PLAN_APPROVAL,
                signer=signature.signer,
                image=image,
                user_id=principal.subject,
                collected_by=collector,
                now=now,
                plan_revision=revision,
            )
            events.append(signed)
        # Stock rows are shared by every job: reserve last, so concurrent approvals conflict least.
        uow.write_last(lambda: stock.reserve(uow, job_id, reservation, now))
        return updated, events, updated

    async with recording(runtime, image), stock.turn(runtime):
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
