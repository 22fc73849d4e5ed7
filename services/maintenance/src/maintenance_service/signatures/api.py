"""The customer accepts the inspected work with a signature on the engineer's phone (job.signed).

Plan approvals are signed through planning's approve route; both record the signature the same way:
the image checked and stored first, then the signature, its hash and the event in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import ConfigDict, Field

from compressor_contracts import StaffRole
from compressor_contracts.events.maintenance import SignedFor
from compressor_kit.auth import principal_of, requires
from compressor_kit.outbox import UnitOfWork
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.signatures.domain import (
    IMAGE_EXAMPLE,
    SIGNER_EXAMPLE,
    SignatureDraft,
    acceptable_round,
    sign,
    signature_png,
)
from maintenance_service.signatures.images import keep_image, recording
from maintenance_service.work_orders.api import WorkOrderView, readable_work_order, work_order_view
from maintenance_service.work_orders.domain import WorkOrder
from maintenance_service.work_orders.store import Decision, change_work_order

TAGS = ["Signatures"]


def new_signature_id() -> str:
    return f"SIG-{uuid.uuid4().hex}"


class WorkAcceptance(SignatureDraft):
    """The customer's responsible person accepts the work whose quality inspection passed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"signer": SIGNER_EXAMPLE, "image": IMAGE_EXAMPLE, "round": 1}]},
    )

    round: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="The round whose inspection passed, as the signer saw it; refused if another.",
    )


@post(
    "/work-orders/{job_id:str}/signatures",
    **requires(StaffRole.ENGINEER),
    operation_id="signWorkAcceptance",
    summary="The customer accepts the inspected work with a signature on the assigned engineer's phone (job.signed)",
    tags=TAGS,
)
async def accept_work(
    job_id: FromPath[str],
    data: JSONBody[WorkAcceptance],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[MaintenanceRuntime],
) -> WorkOrderView:
    user, now = principal_of(request).subject, runtime.clock.now()
    # Everything that can refuse is checked before the image is stored: a refusal stores nothing.
    acceptable_round(await readable_work_order(runtime, request, job_id), user, data.round)
    png = signature_png(data.image, field="image")
    signature_id = new_signature_id()
    image = await keep_image(runtime, job_id, signature_id, png)

    async def decide(order: WorkOrder, uow: UnitOfWork) -> Decision[WorkOrder]:
        engineer, accepted_round = acceptable_round(order, user, data.round)
        updated, event = sign(
            order,
            signature_id=signature_id,
            signed_for=SignedFor.WORK_ACCEPTANCE,
            signer=data.signer,
            image=image,
            user_id=user,
            collected_by=engineer,
            now=now,
            round_=accepted_round,
        )
        return updated, [event], updated

    async with recording(runtime, image):
        return work_order_view(await change_work_order(runtime, job_id, decide))


ROUTES = [accept_work]
