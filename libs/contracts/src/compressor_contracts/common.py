"""Small value types shared by several events.

Everything here is part of the public contract: renaming a field or tightening a
constraint is a new event version, so keep these models small and obvious.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "BucketName",
    "CompressorType",
    "Contact",
    "ContractModel",
    "CountryCode",
    "Customer",
    "CustomerRepresentative",
    "Email",
    "Engineer",
    "Equipment",
    "FailureCategory",
    "Hours",
    "Identifier",
    "IndicatorResult",
    "Language",
    "LongText",
    "Measurement",
    "NotificationChannel",
    "ObjectKey",
    "PartLine",
    "PartNumber",
    "PartUsed",
    "Phone",
    "PlanStep",
    "Priority",
    "RequestChannel",
    "Round",
    "RoutingKey",
    "RunningHours",
    "ServiceCommitment",
    "ServiceOutcome",
    "Sha256",
    "ShortText",
    "Site",
    "StaffMember",
    "StaffRole",
    "StepDone",
    "StoredObject",
    "Text",
    "TimeWindow",
    "Unit",
]

# --- constrained scalars -------------------------------------------------------

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"),
]
"""An id issued by the owning service: letters, digits and `_ . : -`, at most 64."""

PartNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$"),
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
# E.164 keeps phone numbers comparable across services; intake normalises on input.
Phone = Annotated[str, StringConstraints(max_length=16, pattern=r"^\+[1-9][0-9]{6,14}$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
ObjectKey = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^/\s][^\s]*$")]
BucketName = Annotated[str, StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
RoutingKey = Annotated[str, StringConstraints(max_length=120, pattern=r"^[a-z_]+(\.[a-z_]+)+\.v[1-9][0-9]*$")]
Round = Annotated[int, Field(ge=1, le=100)]
RunningHours = Annotated[int, Field(ge=0, le=1_000_000)]
Hours = Annotated[float, Field(gt=0, le=10_000)]


class ContractModel(BaseModel):
    """Base of every contract model: unknown fields are errors, instances are immutable facts."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- enumerations --------------------------------------------------------------


class RequestChannel(StrEnum):
    """How a service request reached the organisation."""

    PHONE = "phone"
    CALLBACK = "callback"
    PROACTIVE = "proactive"
    PORTAL = "portal"


class Priority(StrEnum):
    """Request priority; the SLA policy (arrive-by, resolve-by targets) is keyed by it."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Urgency order: 0 is the most urgent (what queues and lists sort by)."""
        return list(Priority).index(self)


class CompressorType(StrEnum):
    OIL_INJECTED_SCREW = "oil_injected_screw"
    OIL_FREE_SCREW = "oil_free_screw"
    PISTON = "piston"
    SCROLL = "scroll"
    CENTRIFUGAL = "centrifugal"


class FailureCategory(StrEnum):
    """Coarse cause class of a fault, stable enough for a Pareto of failure causes by model."""

    AIR_END = "air_end"
    LUBRICATION = "lubrication"
    COOLING = "cooling"
    AIR_INTAKE = "air_intake"
    VALVES_AND_REGULATION = "valves_and_regulation"
    MOTOR_AND_DRIVE = "motor_and_drive"
    ELECTRICAL_AND_CONTROLS = "electrical_and_controls"
    LEAKS = "leaks"
    CONDENSATE_AND_DRYING = "condensate_and_drying"
    SCHEDULED_SERVICE = "scheduled_service"
    """No fault: the planned service (proactive requests)."""
    OTHER = "other"


class Language(StrEnum):
    """A language the organisation serves its customers in: Bahasa Melayu or English (ISO 639-1)."""

    MS = "ms"
    EN = "en"


class NotificationChannel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class StaffRole(StrEnum):
    RECEPTION = "reception"
    DISPATCHER = "dispatcher"
    ENGINEER = "engineer"
    INSPECTOR = "inspector"
    MANAGER = "manager"
    ADMIN = "admin"


# --- people --------------------------------------------------------------------


class Customer(ContractModel):
    customer_id: Identifier = Field(description="Customer id in intake's customer file.")
    name: ShortText = Field(description="Customer organisation name.")


class Contact(ContractModel):
    """The customer's contact person for this job."""

    name: ShortText = Field(description="Full name of the contact person.")
    role: ShortText | None = Field(default=None, description="Job title, e.g. 'Plant maintenance lead'.")
    phone: Phone | None = Field(
        default=None, description="Phone number in E.164 form, e.g. '+60123456789'. Phone, e-mail or both."
    )
    email: Email | None = Field(default=None, description="E-mail address. Phone, e-mail or both.")
    preferred_channel: NotificationChannel = Field(
        default=NotificationChannel.EMAIL,
        description="How the customer wants to be notified; webhook endpoints are registered with feedback.",
    )
    language: Language = Field(
        default=Language.EN,
        description="The contact's preferred language for e-mails, webhook texts, the survey, the portal "
        "and the report: 'ms' (Bahasa Melayu) or 'en' (English).",
    )

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.phone is None and self.email is None:
            raise ValueError("a contact needs a phone number or an e-mail address")
        return self


class Engineer(ContractModel):
    engineer_id: Identifier = Field(description="Engineer id in dispatch.")
    name: ShortText = Field(description="Engineer's full name.")


class StaffMember(ContractModel):
    """A person of the service organisation acting in the system (from the bearer token)."""

    user_id: Identifier = Field(description="User id (the token subject).")
    name: ShortText = Field(description="Full name.")
    role: StaffRole = Field(description="Role the person acted in.")


class CustomerRepresentative(ContractModel):
    """The customer's responsible person who decides on a maintenance plan."""

    name: ShortText = Field(description="Full name.")
    role: ShortText = Field(description="Position at the customer, e.g. 'Plant manager'.")


# --- places and things ---------------------------------------------------------


class Site(ContractModel):
    """Where the equipment is installed."""

    site_id: Identifier = Field(description="Site id in intake's customer file.")
    name: ShortText = Field(description="Site name, e.g. 'Shah Alam plant 2'.")
    address: Text = Field(description="Street address, one line.")
    city: ShortText = Field(description="City or town.")
    postal_code: ShortText | None = Field(default=None, description="Postal code.")
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 country code.")
    region: Identifier = Field(description="Service region code used for engineer matching, e.g. 'central'.")


class Equipment(ContractModel):
    """One compressor unit as the customer file knows it."""

    equipment_id: Identifier = Field(description="Equipment id in intake's customer file.")
    model_code: Identifier = Field(description="Model code in the equipment catalogue, e.g. 'AC-GA37VSD'.")
    brand: ShortText = Field(description="Manufacturer brand.")
    model: ShortText = Field(description="Manufacturer model name.")
    compressor_type: CompressorType = Field(description="Compressor technology.")
    serial_number: ShortText = Field(description="Manufacturer serial number.")
    purchase_date: date = Field(description="Date the customer bought the unit.")
    warranty_end: date | None = Field(default=None, description="Last day of the warranty, if known.")
    running_hours: RunningHours | None = Field(
        default=None, description="Running hours last known (hour meter); null when unknown."
    )
    dryer_fitted: bool = Field(
        default=False, description="Whether an integrated refrigerant/desiccant dryer is fitted."
    )


class TimeWindow(ContractModel):
    start: AwareDatetime = Field(description="Start of the window.")
    end: AwareDatetime = Field(description="End of the window, after start.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ServiceCommitment(ContractModel):
    """What the engineer promised the customer in the remote pre-diagnosis."""

    arrive_by: AwareDatetime = Field(description="Promised latest arrival on site.")
    resolve_by: AwareDatetime = Field(
        description="Promised latest time the equipment is repaired and passes inspection; not before arrive_by."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.resolve_by < self.arrive_by:
            raise ValueError("resolve_by must not be before arrive_by")
        return self


# --- work ----------------------------------------------------------------------


class Measurement(ContractModel):
    """A reading taken with an instrument during diagnosis."""

    name: ShortText = Field(description="What was measured, e.g. 'discharge temperature'.")
    value: float = Field(description="Measured value.")
    unit: Unit = Field(description="Unit of the value, e.g. 'bar', '°C', 'mm/s', 'A'.")
    instrument: ShortText | None = Field(default=None, description="Instrument used, e.g. 'Fluke 179'.")


class PartLine(ContractModel):
    """A part or material with its quantity."""

    part_number: PartNumber = Field(description="Manufacturer part number, e.g. '2901-0776-00'.")
    description: ShortText = Field(description="Part or material description.")
    quantity: float = Field(gt=0, le=100_000, description="Quantity, in unit.")
    unit: Unit = Field(default="pcs", description="Unit of the quantity, e.g. 'pcs', 'l'.")


class PartUsed(PartLine):
    """A part consumed during execution."""

    in_plan: bool = Field(default=True, description="False when the part was not in the approved plan.")
    reason: Text | None = Field(default=None, description="Why a part outside the plan was used; required then.")

    @model_validator(mode="after")
    def _reason_outside_plan(self) -> Self:
        if not self.in_plan and self.reason is None:
            raise ValueError("a part used outside the plan needs a reason")
        return self


class PlanStep(ContractModel):
    """One step of a maintenance plan, in execution order."""

    sequence: int = Field(ge=1, le=500, description="Position in the plan, from 1.")
    description: Text = Field(description="What to do, as the manufacturer's procedure states it.")
    description_ms: Text | None = Field(
        default=None, description="The same in Bahasa Melayu, for the customer; null when none was written."
    )
    safety: bool = Field(
        default=False, description="Mandatory safety step (lock-out, depressurise, ...); cannot be skipped."
    )
    procedure_step: Identifier | None = Field(
        default=None, description="Step id in the manufacturer procedure; null for a step the engineer added."
    )
    standard_minutes: float | None = Field(default=None, ge=0, le=10_000, description="Standard time for the step.")


class StepDone(ContractModel):
    """A plan step carried out."""

    sequence: int = Field(ge=1, le=500, description="Position of the step in the plan.")
    description: Text = Field(description="The step as carried out.")
    safety: bool = Field(default=False, description="Whether it is a mandatory safety step.")
    completed_at: AwareDatetime = Field(description="When the step was finished.")


class IndicatorResult(ContractModel):
    """One performance indicator measured in the quality inspection, against its limit."""

    code: Identifier = Field(description="Indicator code from the inspection template, e.g. 'discharge_pressure'.")
    name: ShortText = Field(description="Human-readable indicator name.")
    name_ms: ShortText | None = Field(default=None, description="The name in Bahasa Melayu, for the customer.")
    value: float = Field(description="Measured value.")
    unit: Unit = Field(description="Unit of value and limits.")
    min_limit: float | None = Field(
        default=None, description="Lowest acceptable value; null when unbounded below (one limit at least)."
    )
    max_limit: float | None = Field(
        default=None, description="Highest acceptable value; null when unbounded above (one limit at least)."
    )
    passed: bool = Field(description="Whether the value is within the limits (as quality evaluated it).")
    corrective_action: Text | None = Field(
        default=None,
        description="For a failed indicator: what to check and correct in the rework (from the inspection "
        "template); null for a passed one.",
    )
    corrective_action_ms: Text | None = Field(
        default=None, description="The corrective action in Bahasa Melayu; null when there is none."
    )

    @model_validator(mode="after")
    def _has_limit(self) -> Self:
        if self.min_limit is None and self.max_limit is None:
            raise ValueError("an indicator needs min_limit, max_limit or both")
        if self.min_limit is not None and self.max_limit is not None and self.min_limit > self.max_limit:
            raise ValueError("min_limit must not exceed max_limit")
        return self


class StoredObject(ContractModel):
    """A file kept in object storage."""

    bucket: BucketName = Field(description="Bucket name.")
    object_key: ObjectKey = Field(description="Object key inside the bucket.")
    sha256: Sha256 = Field(description="SHA-256 of the content, lowercase hex.")
    size_bytes: int = Field(ge=0, description="Content length in bytes.")
    content_type: ShortText = Field(description="MIME type, e.g. 'application/pdf'.")


class ServiceOutcome(ContractModel):
    """What the maintenance record says was done: the basis of the report, survey and customer file."""

    customer_id: Identifier = Field(description="Customer id in intake's customer file.")
    equipment_id: Identifier = Field(description="Equipment id in intake's customer file.")
    serial_number: ShortText = Field(description="Serial number of the unit serviced.")
    service_date: date = Field(description="Date the job's inspection passed.")
    engineer: Engineer = Field(description="Engineer who did the work.")
    root_cause: Text = Field(description="Cause of failure.")
    failure_category: FailureCategory = Field(description="Cause class, for the Pareto of failure causes.")
    repair_method: Text = Field(description="How it was repaired.")
    parts_used: list[PartUsed] = Field(description="Parts and materials used over all rounds.")
    labour_hours: Hours = Field(description="Labour hours over all rounds.")
    inspection_rounds: Round = Field(description="Rounds needed until the inspection passed (1 = first-time pass).")
    running_hours: RunningHours | None = Field(
        default=None, description="Hour-meter reading at the service; null when not read."
    )
    arrive_by_met: bool | None = Field(
        default=None, description="Whether the promised arrival was kept; null without a commitment."
    )
    resolve_by_met: bool | None = Field(
        default=None, description="Whether the promised resolution was kept; null without a commitment."
    )
