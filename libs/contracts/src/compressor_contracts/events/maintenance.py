"""Events published by maintenance: on-site diagnosis (3), plan (4), execution and rework (5)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import AwareDatetime, Field, model_validator

from compressor_contracts.common import (
    CustomerRepresentative,
    Engineer,
    Equipment,
    FailureCategory,
    Hours,
    Identifier,
    IndicatorResult,
    LongText,
    Measurement,
    ObjectKey,
    PartLine,
    PartUsed,
    PlanStep,
    Round,
    RunningHours,
    Sha256,
    ShortText,
    StepDone,
    StoredObject,
    Text,
)
from compressor_contracts.envelope import JobEventData


class JobEngineerArrived(JobEventData):
    """The engineer arrived on site (the arrive-by deadline is met or missed here)."""

    name: ClassVar[str] = "job.engineer_arrived"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 3

    engineer: Engineer = Field(description="The engineer on site.")
    arrived_at: AwareDatetime = Field(description="Arrival time on site.")


class JobDiagnosed(JobEventData):
    """The on-site diagnosis: measurements, root cause and scope."""

    name: ClassVar[str] = "job.diagnosed"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 3

    engineer: Engineer = Field(description="The diagnosing engineer.")
    measurements: list[Measurement] = Field(min_length=1, max_length=200, description="Instrument readings.")
    root_cause: Text = Field(description="The cause of the fault.")
    failure_category: FailureCategory = Field(description="Cause class, for the Pareto of failure causes by model.")
    scope: Text = Field(description="Extent of the fault: affected components and consequences.")
    running_hours: RunningHours | None = Field(default=None, description="Hour-meter reading on site.")
    photo_keys: list[ObjectKey] = Field(
        default=[], max_length=50, description="Object keys of photos in maintenance's photo bucket."
    )


class JobPlanProposed(JobEventData):
    """A maintenance plan (or a revision of it) was proposed to the customer's responsible person."""

    name: ClassVar[str] = "job.plan_proposed"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 4

    revision: int = Field(ge=1, le=100, description="Plan revision, from 1; a rejected plan is revised.")
    engineer: Engineer = Field(description="The engineer who wrote the plan.")
    procedure_id: Identifier = Field(description="Manufacturer procedure the plan is built from.")
    steps: list[PlanStep] = Field(min_length=1, max_length=500, description="Steps in execution order, sequence 1..n.")
    parts: list[PartLine] = Field(default=[], max_length=200, description="Parts and materials needed.")
    estimated_hours: Hours = Field(description="Estimated labour hours.")
    standards: list[ShortText] = Field(
        default=[], max_length=20, description="Standards the plan complies with, e.g. 'ISO 1217:2009'."
    )
    waiting_for_parts: list[PartLine] = Field(
        default=[], max_length=200, description="Parts out of stock; empty when everything is available."
    )

    @model_validator(mode="after")
    def _steps_in_order(self) -> Self:
        if [s.sequence for s in self.steps] != list(range(1, len(self.steps) + 1)):
            raise ValueError("steps must be numbered 1..n in order")
        return self


class JobPlanApproved(JobEventData):
    """The customer's responsible person approved a plan revision; its parts are reserved."""

    name: ClassVar[str] = "job.plan_approved"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 4

    revision: int = Field(ge=1, le=100, description="The approved plan revision.")
    approver: CustomerRepresentative = Field(description="Who approved.")
    comments: Text | None = Field(default=None, description="The approver's comments.")


class JobPlanRejected(JobEventData):
    """The customer's responsible person rejected a plan revision; a revised plan follows."""

    name: ClassVar[str] = "job.plan_rejected"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 4

    revision: int = Field(ge=1, le=100, description="The rejected plan revision.")
    rejected_by: CustomerRepresentative = Field(description="Who rejected.")
    comments: Text = Field(description="Why, and what to change.")


class JobWorkStarted(JobEventData):
    """Execution of the approved plan started; round 1, or a rework round after a failed inspection."""

    name: ClassVar[str] = "job.work_started"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 5

    round: Round = Field(description="Work round: 1, then +1 per failed inspection.")
    engineer: Engineer = Field(description="The engineer doing the work.")
    plan_revision: int = Field(ge=1, le=100, description="The approved plan revision being executed.")
    rework_indicators: list[IndicatorResult] = Field(
        default=[],
        max_length=100,
        description="For a rework round, the failed indicators to correct; empty in round 1.",
    )


class JobProgressReported(JobEventData):
    """A plan step was done; carries a message written for the customer."""

    name: ClassVar[str] = "job.progress_reported"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 5

    round: Round = Field(description="Work round.")
    step: StepDone = Field(description="The step just done.")
    steps_done: int = Field(ge=1, le=500, description="Steps done so far in this round.")
    steps_total: int = Field(ge=1, le=500, description="Steps in this round.")
    message: LongText = Field(description="Progress message for the customer, ready to send (English).")
    message_ms: LongText | None = Field(
        default=None, description="The same message in Bahasa Melayu, for contacts who prefer it."
    )


class JobWorkCompleted(JobEventData):
    """A work round was completed; quality opens an inspection for that round."""

    name: ClassVar[str] = "job.work_completed"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = 5

    round: Round = Field(description="The completed round.")
    engineer: Engineer = Field(description="The engineer who did the work.")
    equipment: Equipment = Field(description="The unit worked on (quality picks the inspection template by it).")
    steps_done: list[StepDone] = Field(min_length=1, max_length=500, description="Steps done in this round, in order.")
    parts_used: list[PartUsed] = Field(default=[], max_length=200, description="Parts consumed in this round.")
    labour_hours: Hours = Field(description="Labour hours of this round.")
    repair_method: Text = Field(description="What was done, in a sentence or two (for the report).")


class SignedFor(StrEnum):
    """What a customer's signature accepts."""

    PLAN_APPROVAL = "plan_approval"
    """A plan revision, signed when it is approved (in the portal or on the engineer's phone)."""
    WORK_ACCEPTANCE = "work_acceptance"
    """The completed and inspected work: the final record's facts, signed on the engineer's phone."""


class JobSigned(JobEventData):
    """The customer's responsible person signed: proof of what they accepted, kept with the job's record."""

    name: ClassVar[str] = "job.signed"
    producer: ClassVar[str] = "maintenance"
    phase: ClassVar[int | None] = None

    signature_id: Identifier = Field(description="Id of this signature; one per plan approval or work acceptance.")
    signed_for: SignedFor = Field(description="What the signature accepts.")
    plan_revision: int | None = Field(
        default=None, ge=1, le=100, description="The plan revision signed for; set for a plan approval."
    )
    round: Round | None = Field(default=None, description="The accepted work round; set for a work acceptance.")
    signer: CustomerRepresentative = Field(description="Who signed: their name and position.")
    signed_at: AwareDatetime = Field(description="When they signed.")
    content_sha256: Sha256 = Field(
        description="SHA-256 of what was signed (canonical JSON of the plan revision, or of the work's final facts)."
    )
    image: StoredObject = Field(description="The drawn signature (PNG) in maintenance's bucket.")
    collected_by: Engineer | None = Field(
        default=None, description="The engineer on whose phone it was signed; null when signed in the portal."
    )

    @model_validator(mode="after")
    def _names_what_was_signed(self) -> Self:
        if self.signed_for is SignedFor.PLAN_APPROVAL and self.plan_revision is None:
            raise ValueError("a plan approval signature names its plan_revision")
        if self.signed_for is SignedFor.WORK_ACCEPTANCE and self.round is None:
            raise ValueError("a work acceptance signature names its round")
        return self
