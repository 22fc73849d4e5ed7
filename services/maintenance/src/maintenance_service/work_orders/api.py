"""Reading work orders; the translation of domain refusals into problem+json."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import problem_response
from compressor_kit.runtime import Runtime
from maintenance_service.execution.domain import next_step
from maintenance_service.parts.domain import waiting_reason
from maintenance_service.work_orders.domain import Refused, Status, WorkOrder
from maintenance_service.work_orders.store import WORK_ORDERS, from_document, load


def refused_as_problem(request: Request, exc: Refused) -> Response:
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else []
    return problem_response(request, exc.status, exc.detail, **({"errors": errors} if errors else {}))


def work_order_view(order: WorkOrder) -> dict[str, Any]:
    """The work order as the engineer, the customer and the office see it."""
    view = order.model_dump(mode="json", exclude={"version"})
    plan = order.current_plan
    view["waiting_for_parts_reason"] = waiting_reason(plan.waiting_for_parts) if plan else None
    current = order.current_round
    upcoming = next_step(current) if current and order.status == Status.IN_PROGRESS else None
    view["next_step"] = upcoming.model_dump(mode="json") if upcoming else None
    return view


async def readable_work_order(runtime: Runtime, request: Request, job_id: str) -> WorkOrder:
    """The work order, if the caller may see it: office roles, its engineer, its customer."""
    order = await load(runtime.db, job_id)
    if order is None:
        raise Refused(404, f"no work order for job {job_id}", field="job_id")
    principal = principal_of(request)
    if principal.roles & {Role.MANAGER, Role.DISPATCHER, Role.ADMIN}:
        return order
    if Role.ENGINEER in principal.roles and order.engineer and order.engineer.engineer_id == principal.subject:
        return order
    if Role.CUSTOMER in principal.roles and order.customer and order.customer.customer_id == principal.subject:
        return order
    raise Refused(403, f"job {job_id} is not yours")


@get(
    "/work-orders",
    **requires(Role.ENGINEER, Role.MANAGER, Role.DISPATCHER, Role.ADMIN),
    operation_id="listWorkOrders",
    summary="Work orders: an engineer sees their own, the office sees all",
)
async def list_work_orders(
    request: Request,
    runtime: NamedDependency[Runtime],
    status: FromQuery[Status | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[dict[str, Any]]:
    principal = principal_of(request)
    query: dict[str, Any] = {}
    if not principal.roles & {Role.MANAGER, Role.DISPATCHER, Role.ADMIN}:
        query["engineer.engineer_id"] = principal.subject
    if status is not None:
        query["status"] = status.value
    collection = runtime.db[WORK_ORDERS]
    total = await collection.count_documents(query)
    docs = collection.find(query).sort("_id", 1).skip(offset).limit(limit)
    items = [work_order_view(from_document(doc)) async for doc in docs]
    return Page(items=items, total=total, limit=limit, offset=offset)


@get(
    "/work-orders/{job_id:str}",
    **requires(Role.ENGINEER, Role.CUSTOMER, Role.MANAGER, Role.DISPATCHER, Role.ADMIN),
    operation_id="getWorkOrder",
    summary="One work order with its diagnosis, plans, rounds and next step",
)
async def get_work_order(job_id: FromPath[str], request: Request, runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    return work_order_view(await readable_work_order(runtime, request, job_id))


ROUTES = [list_work_orders, get_work_order]
