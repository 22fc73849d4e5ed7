"""Where is job X now? One job's timeline, and jobs listed by phase, status, customer, engineer,
priority and request date."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_kit.auth import STAFF, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from reporting_service.settings import ReportingRuntime
from reporting_service.timeline import domain, store

TAGS = ["Timeline"]

_JOB_EXAMPLE: dict[str, Any] = {
    "job_id": "JOB-2026-000123",
    "status": "open",
    "events": 14,
    "priority": "high",
    "equipment_id": "EQ-7781",
    "model_code": "AC-GA37VSD",
    "region": "central",
    "customer_id": "CUST-0107",
    "customer_name": "Seri Murni Foods Sdn Bhd",
    "requested_at": "2026-03-02T08:00:00Z",
    "engineer_id": "ENG-014",
    "engineer_name": "Ahmad Faizal",
    "inspection_passed_at": "2026-03-02T18:30:00Z",
    "record_id": "REC-5A1F0C2E8A414B7E9D55",
    "csat": None,
    "nps": None,
    "phase": 7,
    "phase_name": "record and report",
    "first_event_at": "2026-03-02T08:00:00Z",
    "last_event": "job.report_published",
    "last_event_at": "2026-03-02T18:30:02Z",
    "work_rounds": 2,
    "rework_rounds": 1,
    "seconds_per_phase": {"1": 1800.0, "2": 9000.0, "3": 7200.0, "4": 3600.0, "5": 12600.0, "6": 3600.0},
}


class Actor(BaseModel):
    id: str
    name: str
    role: str = Field(description="A staff role, 'customer', or 'service' when a service acted on its own.")


class TimelineEvent(BaseModel):
    event_id: str
    event: str = Field(description="The event's name without its version, e.g. job.work_started.")
    type: str
    phase: int | None = None
    phase_name: str | None = None
    round: int | None = None
    time: datetime
    actor: Actor


class PhaseStint(BaseModel):
    """A continuous stretch of the job in one phase (and, for execution and inspection, one round)."""

    phase: int
    phase_name: str
    round: int | None = None
    started_at: datetime
    ended_at: datetime
    seconds: float


class JobSummary(BaseModel):
    """A job as its events tell it: where it is, who and what it concerns, time spent per phase."""

    model_config = ConfigDict(json_schema_extra={"examples": [_JOB_EXAMPLE]})

    job_id: str
    status: str = Field(description="open, cancelled or closed.")
    events: int
    priority: str | None = None
    equipment_id: str | None = None
    model_code: str | None = None
    region: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    requested_at: datetime | None = None
    engineer_id: str | None = None
    engineer_name: str | None = None
    inspection_passed_at: datetime | None = None
    record_id: str | None = None
    csat: int | None = None
    nps: int | None = None
    phase: int | None = None
    phase_name: str | None = None
    first_event_at: datetime | None = None
    last_event: str | None = None
    last_event_at: datetime | None = None
    work_rounds: int
    rework_rounds: int
    seconds_per_phase: dict[str, float]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> JobSummary:
        doc = dict(doc)
        doc["job_id"] = doc.pop("_id")
        return cls.model_validate(doc)


class Timeline(BaseModel):
    """Every event of one job in order, its phase stints, and the job's summary."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "JOB-2026-000123",
                    "events": [
                        {
                            "event_id": "8b0e7c1a-2f4d-4a8e-9c61-3d5b7e9f1a2c",
                            "event": "job.requested",
                            "type": "com.example.compressor.job.requested.v1",
                            "phase": 1,
                            "phase_name": "intake",
                            "round": None,
                            "time": "2026-03-02T08:00:00Z",
                            "actor": {"id": "u-reception-1", "name": "Nurul Izzah", "role": "reception"},
                        }
                    ],
                    "phases": [
                        {
                            "phase": 1,
                            "phase_name": "intake",
                            "round": None,
                            "started_at": "2026-03-02T08:00:00Z",
                            "ended_at": "2026-03-02T08:30:00Z",
                            "seconds": 1800.0,
                        }
                    ],
                    "seconds_per_phase": {"1": 1800.0},
                    "rework_rounds": 0,
                    "job": _JOB_EXAMPLE,
                }
            ]
        }
    )

    job_id: str
    events: list[TimelineEvent]
    phases: list[PhaseStint]
    seconds_per_phase: dict[str, float]
    rework_rounds: int
    job: JobSummary | None = None


@get("/jobs/{job_id:str}/timeline", **requires(*STAFF), operation_id="getJobTimeline", tags=TAGS)
async def get_timeline(job_id: FromPath[str], runtime: NamedDependency[ReportingRuntime]) -> Timeline:
    """Every event of the job in order with phase, time and actor, and the time spent per phase and round."""
    entries = await store.entries_of(runtime, job_id, domain.VIEW_FIELDS)
    if not entries:
        raise Refusal.not_found(f"no job {job_id!r} is known to reporting", field="job_id")
    summary = await store.summary_of(runtime, job_id)
    return Timeline.model_validate(
        {**domain.timeline_view(job_id, entries), "job": JobSummary.of(summary) if summary else None}
    )


@get("/jobs", **requires(*STAFF), operation_id="listJobs", tags=TAGS)
async def list_jobs(
    runtime: NamedDependency[ReportingRuntime],
    phase: Annotated[int | None, QueryParameter(ge=1, le=9, description="Current phase 1-9.")] = None,
    status: Annotated[str | None, QueryParameter(description="open, cancelled or closed.")] = None,
    customer_id: FromQuery[str | None] = None,
    engineer_id: FromQuery[str | None] = None,
    priority: Annotated[str | None, QueryParameter(description="critical, high, normal or low.")] = None,
    requested_from: Annotated[datetime | None, QueryParameter(description="Requested at or after (RFC 3339).")] = None,
    requested_to: Annotated[datetime | None, QueryParameter(description="Requested before (RFC 3339).")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[JobSummary]:
    """Jobs, most recently requested first."""
    selection = domain.JobFilter(
        phase=phase,
        status=status,
        customer_id=customer_id,
        engineer_id=engineer_id,
        priority=priority,
        requested_from=requested_from,
        requested_to=requested_to,
    )
    docs, total = await store.list_summaries(runtime, selection, limit, offset)
    return Page(items=[JobSummary.of(doc) for doc in docs], total=total, limit=limit, offset=offset)
