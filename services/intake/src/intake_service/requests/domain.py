"""Service requests (pure, no I/O): what a valid request from each channel is, the job it opens,
the job.requested event that informs management and dispatch, and when a job may be cancelled."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import (
    Contact,
    Customer,
    JobCancelled,
    JobRequested,
    Priority,
    RequestChannel,
    StaffMember,
)
from intake_service.customer_file.domain import WIDE, ContactIn, contract_equipment, contract_site
from intake_service.validation import FieldError

Doc = dict[str, Any]

OPEN, CANCELLED, CLOSED = "open", "cancelled", "closed"
PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}
"""Sort order of the management view: most urgent first."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewUnitIn(_Input):
    """A compressor the customer file does not know yet, described by the caller."""

    model_code: str = Field(max_length=64, description="Model code from the equipment catalogue.")
    serial_number: str = Field(min_length=1, max_length=200)
    purchase_date: date
    running_hours: int | None = Field(default=None, ge=-WIDE, le=WIDE)


class RequestIn(_Input):
    channel: RequestChannel = Field(description="phone, portal, callback or proactive.")
    priority: Priority | None = Field(default=None, description="Defaults to normal (low for proactive).")
    customer_id: str = Field(max_length=64)
    site_id: str = Field(max_length=64)
    equipment_id: str | None = Field(
        default=None, max_length=64, description="A unit on file; or describe it in `equipment`."
    )
    equipment: NewUnitIn | None = Field(default=None, description="A unit not on file yet: registered with the job.")
    fault_description: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Required except for proactive maintenance."
    )
    contact: ContactIn | None = Field(default=None, description="Defaults to the customer's main contact.")
    origin_reference: str | None = Field(
        default=None, min_length=1, max_length=200, description="Call-back record id (required for callback)."
    )


class CancelIn(_Input):
    reason: str = Field(min_length=1, max_length=2000)
    cancelled_by: str | None = Field(
        default=None, min_length=1, max_length=200, description="Who asked; defaults to the caller."
    )


def check_request(request: RequestIn, *, by_customer: bool) -> list[FieldError]:
    """Rules of the request itself, before anything is looked up."""
    errors = []
    if by_customer and request.channel is not RequestChannel.PORTAL:
        errors.append(FieldError("channel", "customers submit requests through the portal channel"))
    if request.channel is not RequestChannel.PROACTIVE and not request.fault_description:
        errors.append(FieldError("fault_description", "describe the fault"))
    if request.channel is RequestChannel.CALLBACK and not request.origin_reference:
        errors.append(FieldError("origin_reference", "a call-back request names its call-back record"))
    if (request.equipment_id is None) == (request.equipment is None):
        errors.append(FieldError("equipment_id", "give either equipment_id (a unit on file) or equipment (a new one)"))
    return errors


def default_priority(channel: RequestChannel) -> Priority:
    return Priority.LOW if channel is RequestChannel.PROACTIVE else Priority.NORMAL


def maintenance_due_text(equipment: Doc) -> str:
    hours = equipment.get("next_service_due_at_hours")
    by_hours = f" or at {hours} running hours" if hours is not None else ""
    return (
        f"Scheduled maintenance of {equipment['brand']} {equipment['model']} (serial {equipment['serial_number']}) "
        f"due on {equipment['next_service_due_on']}{by_hours}."
    )


def fingerprint(request: RequestIn) -> str:
    """What a repeated Idempotency-Key must match: the same request body."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def job_requested(
    *,
    job_id: str,
    channel: RequestChannel,
    priority: Priority,
    customer: Doc,
    contact: Contact,
    site: Doc,
    equipment: Doc,
    fault_description: str,
    origin_reference: str | None,
    recorded_by: StaffMember | None,
) -> JobRequested:
    return JobRequested(
        job_id=job_id,
        channel=channel,
        priority=priority,
        customer=Customer(customer_id=customer["_id"], name=customer["name"]),
        contact=contact,
        site=contract_site(site),
        equipment=contract_equipment(equipment),
        fault_description=fault_description,
        origin_reference=origin_reference,
        recorded_by=recorded_by,
    )


def new_job(data: JobRequested, *, requested_at: datetime, **extra: Any) -> Doc:
    """The job as intake tracks it; `requested` keeps the event's payload, the job's recorded facts."""
    return {
        "_id": data.job_id,
        "status": OPEN,
        "channel": data.channel.value,
        "priority": data.priority.value,
        "priority_rank": PRIORITY_RANK[data.priority],
        "customer_id": data.customer.customer_id,
        "site_id": data.site.site_id,
        "region": data.site.region,
        "equipment_id": data.equipment.equipment_id,
        "requested_at": requested_at,
        "requested": data.model_dump(mode="json"),
        **{k: v for k, v in extra.items() if v is not None},
    }


def cancellation_refusal(job: Doc) -> str | None:
    """Why the job cannot be cancelled, or None when it can."""
    if job["status"] == CANCELLED:
        return "the job is already cancelled"
    if job["status"] == CLOSED:
        return "the job is closed"
    return None


def job_cancelled(job_id: str, cancel: CancelIn, *, cancelled_by: str, recorded_by: StaffMember | None) -> JobCancelled:
    return JobCancelled(job_id=job_id, reason=cancel.reason, cancelled_by=cancelled_by, recorded_by=recorded_by)


def age_hours(since: datetime, now: datetime) -> float:
    return round((now - since).total_seconds() / 3600, 2)


def job_view(job: Doc, now: datetime) -> Doc:
    """A job as the API shows it, with its age."""
    requested = job["requested"]
    return {
        "job_id": job["_id"],
        "status": job["status"],
        "channel": job["channel"],
        "priority": job["priority"],
        "requested_at": job["requested_at"],
        "age_hours": age_hours(job["requested_at"], now),
        "customer": requested["customer"],
        "contact": requested["contact"],
        "site": requested["site"],
        "equipment": requested["equipment"],
        "fault_description": requested["fault_description"],
        "origin_reference": requested.get("origin_reference"),
        "recorded_by": requested.get("recorded_by"),
        "cancellation": job.get("cancellation"),
        "closed_at": job.get("closed_at"),
    }
