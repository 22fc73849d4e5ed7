"""Manual (re)assignment by a dispatcher."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compressor_contracts import StaffMember, StaffRole
from compressor_contracts.common import Identifier, ShortText, Text
from compressor_kit.auth import principal_of, requires
from dispatch_service.jobs.api import JobView
from dispatch_service.jobs.domain import Window
from dispatch_service.matching.commands import assign_by_hand
from dispatch_service.settings import DispatchRuntime

TAGS = ["Matching"]
JobId = Annotated[str, Parameter(description="Job id (from intake).")]
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class ScheduledWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime
    end: AwareDatetime


class ManualAssignment(BaseModel):
    """A dispatcher's assignment or reassignment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "engineer_id": "ENG-002",
                    "reason": "Covering central today; the customer agreed to the afternoon visit.",
                    "scheduled_window": {"start": "2030-01-07T14:00:00+08:00", "end": "2030-01-07T16:00:00+08:00"},
                    "dispatcher_name": "Aina Rahman",
                }
            ]
        },
    )
    engineer_id: Identifier = Field(description="The engineer to assign, e.g. ENG-002.")
    reason: Text = Field(description="Why, in the dispatcher's words (goes into job.assigned).")
    scheduled_window: ScheduledWindow | None = Field(
        default=None, description="The visit slot; omitted: the engineer's earliest free slot."
    )
    dispatcher_name: ShortText | None = Field(
        default=None, description="Name shown in the event; default: token 'name'."
    )


@post(
    "/jobs/{job_id:str}/assignment",
    **requires(StaffRole.DISPATCHER),
    operation_id="assignJobManually",
    tags=TAGS,
    status_code=200,
)
async def assign_manually(
    job_id: JobId,
    data: JSONBody[ManualAssignment],
    request: Request[Any, Any, Any],
    runtime: NamedDependency[DispatchRuntime],
) -> JobView:
    """Assign an unassigned job, or reassign an assigned one, to the engineer named, with a reason.
    Publishes job.assigned (mode manual, previous_engineer on reassignment)."""
    principal = principal_of(request)
    dispatcher = StaffMember(
        user_id=principal.subject if IDENTIFIER.match(principal.subject) else "dispatcher",
        name=data.dispatcher_name or str(principal.claims.get("name") or principal.subject)[:200],
        role=StaffRole.DISPATCHER,
    )
    window = data.scheduled_window
    job = await assign_by_hand(
        runtime,
        job_id,
        data.engineer_id,
        data.reason,
        Window(start=window.start, end=window.end) if window else None,
        dispatcher,
    )
    return JobView.of(job)


ROUTES = [assign_manually]
