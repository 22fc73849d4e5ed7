"""Jobs for dispatchers: the unassigned queue, job views, and manual (re)assignment."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compressor_contracts import AssignmentMode, Engineer, Priority, StaffMember, StaffRole
from compressor_contracts.common import Identifier, ShortText, Text
from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from dispatch_service.engineers.domain import EngineerProfile
from dispatch_service.jobs import CLOSED, ENGINEERS, JOBS, STATUSES, UNASSIGNED, job_view, load_job
from dispatch_service.matching.domain import free_slot, skills_matching
from dispatch_service.matching.store import bookings_around, record_assignment
from dispatch_service.settings import dispatch_settings

JobId = Annotated[str, Parameter(description="Job id (from intake).")]
STAFF = {Role.DISPATCHER, Role.MANAGER, Role.ADMIN}
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime
    end: AwareDatetime


class ManualAssignment(BaseModel):
    """A dispatcher's assignment or reassignment."""

    model_config = ConfigDict(extra="forbid")
    engineer_id: Identifier = Field(description="The engineer to assign, e.g. ENG-002.")
    reason: Text = Field(description="Why, in the dispatcher's words (goes into job.assigned).")
    scheduled_window: Window | None = Field(
        default=None, description="The visit slot; omitted: the engineer's earliest free slot."
    )
    dispatcher_name: ShortText | None = Field(
        default=None, description="Name shown in the event; default: token 'name'."
    )


@get(
    "/jobs/unassigned",
    **requires(Role.DISPATCHER, Role.MANAGER, Role.ADMIN),
    operation_id="listUnassignedJobs",
    tags=["dispatching"],
)
async def list_unassigned(
    runtime: NamedDependency[Runtime],
    limit: Limit = 50,
    offset: Offset = 0,
    priority: Annotated[Priority | None, Parameter(description="Only this priority.")] = None,
    region: Annotated[str | None, Parameter(description="Only sites in this region.")] = None,
) -> Page[dict[str, Any]]:
    """Jobs nobody could be matched to, most urgent first (priority, then oldest request)."""
    query: dict[str, Any] = {"status": UNASSIGNED}
    if priority:
        query["priority"] = priority.value
    if region:
        query["site.region"] = region
    return await _page(runtime, query, limit, offset)


@get(
    "/jobs",
    **requires(Role.DISPATCHER, Role.MANAGER, Role.ADMIN, Role.ENGINEER),
    operation_id="listJobs",
    tags=["dispatching"],
)
async def list_jobs(
    request: Request,
    runtime: NamedDependency[Runtime],
    limit: Limit = 50,
    offset: Offset = 0,
    status: Annotated[str | None, Parameter(description=f"One of: {', '.join(STATUSES)}.")] = None,
    engineer_id: Annotated[str | None, Parameter(description="Only jobs of this engineer.")] = None,
    priority: Annotated[Priority | None, Parameter(description="Only this priority.")] = None,
) -> Page[dict[str, Any]]:
    """Jobs, most urgent first. An engineer (role only) sees only their own jobs."""
    principal = principal_of(request)
    if not principal.roles & STAFF:
        engineer_id = principal.subject
    if status is not None and status not in STATUSES:
        raise Problem(422, f"unknown status {status!r}; one of {', '.join(STATUSES)}", field="status")
    query: dict[str, Any] = {"priority": {"$exists": True}}
    if status:
        query["status"] = status
    if engineer_id:
        query["engineer.engineer_id"] = engineer_id
    if priority:
        query["priority"] = priority.value
    return await _page(runtime, query, limit, offset)


async def _page(runtime: Runtime, query: dict[str, Any], limit: int, offset: int) -> Page[dict[str, Any]]:
    total = await runtime.db[JOBS].count_documents(query)
    cursor = runtime.db[JOBS].find(query).sort([("priority_rank", 1), ("requested_at", 1), ("_id", 1)])
    docs = await cursor.skip(offset).limit(limit).to_list()
    return Page(items=[job_view(d) for d in docs], total=total, limit=limit, offset=offset)


@get(
    "/jobs/{job_id:str}",
    **requires(Role.DISPATCHER, Role.MANAGER, Role.ADMIN, Role.ENGINEER),
    operation_id="getJob",
    tags=["dispatching"],
)
async def get_job(job_id: JobId, request: Request, runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """One job with its assignment, pre-diagnosis, commitment and SLA state."""
    job = await load_job(runtime.db, job_id)
    principal = principal_of(request)
    if not principal.roles & STAFF and (job.get("engineer") or {}).get("engineer_id") != principal.subject:
        raise Problem(403, "this job is assigned to another engineer", field="job_id")
    return job_view(job)


@post(
    "/jobs/{job_id:str}/assignment",
    **requires(Role.DISPATCHER),
    operation_id="assignJobManually",
    tags=["dispatching"],
    status_code=200,
)
async def assign_manually(
    job_id: JobId, data: JSONBody[ManualAssignment], request: Request, runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Assign an unassigned job, or reassign an assigned one, to the engineer named, with a reason.
    Publishes job.assigned (mode manual, previous_engineer on reassignment)."""
    principal = principal_of(request)
    settings = dispatch_settings(runtime)
    now = runtime.clock.now()
    dispatcher = StaffMember(
        user_id=principal.subject if _is_identifier(principal.subject) else "dispatcher",
        name=data.dispatcher_name or str(principal.claims.get("name") or principal.subject)[:200],
        role=StaffRole.DISPATCHER,
    )
    if data.scheduled_window is not None:
        if data.scheduled_window.end <= data.scheduled_window.start:
            raise Problem(422, "end must be after start", field="scheduled_window.end")
        if data.scheduled_window.end <= now:
            raise Problem(422, "the window is in the past", field="scheduled_window.end")

    async def work(uow: Any) -> dict[str, Any]:
        job = await load_job(uow.db, job_id, session=uow.session)
        if job["status"] in CLOSED:
            raise Problem(409, f"job {job_id} is {job['status']}", field="job_id")
        current = (job.get("engineer") or {}).get("engineer_id")
        if current == data.engineer_id:
            raise Problem(409, f"job {job_id} is already assigned to {current}", field="engineer_id")
        doc = await uow.db[ENGINEERS].find_one({"_id": data.engineer_id}, session=uow.session)
        if doc is None:
            raise Problem(422, f"unknown engineer {data.engineer_id}", field="engineer_id")
        engineer = EngineerProfile.from_document(doc)
        if not engineer.active:
            raise Problem(422, f"engineer {data.engineer_id} is inactive", field="engineer_id")
        equipment = job["equipment"]
        if data.scheduled_window is not None:
            start, end = data.scheduled_window.start, data.scheduled_window.end
            day = engineer.local_day(start)
        else:
            horizon = now + timedelta(days=settings.dispatch_manual_horizon_days)
            bookings = await bookings_around(uow, [engineer], now, horizon)
            slot, why = free_slot(
                engineer,
                bookings.get(engineer.engineer_id, {}),
                now,
                horizon,
                timedelta(minutes=settings.dispatch_visit_minutes),
            )
            if slot is None:
                raise Problem(
                    409,
                    f"{engineer.engineer_id} is {why}; give a scheduled_window",
                    field="scheduled_window",
                )
            start, end, day = slot.start, slot.end, slot.day
        matched = skills_matching(engineer, equipment["compressor_type"], equipment["brand"])
        await record_assignment(
            uow,
            job,
            engineer=Engineer(engineer_id=engineer.engineer_id, name=engineer.name),
            day=day,
            start=start,
            end=end,
            mode=AssignmentMode.MANUAL,
            matched_skills=list(matched),
            reason=data.reason,
            now=now,
            assigned_by=dispatcher,
        )
        return job_view(await load_job(uow.db, job_id, session=uow.session))

    return await runtime.outbox.transact(work)


def _is_identifier(value: str) -> bool:
    return bool(IDENTIFIER.match(value))


ROUTES = [list_unassigned, list_jobs, get_job, assign_manually]
