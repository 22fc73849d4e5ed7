"""A job as the API shows it (to the request API, the customer file and the call-back records)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from compressor_contracts import Contact, Customer, Equipment, Priority, RequestChannel, Site, StaffMember
from compressor_contracts.examples import example
from intake_service.requests.domain import Cancellation, Job, JobStatus, age_hours

_REQUESTED = example("job.requested.v1").model_dump(mode="json")
JOB_EXAMPLE: JsonDict = {
    "job_id": _REQUESTED["job_id"],
    "status": "open",
    "channel": "phone",
    "priority": "high",
    "requested_at": "2026-03-02T08:00:00Z",
    "age_hours": 1.5,
    **{
        name: _REQUESTED[name]
        for name in ("customer", "contact", "site", "equipment", "fault_description", "origin_reference", "recorded_by")
    },
    "cancellation": None,
    "closed_at": None,
}


class JobView(BaseModel):
    """A job: what was requested, by whom and how, its state and its age."""

    model_config = ConfigDict(json_schema_extra={"examples": [JOB_EXAMPLE]})

    job_id: str
    status: JobStatus
    channel: RequestChannel
    priority: Priority
    requested_at: datetime
    age_hours: float = Field(description="Hours since the request was recorded.")
    customer: Customer
    contact: Contact
    site: Site
    equipment: Equipment
    fault_description: str
    origin_reference: str | None
    recorded_by: StaffMember | None
    cancellation: Cancellation | None
    closed_at: datetime | None


def job_view(job: Job, now: datetime) -> JobView:
    requested = job.requested
    return JobView(
        job_id=job.job_id,
        status=job.status,
        channel=requested.channel,
        priority=requested.priority,
        requested_at=job.requested_at,
        age_hours=age_hours(job.requested_at, now),
        customer=requested.customer,
        contact=requested.contact,
        site=requested.site,
        equipment=requested.equipment,
        fault_description=requested.fault_description,
        origin_reference=requested.origin_reference,
        recorded_by=requested.recorded_by,
        cancellation=job.cancellation,
        closed_at=job.closed_at,
    )
