"""Where is job X now? One job's timeline, and jobs listed by phase, status, customer, engineer,
priority and request date."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from compressor_kit.auth import Role, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from reporting_service.timeline import domain
from reporting_service.timeline.store import JOBS, job_entries

STAFF = (Role.RECEPTION, Role.DISPATCHER, Role.ENGINEER, Role.INSPECTOR, Role.MANAGER, Role.ADMIN)


def _job_view(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc["job_id"] = doc.pop("_id")
    return doc


@get("/jobs/{job_id:str}/timeline", **requires(*STAFF), operation_id="getJobTimeline")
async def get_timeline(job_id: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Every event of the job in order with phase, time and actor, and the time spent per phase and round."""
    entries = await job_entries(runtime.db, job_id, domain.VIEW_FIELDS)
    if not entries:
        raise Problem(404, f"no job {job_id!r} is known to reporting", field="job_id")
    summary = await runtime.db[JOBS].find_one({"_id": job_id})
    return {**domain.timeline_view(job_id, entries), "job": _job_view(summary) if summary else None}


@get("/jobs", **requires(*STAFF), operation_id="listJobs")
async def list_jobs(
    runtime: NamedDependency[Runtime],
    phase: Annotated[int | None, QueryParameter(ge=1, le=9, description="Current phase 1-9.")] = None,
    status: Annotated[str | None, QueryParameter(description="open, cancelled or closed.")] = None,
    customer_id: FromQuery[str | None] = None,
    engineer_id: FromQuery[str | None] = None,
    priority: Annotated[str | None, QueryParameter(description="critical, high, normal or low.")] = None,
    requested_from: Annotated[datetime | None, QueryParameter(description="Requested at or after (RFC 3339).")] = None,
    requested_to: Annotated[datetime | None, QueryParameter(description="Requested before (RFC 3339).")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[dict[str, Any]]:
    """Jobs, most recently requested first."""
    if status is not None and status not in domain.STATUSES:
        raise Problem(422, f"status must be one of {', '.join(domain.STATUSES)}", field="status")
    if priority is not None and priority not in ("critical", "high", "normal", "low"):
        raise Problem(422, "priority must be critical, high, normal or low", field="priority")
    query: dict[str, Any] = {}
    for name, value in (
        ("phase", phase),
        ("status", status),
        ("customer_id", customer_id),
        ("engineer_id", engineer_id),
        ("priority", priority),
    ):
        if value is not None:
            query[name] = value
    if requested_from or requested_to:
        if requested_from and requested_to and requested_to <= requested_from:
            raise Problem(422, "requested_to must be after requested_from", field="requested_to")
        query["requested_at"] = {
            **({"$gte": requested_from} if requested_from else {}),
            **({"$lt": requested_to} if requested_to else {}),
        }
    total = await runtime.db[JOBS].count_documents(query)
    cursor = runtime.db[JOBS].find(query).sort([("requested_at", -1), ("_id", 1)]).skip(offset).limit(limit)
    items = [_job_view(doc) async for doc in cursor]
    return Page(items=items, total=total, limit=limit, offset=offset)
