"""Phase 5 routes: start a round, do (or skip) each step in order, complete the round."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_kit.auth import principal_of, requires
from compressor_kit.outbox import UnitOfWork
from maintenance_service.execution.domain import (
    AddedStep,
    CompletionDraft,
    complete_step,
    complete_work,
    skip_step,
    start_work,
)
from maintenance_service.parts import store as stock
from maintenance_service.parts.domain import CATALOGUE, settle
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.work_orders.api import WorkOrderView, work_order_view
from maintenance_service.work_orders.domain import WorkOrder
from maintenance_service.work_orders.store import Decision, change_work_order

TAGS = ["Execution"]


class StartRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"added_steps": [{"description": "Clean the oil cooler fins", "safety": False, "standard_minutes": 30}]}
            ]
        },
    )

    added_steps: list[AddedStep] = Field(
        default=[], max_length=50, description="Rework rounds only: steps added before the final test run."
    )


class StepNote(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Old filter element was heavily clogged."}]}
    )

    note: str | None = Field(default=None, min_length=1, max_length=2000, description="Added to the customer message.")


class SkipRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Oil changed 200 running hours ago; sample is clean."}]},
    )

    reason: str = Field(min_length=1, max_length=2000)


@post(
    "/work-orders/{job_id:str}/work/start",
    **requires(StaffRole.ENGINEER),
    operation_id="startWork",
    summary="Start the next work round on the approved plan (job.work_started)",
    status_code=200,
    tags=TAGS,
)
async def start(
    job_id: FromPath[str],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
    data: JSONBody[StartRequest | None] = None,
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()
    added = (data or StartRequest()).added_steps

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        updated, event = start_work(order, user, added, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


@post(
    "/work-orders/{job_id:str}/steps/{sequence:int}/complete",
    **requires(StaffRole.ENGINEER),
    operation_id="completeStep",
    summary="The next step is done; the customer is told (job.progress_reported)",
    status_code=200,
    tags=TAGS,
)
async def step_done(
    job_id: FromPath[str],
    sequence: Annotated[int, Parameter(ge=0, le=1_000_000)],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
    data: JSONBody[StepNote | None] = None,
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()
    note = data.note if data else None

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        updated, event = complete_step(order, user, sequence, note, now)
        return updated, [event], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


@post(
    "/work-orders/{job_id:str}/steps/{sequence:int}/skip",
    **requires(StaffRole.ENGINEER),
    operation_id="skipStep",
    summary="Skip the next step with a reason; safety steps cannot be skipped",
    status_code=200,
    tags=TAGS,
)
async def step_skipped(
    job_id: FromPath[str],
    sequence: Annotated[int, Parameter(ge=0, le=1_000_000)],
    data: JSONBody[SkipRequest],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        updated = skip_step(order, user, sequence, data.reason, now)
        return updated, [], updated

    return work_order_view(await change_work_order(runtime, job_id, decide))


@post(
    "/work-orders/{job_id:str}/work/complete",
    **requires(StaffRole.ENGINEER),
    operation_id="completeWork",
    summary="Complete the round: parts used (consumed from stock) and hours (job.work_completed)",
    status_code=200,
    tags=TAGS,
)
async def complete(
    job_id: FromPath[str],
    data: JSONBody[CompletionDraft],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        updated, event, used = complete_work(order, user, data, CATALOGUE, now)
        settlement = settle(order.reserved_parts, used)
        uow.write_last(lambda: stock.consume(uow, job_id, settlement, now))  # shared stock rows: last
        return updated, [event], updated

    async with stock.turn(runtime):
        return work_order_view(await change_work_order(runtime, job_id, decide))


ROUTES = [start, step_done, step_skipped, complete]
