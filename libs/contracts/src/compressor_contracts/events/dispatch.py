"""Events published by dispatch: assignment (phase 1), remote pre-diagnosis (phase 2), SLA monitor."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from compressor_contracts.common import (
    Engineer,
    Equipment,
    Identifier,
    PartLine,
    Priority,
    ServiceCommitment,
    ShortText,
    Site,
    StaffMember,
    Text,
    TimeWindow,
)
from compressor_contracts.envelope import JobEventData


class AssignmentMode(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class PrediagnosisContact(StrEnum):
    PHONE = "phone"
    ONLINE = "online"


class SlaDeadline(StrEnum):
    ARRIVE_BY = "arrive_by"
    RESOLVE_BY = "resolve_by"


class SlaRiskReason(StrEnum):
    UNASSIGNED = "unassigned"
    """No engineer matches; the job waits in the unassigned queue."""
    DEADLINE_APPROACHING = "deadline_approaching"
    """Most of the time to the deadline is gone without the matching event."""


class JobAssigned(JobEventData):
    """An engineer was assigned (or reassigned) to the job. Carries what maintenance needs to open
    the work order, so consumers need not keep a copy of job.requested."""

    name: ClassVar[str] = "job.assigned"
    producer: ClassVar[str] = "dispatch"
    phase: ClassVar[int | None] = 1

    engineer: Engineer = Field(description="The assigned engineer.")
    mode: AssignmentMode = Field(description="Automatic matching or a dispatcher's manual (re)assignment.")
    scheduled_window: TimeWindow = Field(description="The engineer's slot for the job.")
    matched_skills: list[ShortText] = Field(
        max_length=50, description="Skills that matched the equipment, e.g. 'oil_injected_screw', 'brand:Atlas Copco'."
    )
    region: Identifier = Field(description="Region of the site the engineer covers.")
    reason: Text = Field(description="Human-readable reason for the choice, or the dispatcher's reason.")
    assigned_by: StaffMember | None = Field(default=None, description="The dispatcher, for a manual assignment.")
    previous_engineer: Engineer | None = Field(default=None, description="The engineer replaced, on reassignment.")
    priority: Priority = Field(description="Job priority.")
    equipment: Equipment = Field(description="The compressor to service.")
    site: Site = Field(description="Where to go.")
    fault_description: Text = Field(description="The fault as reported.")


class JobPrediagnosed(JobEventData):
    """The assigned engineer confirmed the fault with the customer remotely and made a service
    commitment within the SLA policy."""

    name: ClassVar[str] = "job.prediagnosed"
    producer: ClassVar[str] = "dispatch"
    phase: ClassVar[int | None] = 2

    engineer: Engineer = Field(description="The engineer who made the pre-diagnosis.")
    contacted_via: PrediagnosisContact = Field(description="How the customer was reached.")
    confirmed_symptoms: list[ShortText] = Field(
        min_length=1, max_length=50, description="Symptoms confirmed with the customer."
    )
    suspected_causes: list[Text] = Field(min_length=1, max_length=20, description="Likely causes, most likely first.")
    likely_parts: list[PartLine] = Field(default=[], max_length=100, description="Parts the engineer expects to need.")
    commitment: ServiceCommitment = Field(description="The promise made to the customer.")
    notes: Text | None = Field(default=None, description="Anything else agreed with the customer.")


class JobEngineerDispatched(JobEventData):
    """The engineer left for the site."""

    name: ClassVar[str] = "job.engineer_dispatched"
    producer: ClassVar[str] = "dispatch"
    phase: ClassVar[int | None] = 2

    engineer: Engineer = Field(description="The engineer on the way.")
    departed_at: AwareDatetime = Field(description="When the engineer left.")
    eta: AwareDatetime = Field(description="Expected arrival on site.")


class JobSlaAtRisk(JobEventData):
    """A deadline is at risk: nobody could be assigned, or most of the time to arrive-by/resolve-by
    is gone. Raised once per job and deadline."""

    name: ClassVar[str] = "job.sla_at_risk"
    producer: ClassVar[str] = "dispatch"
    phase: ClassVar[int | None] = None

    deadline: SlaDeadline = Field(description="Which deadline is at risk.")
    due_at: AwareDatetime = Field(
        description="The deadline: the commitment's, or the SLA policy target while nothing is committed."
    )
    reason: SlaRiskReason = Field(description="Why it is at risk.")
    priority: Priority = Field(description="Job priority.")
    engineer: Engineer | None = Field(default=None, description="Assigned engineer; null when unassigned.")
    detail: Text = Field(description="Human-readable explanation for management.")


class JobSlaBreached(JobEventData):
    """A deadline passed without the matching event (engineer arrived / inspection passed).
    Raised once per job and deadline."""

    name: ClassVar[str] = "job.sla_breached"
    producer: ClassVar[str] = "dispatch"
    phase: ClassVar[int | None] = None

    deadline: SlaDeadline = Field(description="Which deadline was missed.")
    due_at: AwareDatetime = Field(description="The deadline that passed.")
    priority: Priority = Field(description="Job priority.")
    engineer: Engineer | None = Field(default=None, description="Assigned engineer; null when unassigned.")
    detail: Text = Field(description="Human-readable explanation for management.")
