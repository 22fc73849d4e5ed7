"""Call-back (return-visit) records (pure, no I/O): reception calls the customer back after a job;
an outcome that reports a problem becomes a service request on the callback channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from compressor_contracts import Contact, Priority, RequestChannel, StaffMember
from intake_service.customer_file.domain import ContactDetails
from intake_service.requests.domain import Job, ServiceRequest


class CallbackOutcome(StrEnum):
    SATISFIED = "satisfied"
    PROBLEM_REPORTED = "problem_reported"


@dataclass(frozen=True)
class CallbackDetails:
    """A return-visit call as reception noted it."""

    customer_id: str
    site_id: str
    equipment_id: str
    outcome: CallbackOutcome
    notes: str
    previous_job_id: str | None = None
    priority: Priority | None = None
    """For the request a problem raises; default normal."""
    contact: ContactDetails | None = None
    """Who was called; defaults to the main contact."""


class Callback(BaseModel):
    """A call-back record; `job_id` names the request it raised, if it reported a problem."""

    callback_id: str
    customer_id: str
    site_id: str
    equipment_id: str
    previous_job_id: str | None
    outcome: CallbackOutcome
    notes: str
    contact: Contact
    recorded_by: StaffMember | None
    recorded_at: datetime
    job_id: str | None
    request_fingerprint: str | None = None
    """What a repeated Idempotency-Key must match: the same call-back."""
    idempotency_key: str | None = None


def as_request(callback_id: str, call: CallbackDetails) -> ServiceRequest:
    """The service request the call-back stands for (recorded only when it reports a problem; its
    customer, site, unit and contact are checked alike either way)."""
    return ServiceRequest(
        channel=RequestChannel.CALLBACK,
        priority=call.priority,
        customer_id=call.customer_id,
        site_id=call.site_id,
        equipment_id=call.equipment_id,
        fault_description=call.notes,
        contact=call.contact,
        origin_reference=callback_id,
    )


def raises_job(call: CallbackDetails) -> bool:
    return call.outcome is CallbackOutcome.PROBLEM_REPORTED


def new_callback(
    callback_id: str,
    call: CallbackDetails,
    job: Job,
    *,
    recorded_by: StaffMember | None,
    recorded_at: datetime,
    idempotency_key: str | None,
    request_fingerprint: str,
) -> Callback:
    """The record of the call; `job` is the request it stands for (its checked contact is the one called)."""
    return Callback(
        callback_id=callback_id,
        customer_id=call.customer_id,
        site_id=call.site_id,
        equipment_id=call.equipment_id,
        previous_job_id=call.previous_job_id,
        outcome=call.outcome,
        notes=call.notes,
        contact=job.requested.contact,
        recorded_by=recorded_by,
        recorded_at=recorded_at,
        job_id=job.job_id if raises_job(call) else None,
        request_fingerprint=request_fingerprint,
        idempotency_key=idempotency_key,
    )
