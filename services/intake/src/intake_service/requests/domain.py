"""Service requests (pure, no I/O): what a valid request from each channel is, the job it opens,
the job.requested event that informs management and dispatch, and when a job may be cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel

from compressor_contracts import JobCancelled, JobRequested, Priority, RequestChannel, StaffMember
from compressor_kit.refusals import FieldIssue, Refusal
from intake_service.catalogue.domain import EquipmentModel
from intake_service.customer_file.domain import (
    ContactDetails,
    CustomerOnFile,
    SiteOnFile,
    UnitDetails,
    UnitOnFile,
    checked_contact,
    described_unit,
    invalid,
    language_on_file,
    new_unit,
)

"""Sort order of the management view: most urgent first."""


class JobStatus(StrEnum):
    """A job as intake tracks it: open until feedback closes it or the customer cancels it."""

    OPEN = "open"
    CANCELLED = "cancelled"
    CLOSED = "closed"


@dataclass(frozen=True)
class ServiceRequest:
    """A request as the caller made it, from any channel."""

    channel: RequestChannel
    customer_id: str
    site_id: str
    priority: Priority | None = None
    equipment_id: str | None = None
    equipment: UnitDetails | None = None
    """A unit not on file yet, described by the caller: registered with the job."""
    fault_description: str | None = None
    contact: ContactDetails | None = None
    origin_reference: str | None = None
    photo_keys: tuple[str, ...] = ()
    """The requester's photos, uploaded to intake's request-photos bucket (checked before opening the job)."""


class Cancellation(BaseModel):
    reason: str
    cancelled_by: str
    cancelled_at: datetime


class Job(BaseModel):
    """A job intake opened; `requested` is its job.requested payload, the job's recorded facts."""

    job_id: str
    status: JobStatus = JobStatus.OPEN
    requested_at: datetime
    requested: JobRequested
    cancellation: Cancellation | None = None
    closed_at: datetime | None = None
    proactive_period: str | None = None
    """The unit's due period a proactive request was raised for (one request per period)."""
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    """What a repeated Idempotency-Key must match: the same request body."""

    def cancel(
        self, reason: str, cancelled_by: str | None, recorded_by: StaffMember | None, now: datetime
    ) -> tuple[Job, JobCancelled]:
        """Cancel at the customer's request (staff only record it on their behalf)."""
        if self.status is JobStatus.CANCELLED:
            raise Refusal.conflict("the job is already cancelled", field="job_id")
        if self.status is JobStatus.CLOSED:
            raise Refusal.conflict("the job is closed", field="job_id")
        by = cancelled_by or self.requested.contact.name
        cancelled = self.model_copy(
            update={
                "status": JobStatus.CANCELLED,
                "cancellation": Cancellation(reason=reason, cancelled_by=by, cancelled_at=now),
            }
        )
        return cancelled, JobCancelled(job_id=self.job_id, reason=reason, cancelled_by=by, recorded_by=recorded_by)

    def close(self, at: datetime) -> Job:
        """Closed by feedback; a job cancelled meanwhile stays cancelled."""
        if self.status is not JobStatus.OPEN:
            return self
        return self.model_copy(update={"status": JobStatus.CLOSED, "closed_at": at})


def check_request(request: ServiceRequest, *, by_customer: bool) -> None:
    """Rules of the request itself, before anything is looked up; refused naming every field at fault."""
    issues = []
    if by_customer and request.channel is not RequestChannel.PORTAL:
        issues.append(FieldIssue("channel", "customers submit requests through the portal channel"))
    if request.channel is not RequestChannel.PROACTIVE and not request.fault_description:
        issues.append(FieldIssue("fault_description", "describe the fault"))
    if request.channel is RequestChannel.CALLBACK and not request.origin_reference:
        issues.append(FieldIssue("origin_reference", "a call-back request names its call-back record"))
    if (request.equipment_id is None) == (request.equipment is None):
        issues.append(FieldIssue("equipment_id", "give either equipment_id (a unit on file) or equipment (a new one)"))
    if issues:
        raise invalid(issues)


def default_priority(channel: RequestChannel) -> Priority:
    return Priority.LOW if channel is RequestChannel.PROACTIVE else Priority.NORMAL


@dataclass(frozen=True)
class FileLookup:
    """What the customer file holds of a request's customer, site and unit (None: not on file)."""

    customer: CustomerOnFile | None
    site: SiteOnFile | None
    unit: UnitOnFile | None
    """The unit named by equipment_id."""
    model: EquipmentModel | None = None
    """The catalogue model of a unit the request describes."""
    unit_with_serial: UnitOnFile | None = None
    """The unit on file with the described unit's brand and serial number."""


def open_job(
    request: ServiceRequest,
    found: FileLookup,
    *,
    job_id: str,
    new_unit_id: str,
    recorded_by: StaffMember | None,
    now: datetime,
    today: date,
) -> tuple[Job, UnitOnFile | None]:
    """The job a request opens, checked against the customer file (refused naming the field), and
    the unit it registers when the request describes one not on file yet."""
    customer, site = found.customer, found.site
    if customer is None:
        raise invalid([FieldIssue("customer_id", "unknown customer")])
    if site is None or site.customer_id != request.customer_id:
        raise invalid([FieldIssue("site_id", "unknown site of this customer")])
    registered = None
    if request.equipment is None:
        unit = found.unit
        if unit is None or unit.customer_id != request.customer_id:
            raise invalid([FieldIssue("equipment_id", "unknown equipment of this customer")])
        if unit.site_id != request.site_id:
            raise invalid([FieldIssue("site_id", "the equipment is not installed at this site")])
    else:
        model = described_unit(request.equipment, found.model, today, at="equipment.")
        on_file = found.unit_with_serial
        if on_file is None:
            unit = registered = new_unit(new_unit_id, request.customer_id, request.site_id, model, request.equipment)
        elif on_file.customer_id != request.customer_id or on_file.site_id != request.site_id:
            raise Refusal.conflict(
                "a unit with this serial number is on file elsewhere", field="equipment.serial_number"
            )
        elif on_file.model_code != model.model_code:
            raise invalid([FieldIssue("equipment.model_code", "the unit on file with this serial is another model")])
        else:
            unit = on_file
    if request.contact is None:
        contact = customer.contacts[0]
    else:  # the caller as given, in the language the file knows them (or the company) by
        contact = checked_contact(request.contact, "contact", unsaid=language_on_file(customer, request.contact))
    requested = JobRequested(
        job_id=job_id,
        channel=request.channel,
        priority=request.priority or default_priority(request.channel),
        customer=customer.as_contract(),
        contact=contact,
        site=site.as_contract(),
        equipment=unit.as_contract(),
        fault_description=request.fault_description or unit.maintenance_due_text(),
        origin_reference=request.origin_reference,
        recorded_by=recorded_by,
        photo_keys=list(request.photo_keys),
    )
    return Job(job_id=job_id, requested_at=now, requested=requested), registered


def proactive_job(
    job_id: str,
    unit: UnitOnFile,
    customer: CustomerOnFile,
    site: SiteOnFile,
    *,
    period: str,
    fault_description: str,
    priority: Priority,
    now: datetime,
) -> Job:
    """The job the scheduler raises for one due period of a unit (nobody recorded it)."""
    requested = JobRequested(
        job_id=job_id,
        channel=RequestChannel.PROACTIVE,
        priority=priority,
        customer=customer.as_contract(),
        contact=customer.contacts[0],
        site=site.as_contract(),
        equipment=unit.as_contract(),
        fault_description=fault_description,
        origin_reference=period,
        recorded_by=None,
    )
    return Job(job_id=job_id, requested_at=now, requested=requested, proactive_period=period)


def age_hours(since: datetime, now: datetime) -> float:
    return round((now - since).total_seconds() / 3600, 2)
