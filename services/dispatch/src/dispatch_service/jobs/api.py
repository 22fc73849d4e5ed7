"""Jobs as dispatchers, managers and engineers see them: the unassigned queue, lists and one job."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict

from compressor_contracts import (
    AssignmentMode,
    Customer,
    Engineer,
    Equipment,
    JobAssigned,
    JobRequested,
    Priority,
    Site,
    StaffRole,
)
from compressor_contracts.examples import example
from compressor_kit.auth import principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from dispatch_service.access import OFFICE
from dispatch_service.jobs import store
from dispatch_service.jobs.domain import Commitment, Departure, Job, JobStatus, Prediagnosis, Window
from dispatch_service.settings import DispatchRuntime

TAGS = ["Jobs"]
JobId = Annotated[str, Parameter(description="Job id (from intake).")]


def _example_job() -> dict[str, Any]:
    requested, assigned = example("job.requested.v1"), example("job.assigned.v1")
    assert isinstance(requested, JobRequested) and isinstance(assigned, JobAssigned)
    return {
        "job_id": requested.job_id,
        "status": "assigned",
        "priority": "high",
        "requested_at": "2030-01-07T08:00:00Z",
        "customer": requested.customer.model_dump(mode="json"),
        "site": requested.site.model_dump(mode="json"),
        "equipment": requested.equipment.model_dump(mode="json"),
        "fault_description": requested.fault_description,
        "engineer": assigned.engineer.model_dump(mode="json"),
        "scheduled_window": {"start": "2030-01-07T10:00:00Z", "end": "2030-01-07T12:00:00Z"},
        "matched_skills": assigned.matched_skills,
        "assignment_mode": "automatic",
        "assignment_revision": 1,
        "reason": assigned.reason,
        "prediagnosis": None,
        "commitment": None,
        "dispatch": None,
        "sla": {
            "arrive_by": {
                "due_at": "2030-01-07T16:00:00Z",
                "at_risk_at": "2030-01-07T14:00:00Z",
                "met_at": None,
                "at_risk_raised_at": None,
                "breached_at": None,
            },
            "resolve_by": {
                "due_at": "2030-01-09T08:00:00Z",
                "at_risk_at": "2030-01-08T20:00:00Z",
                "met_at": None,
                "at_risk_raised_at": None,
                "breached_at": None,
            },
        },
        "cancelled_at": None,
    }


class DeadlineView(BaseModel):
    due_at: datetime
    at_risk_at: datetime
    met_at: datetime | None
    at_risk_raised_at: datetime | None
    breached_at: datetime | None


class SlaView(BaseModel):
    arrive_by: DeadlineView
    resolve_by: DeadlineView


class JobView(BaseModel):
    """One job with its assignment, pre-diagnosis, commitment, departure and SLA state."""

    model_config = ConfigDict(json_schema_extra={"examples": [_example_job()]})

    job_id: str
    status: JobStatus
    priority: Priority
    requested_at: datetime
    customer: Customer
    site: Site
    equipment: Equipment
    fault_description: str
    engineer: Engineer | None
    scheduled_window: Window | None
    matched_skills: list[str]
    assignment_mode: AssignmentMode | None
    assignment_revision: int
    reason: str | None
    prediagnosis: Prediagnosis | None
    commitment: Commitment | None
    dispatch: Departure | None
    sla: SlaView
    cancelled_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(job.model_dump(exclude={"sla"}) | {"sla": _sla_view(job)})


def _sla_view(job: Job) -> SlaView:
    fields = set(DeadlineView.model_fields)
    return SlaView(
        arrive_by=DeadlineView.model_validate(job.sla.arrive_by.model_dump(include=fields)),
        resolve_by=DeadlineView.model_validate(job.sla.resolve_by.model_dump(include=fields)),
    )


def page_view(jobs: Page[Job]) -> Page[JobView]:
    return Page(items=[JobView.of(job) for job in jobs.items], total=jobs.total, limit=jobs.limit, offset=jobs.offset)


@get(
    "/jobs/unassigned",
    **requires(StaffRole.DISPATCHER, StaffRole.MANAGER, StaffRole.ADMIN),
    operation_id="listUnassignedJobs",
    tags=TAGS,
)
async def list_unassigned(
    runtime: NamedDependency[DispatchRuntime],
    limit: Limit = 50,
    offset: Offset = 0,
    priority: Annotated[Priority | None, Parameter(description="Only this priority.")] = None,
    region: Annotated[str | None, Parameter(description="Only sites in this region.")] = None,
) -> Page[JobView]:
    """Jobs nobody could be matched to, most urgent first (priority, then oldest request)."""
    where = store.JobFilter(status=JobStatus.UNASSIGNED, priority=priority, region=region)
    return page_view(await store.page(runtime, where, limit, offset))


@get(
    "/jobs",
    **requires(StaffRole.DISPATCHER, StaffRole.MANAGER, StaffRole.ADMIN, StaffRole.ENGINEER),
    operation_id="listJobs",
    tags=TAGS,
)
async def list_jobs(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[DispatchRuntime],
    limit: Limit = 50,
    offset: Offset = 0,
    status: Annotated[str | None, Parameter(description=f"One of: {', '.join(JobStatus)}.")] = None,
    engineer_id: Annotated[str | None, Parameter(description="Only jobs of this engineer.")] = None,
    priority: Annotated[Priority | None, Parameter(description="Only this priority.")] = None,
) -> Page[JobView]:
    """Jobs, most urgent first. An engineer (role only) sees only their own jobs."""
    principal = principal_of(request)
    if not principal.roles & OFFICE:
        engineer_id = principal.subject
    if status is not None and status not in set(JobStatus):
        raise Refusal.invalid(f"unknown status {status!r}; one of {', '.join(JobStatus)}", field="status")
    where = store.JobFilter(
        status=JobStatus(status) if status else None, priority=priority, engineer_id=engineer_id or None
    )
    return page_view(await store.page(runtime, where, limit, offset))


@get(
    "/jobs/{job_id:str}",
    **requires(StaffRole.DISPATCHER, StaffRole.MANAGER, StaffRole.ADMIN, StaffRole.ENGINEER),
    operation_id="getJob",
    tags=TAGS,
)
async def get_job(job_id: JobId, request: Request[Any, Any, Any], runtime: NamedDependency[DispatchRuntime]) -> JobView:
    """One job with its assignment, pre-diagnosis, commitment and SLA state."""
    job = await store.read(runtime, job_id)
    principal = principal_of(request)
    assigned_to = job.engineer.engineer_id if job.engineer else None
    if not principal.roles & OFFICE and assigned_to != principal.subject:
        raise Refusal.forbidden("this job is assigned to another engineer", field="job_id")
    return JobView.of(job)


ROUTES = [list_unassigned, list_jobs, get_job]
