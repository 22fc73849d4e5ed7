"""Reading work orders, and the view of a work order every route of the service answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_contracts.common import Contact, Customer, Engineer, Equipment, PlanStep, Site
from compressor_contracts.examples import CONTACT, CUSTOMER, ENGINEER, EQUIPMENT, JOB_ID, PARTS, SITE, STEPS
from compressor_kit import auth
from compressor_kit.auth import principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from maintenance_service.execution.domain import next_step
from maintenance_service.parts.domain import waiting_reason
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.work_orders import store
from maintenance_service.work_orders.domain import (
    Diagnosis,
    PassedInspection,
    PhotoUpload,
    Plan,
    Prediagnosis,
    Round,
    Signature,
    Status,
    WorkOrder,
)

TAGS = ["Work orders"]
OFFICE = {StaffRole.MANAGER, StaffRole.DISPATCHER, StaffRole.ADMIN}


def _example() -> dict[str, Any]:
    def dump(items: list[Any]) -> list[Any]:
        return [item.model_dump(mode="json") for item in items]

    return {
        "job_id": JOB_ID,
        "status": "in_progress",
        "correlation_id": "0b1f6a1e-6c57-4f5b-9d1e-3c2f1b7e9a10",
        "customer": CUSTOMER.model_dump(mode="json"),
        "contact": CONTACT.model_dump(mode="json"),
        "engineer": ENGINEER.model_dump(mode="json"),
        "assigned_at": "2026-03-02T09:15:00Z",
        "equipment": EQUIPMENT.model_dump(mode="json"),
        "site": SITE.model_dump(mode="json"),
        "priority": "high",
        "fault_description": "Compressor trips on high discharge temperature after about 40 minutes of running.",
        "prediagnosis": {
            "confirmed_symptoms": ["Trip at 110 °C discharge temperature"],
            "suspected_causes": ["Thermostatic valve stuck open"],
            "likely_parts": dump(PARTS[:1]),
            "arrive_by": "2026-03-02T16:15:00Z",
            "resolve_by": "2026-03-03T16:15:00Z",
        },
        "arrived_at": "2026-03-02T12:40:00Z",
        "photo_uploads": [],
        "diagnosis": {
            "measurements": [
                {"name": "Discharge temperature", "value": 109.5, "unit": "°C", "instrument": "Fluke 54 II"}
            ],
            "root_cause": "Thermostatic valve element stuck open; oil bypasses the cooler.",
            "failure_category": "cooling",
            "scope": "Oil circuit: thermostatic valve and oil filter.",
            "running_hours": 23410,
            "photo_keys": [],
            "diagnosed_at": "2026-03-02T13:20:00Z",
        },
        "plans": [
            {
                "revision": 1,
                "procedure_id": "PROC-GA-VSD-OILCIRCUIT",
                "steps": dump(STEPS),
                "parts": dump(PARTS[:2]),
                "estimated_hours": 3.0,
                "standards": ["ISO 1217:2009"],
                "waiting_for_parts": [],
                "status": "approved",
                "proposed_at": "2026-03-02T13:45:00Z",
                "decided_at": "2026-03-02T14:05:00Z",
                "decided_by": {"name": "Aminah binti Rahman", "role": "Plant maintenance lead"},
                "decided_by_user": "CUST-0107",
                "comments": None,
            }
        ],
        "reserved_parts": {"1622-3600-00": 1.0, "1625-4800-00": 1.0},
        "rounds": [
            {
                "round": 1,
                "status": "in_progress",
                "plan_revision": 1,
                "steps": dump(STEPS),
                "rework_indicators": [],
                "steps_done": [],
                "skipped": [],
                "started_at": "2026-03-02T14:30:00Z",
                "completed_at": None,
                "parts_used": [],
                "labour_hours": None,
                "repair_method": None,
            }
        ],
        "inspection_passed": None,
        "signatures": [],
        "cancelled_at": None,
        "cancel_reason": None,
        "waiting_for_parts_reason": None,
        "next_step": STEPS[0].model_dump(mode="json"),
    }


class WorkOrderView(BaseModel):
    """The work order as the engineer, the customer and the office see it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_example()]})

    job_id: str
    status: Status
    correlation_id: str | None = None
    customer: Customer | None = None
    contact: Contact | None = None
    engineer: Engineer | None = None
    assigned_at: datetime | None = None
    equipment: Equipment | None = None
    site: Site | None = None
    priority: str | None = None
    fault_description: str | None = None
    prediagnosis: Prediagnosis | None = None
    arrived_at: datetime | None = None
    photo_uploads: list[PhotoUpload] = []
    diagnosis: Diagnosis | None = None
    plans: list[Plan] = []
    reserved_parts: dict[str, float] = Field(
        default_factory=dict, description="Parts still reserved in the store for this job (part number -> quantity)."
    )
    rounds: list[Round] = []
    inspection_passed: PassedInspection | None = Field(
        default=None, description="The round whose quality inspection passed: its work may be accepted."
    )
    signatures: list[Signature] = Field(
        default_factory=list, description="The customer's signatures: plan approvals and the work's acceptance."
    )
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    waiting_for_parts_reason: str | None = Field(description="Why the proposed plan waits for parts, if it does.")
    next_step: PlanStep | None = Field(description="The step to do next while a round is in progress.")


def work_order_view(order: WorkOrder) -> WorkOrderView:
    plan = order.current_plan
    current = order.current_round
    upcoming = next_step(current) if current and order.status == Status.IN_PROGRESS else None
    return WorkOrderView(
        **{name: value for name, value in order if name != "version"},
        waiting_for_parts_reason=waiting_reason(plan.waiting_for_parts) if plan else None,
        next_step=upcoming,
    )


async def readable_work_order(runtime: MaintenanceRuntime, request: Request[Any, Any, Any], job_id: str) -> WorkOrder:
    """The work order, if the caller may see it: office roles, its engineer, its customer."""
    order = await store.find(runtime, job_id)
    if order is None:
        raise Refusal.not_found(f"no work order for job {job_id}", field="job_id")
    principal = principal_of(request)
    if principal.roles & OFFICE:
        return order
    if StaffRole.ENGINEER in principal.roles and order.engineer and order.engineer.engineer_id == principal.subject:
        return order
    if auth.CUSTOMER in principal.roles and order.customer and order.customer.customer_id == principal.subject:
        return order
    raise Refusal.forbidden(f"job {job_id} is not yours")


@get(
    "/work-orders",
    **requires(StaffRole.ENGINEER, StaffRole.MANAGER, StaffRole.DISPATCHER, StaffRole.ADMIN),
    operation_id="listWorkOrders",
    summary="Work orders: an engineer sees their own, the office sees all",
    tags=TAGS,
)
async def list_work_orders(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
    status: FromQuery[Status | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[WorkOrderView]:
    principal = principal_of(request)
    engineer_id = None if principal.roles & OFFICE else principal.subject
    orders, total = await store.find_all(runtime, engineer_id=engineer_id, status=status, limit=limit, offset=offset)
    return Page(items=[work_order_view(order) for order in orders], total=total, limit=limit, offset=offset)


@get(
    "/work-orders/{job_id:str}",
    **requires(StaffRole.ENGINEER, auth.CUSTOMER, StaffRole.MANAGER, StaffRole.DISPATCHER, StaffRole.ADMIN),
    operation_id="getWorkOrder",
    summary="One work order with its diagnosis, plans, rounds and next step",
    tags=TAGS,
)
async def get_work_order(
    job_id: FromPath[str], request: Request[Any, Any, Any], runtime: NamedDependency[MaintenanceRuntime]
) -> WorkOrderView:
    return work_order_view(await readable_work_order(runtime, request, job_id))


ROUTES = [list_work_orders, get_work_order]
