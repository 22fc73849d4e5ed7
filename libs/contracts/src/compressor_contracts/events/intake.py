"""Events published by intake: service requests (phase 1) and the customer file (phase 9)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from compressor_contracts.common import (
    Contact,
    Customer,
    Equipment,
    Identifier,
    ObjectKey,
    Priority,
    RequestChannel,
    RunningHours,
    ShortText,
    Site,
    StaffMember,
    Text,
)
from compressor_contracts.envelope import JobEventData
from compressor_contracts.events.telemetry import ReadingSummary


class JobRequested(JobEventData):
    """A service request was recorded: a new job exists. Management is informed from this event,
    and dispatch matches an engineer."""

    name: ClassVar[str] = "job.requested"
    producer: ClassVar[str] = "intake"
    phase: ClassVar[int | None] = 1

    channel: RequestChannel = Field(description="How the request arrived.")
    priority: Priority = Field(description="Priority; selects the SLA targets.")
    customer: Customer = Field(description="The customer.")
    contact: Contact = Field(description="Who to talk to about this job.")
    site: Site = Field(description="Where the equipment is installed.")
    equipment: Equipment = Field(description="The compressor to service.")
    fault_description: Text = Field(
        description="The fault as reported, or the maintenance due for a proactive request."
    )
    origin_reference: ShortText | None = Field(
        default=None,
        description="Id of what raised the request: the call-back record, the portal submission or the "
        "proactive schedule period (e.g. 'EQ-7781:8000h').",
    )
    recorded_by: StaffMember | None = Field(
        default=None, description="Who recorded it; null for portal and scheduler requests."
    )
    photo_keys: list[ObjectKey] = Field(
        default=[],
        max_length=6,
        description="Object keys of the requester's photos of the fault, in intake's request-photos bucket "
        "(`<S3 prefix>request-photos`); intake's GET /requests/{job_id}/photos presigns them.",
    )
    machine_readings: list[ReadingSummary] = Field(
        default=[],
        max_length=48,
        description="For a request the machine's own controller raised (a service coming due, an alarm): its "
        "readings around it, oldest first, so the remote pre-diagnosis starts from data.",
    )


class JobCancelled(JobEventData):
    """The job was cancelled (usually by the customer). Every service stops work on it; the job is
    no longer open."""

    name: ClassVar[str] = "job.cancelled"
    producer: ClassVar[str] = "intake"
    phase: ClassVar[int | None] = None

    reason: Text = Field(description="Why the job was cancelled.")
    cancelled_by: ShortText = Field(description="Who asked for the cancellation, e.g. the contact's name.")
    recorded_by: StaffMember | None = Field(default=None, description="Staff member who recorded it, if any.")


class CustomerFileUpdated(JobEventData):
    """After a job closed, the equipment's history and next service due were updated."""

    name: ClassVar[str] = "customer_file.updated"
    producer: ClassVar[str] = "intake"
    phase: ClassVar[int | None] = 9

    customer_id: Identifier = Field(description="Customer id.")
    equipment_id: Identifier = Field(description="Equipment id.")
    history_entry_id: Identifier = Field(description="Id of the new entry in the equipment's service history.")
    last_service_on: date = Field(description="Date of this service, now the last service.")
    running_hours: RunningHours | None = Field(default=None, description="Running hours after the update.")
    next_service_due_on: date = Field(description="Next service due by calendar (from the model's interval).")
    next_service_due_at_hours: RunningHours | None = Field(
        default=None, description="Next service due by running hours; null when the hours are unknown."
    )
