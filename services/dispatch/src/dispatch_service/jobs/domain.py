"""Dispatch's copy of a job: what matching, pre-diagnosis and the SLA monitor need. Pure Python.

A job exists once per job id. It is created by the first job.requested (or, cancelled before its
request came, as a bare tombstone that keeps the late request from being matched); it moves
unassigned -> assigned -> prediagnosed -> dispatched -> on_site -> resolved, or to cancelled.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from compressor_contracts import (
    AssignmentMode,
    Customer,
    Engineer,
    Equipment,
    PartLine,
    PrediagnosisContact,
    Priority,
    RequestChannel,
    Site,
)


class JobStatus(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    PREDIAGNOSED = "prediagnosed"
    DISPATCHED = "dispatched"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


CLOSED = frozenset({JobStatus.RESOLVED, JobStatus.CANCELLED})

# The order of the queues: the most urgent first. Stored on the job, so that the store sorts by it.


class Window(BaseModel):
    start: datetime
    end: datetime


class Deadline(BaseModel):
    """One SLA deadline of a job: when due, when at risk, what was raised, whether met."""

    due_at: datetime
    at_risk_at: datetime
    met_at: datetime | None = None
    at_risk_raised_at: datetime | None = None
    breached_at: datetime | None = None
    unassigned_raised_at: datetime | None = None  # arrive-by only: nobody could be matched


class Deadlines(BaseModel):
    arrive_by: Deadline
    resolve_by: Deadline


class Prediagnosis(BaseModel):
    """What the assigned engineer confirmed with the customer remotely."""

    contacted_via: PrediagnosisContact
    confirmed_symptoms: list[str]
    suspected_causes: list[str]
    likely_parts: list[PartLine]
    notes: str | None
    recorded_at: datetime
    engineer_id: str


class Commitment(BaseModel):
    arrive_by: datetime
    resolve_by: datetime


class Departure(BaseModel):
    departed_at: datetime
    eta: datetime


class Job(BaseModel):
    """A job as dispatch holds it (not a tombstone)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    status: JobStatus
    priority: Priority
    requested_at: datetime
    request_event_id: str
    correlation_id: str
    channel: RequestChannel
    customer: Customer
    site: Site
    equipment: Equipment
    fault_description: str
    engineer: Engineer | None = None
    scheduled_window: Window | None = None
    booking_day: str | None = None
    matched_skills: list[str] = []
    assignment_mode: AssignmentMode | None = None
    assignment_revision: int = 0
    reason: str | None = None
    prediagnosis: Prediagnosis | None = None
    commitment: Commitment | None = None
    dispatch: Departure | None = None
    unassigned_since: datetime | None = None
    committed_at: datetime | None = None
    sla: Deadlines
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def closed(self) -> bool:
        return self.status in CLOSED
