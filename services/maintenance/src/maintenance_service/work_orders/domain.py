"""The work order: one per job, the engineer's record of phases 3-5. Pure: no I/O.

The work order opens once the job is both assigned and pre-diagnosed (the two events may arrive
in either order), follows reassignment, is reopened for a rework round by a failed inspection and
stops on cancellation. Every decision here returns the new work order; the caller stores it and
publishes the event in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts.common import (
    Contact,
    Customer,
    CustomerRepresentative,
    Engineer,
    Equipment,
    FailureCategory,
    IndicatorResult,
    Measurement,
    PartLine,
    PartUsed,
    PlanStep,
    Site,
    StepDone,
    StoredObject,
)
from compressor_contracts.events.dispatch import JobAssigned, JobPrediagnosed
from compressor_contracts.events.maintenance import SignedFor
from compressor_kit.refusals import Refusal


class Status(StrEnum):
    PENDING = "pending"
    """Known, but not yet both assigned and pre-diagnosed."""
    OPEN = "open"
    """The engineer may go on site."""
    ON_SITE = "on_site"
    DIAGNOSED = "diagnosed"
    PLAN_PROPOSED = "plan_proposed"
    WAITING_FOR_PARTS = "waiting_for_parts"
    """A plan is proposed but some of its parts are out of stock."""
    PLAN_REJECTED = "plan_rejected"
    PLAN_APPROVED = "plan_approved"
    IN_PROGRESS = "in_progress"
    AWAITING_INSPECTION = "awaiting_inspection"
    REWORK = "rework"
    """The inspection failed: the next round is ready to start."""
    CANCELLED = "cancelled"


class PlanStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class RoundStatus(StrEnum):
    READY = "ready"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Prediagnosis(Model):
    confirmed_symptoms: list[str]
    suspected_causes: list[str]
    likely_parts: list[PartLine] = []
    arrive_by: datetime
    resolve_by: datetime


class Diagnosis(Model):
    measurements: list[Measurement]
    root_cause: str
    failure_category: FailureCategory
    scope: str
    running_hours: int | None = None
    photo_keys: list[str] = []
    diagnosed_at: datetime


class PhotoUpload(Model):
    photo_key: str
    file_name: str
    content_type: str
    issued_at: datetime


class Plan(Model):
    revision: int
    procedure_id: str
    steps: list[PlanStep]
    parts: list[PartLine]
    estimated_hours: float
    standards: list[str] = []
    waiting_for_parts: list[PartLine] = []
    status: PlanStatus = PlanStatus.PROPOSED
    proposed_at: datetime
    decided_at: datetime | None = None
    decided_by: CustomerRepresentative | None = None
    decided_by_user: str | None = None
    comments: str | None = None


class SkippedStep(Model):
    sequence: int
    reason: str
    skipped_at: datetime


class Round(Model):
    round: int
    status: RoundStatus = RoundStatus.READY
    plan_revision: int
    steps: list[PlanStep]
    rework_indicators: list[IndicatorResult] = []
    steps_done: list[StepDone] = []
    skipped: list[SkippedStep] = []
    started_at: datetime | None = None
    completed_at: datetime | None = None
    parts_used: list[PartUsed] = []
    labour_hours: float | None = None
    repair_method: str | None = None


class PassedInspection(Model):
    """Quality's word that a round's work meets the requirements (job.inspection_passed)."""

    round: int
    passed_at: datetime


class Signature(Model):
    """The customer's responsible person signed: a plan approval or the acceptance of the inspected work."""

    signature_id: str
    signed_for: SignedFor
    plan_revision: int | None = None
    round: int | None = None
    signer: CustomerRepresentative
    signed_at: datetime
    content_sha256: str
    """SHA-256 of the canonical JSON of what was signed (maintenance_service.signatures.domain)."""
    image: StoredObject
    collected_by: Engineer | None = None
    recorded_by_user: str


class WorkOrder(Model):
    job_id: str
    version: int = 0
    status: Status = Status.PENDING
    correlation_id: str | None = None
    customer: Customer | None = None
    contact: Contact | None = None
    engineer: Engineer | None = None
    assigned_at: datetime | None = None
    """Time of the assignment event in force (a late, older reassignment does not override it)."""
    equipment: Equipment | None = None
    site: Site | None = None
    priority: str | None = None
    fault_description: str | None = None
    prediagnosis: Prediagnosis | None = None
    arrived_at: datetime | None = None
    photo_uploads: list[PhotoUpload] = []
    diagnosis: Diagnosis | None = None
    plans: list[Plan] = []
    reserved_parts: dict[str, float] = Field(default_factory=dict)
    """Parts still reserved in the store for this job (part number -> quantity)."""
    rounds: list[Round] = []
    inspection_passed: PassedInspection | None = None
    signatures: list[Signature] = []
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    # --- reading -----------------------------------------------------------------------

    @property
    def current_plan(self) -> Plan | None:
        return self.plans[-1] if self.plans else None

    @property
    def approved_plan(self) -> Plan | None:
        return next((p for p in reversed(self.plans) if p.status == PlanStatus.APPROVED), None)

    @property
    def current_round(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None

    def plan(self, revision: int) -> Plan:
        for plan in self.plans:
            if plan.revision == revision:
                return plan
        raise Refusal.not_found(f"job {self.job_id} has no plan revision {revision}", field="revision")

    def require_engineer(self, user_id: str) -> Engineer:
        """Only the engineer assigned now acts on the work order."""
        if self.engineer is None or self.engineer.engineer_id != user_id:
            raise Refusal.forbidden(f"only the engineer assigned to job {self.job_id} may do this")
        return self.engineer

    def require_active(self) -> None:
        if self.status == Status.CANCELLED:
            raise Refusal.conflict(f"job {self.job_id} was cancelled: {self.cancel_reason}")
        if self.status == Status.PENDING:
            waiting = "assignment" if self.engineer is None else "the remote pre-diagnosis"
            raise Refusal.conflict(f"the work order of job {self.job_id} is not open yet: waiting for {waiting}")

    def require_status(self, allowed: set[Status], action: str) -> None:
        self.require_active()
        if self.status not in allowed:
            raise Refusal.conflict(f"cannot {action} while the work order is {self.status.value}", field="status")


# --- events from other services (all idempotent under redelivery) ---------------------------


def _opened(order: WorkOrder) -> WorkOrder:
    if order.status == Status.PENDING and order.engineer is not None and order.prediagnosis is not None:
        return order.model_copy(update={"status": Status.OPEN})
    return order


def record_request(order: WorkOrder, customer: Customer, contact: Contact, correlation_id: str) -> WorkOrder:
    update = {"customer": customer, "contact": contact, "correlation_id": order.correlation_id or correlation_id}
    return order.model_copy(update=update)


def record_assignment(order: WorkOrder, event: JobAssigned, event_time: datetime, correlation_id: str) -> WorkOrder:
    """Assignment or reassignment; an older assignment arriving late does not replace a newer one."""
    update: dict[str, object] = {"correlation_id": order.correlation_id or correlation_id}
    if order.assigned_at is None or event_time >= order.assigned_at:
        update |= {"engineer": event.engineer, "assigned_at": event_time}
    update |= {
        "equipment": event.equipment,
        "site": event.site,
        "priority": event.priority.value,
        "fault_description": event.fault_description,
    }
    return _opened(order.model_copy(update=update))


def record_prediagnosis(order: WorkOrder, event: JobPrediagnosed, correlation_id: str) -> WorkOrder:
    prediagnosis = Prediagnosis(
        confirmed_symptoms=list(event.confirmed_symptoms),
        suspected_causes=list(event.suspected_causes),
        likely_parts=list(event.likely_parts),
        arrive_by=event.commitment.arrive_by,
        resolve_by=event.commitment.resolve_by,
    )
    update = {"prediagnosis": prediagnosis, "correlation_id": order.correlation_id or correlation_id}
    return _opened(order.model_copy(update=update))


def record_inspection_passed(order: WorkOrder, round_: int, passed_at: datetime) -> WorkOrder:
    """The inspection of the completed current round passed: its work may now be accepted with a signature.
    Another round's result, or the same one again, changes nothing."""
    current = order.current_round
    if current is None or current.round != round_ or current.status != RoundStatus.COMPLETED:
        return order
    if order.inspection_passed is not None and order.inspection_passed.round == round_:
        return order
    return order.model_copy(update={"inspection_passed": PassedInspection(round=round_, passed_at=passed_at)})


def cancel(order: WorkOrder, reason: str, now: datetime) -> tuple[WorkOrder, dict[str, float]]:
    """Stop work; returns the parts reservation to release."""
    if order.status == Status.CANCELLED:
        return order, {}
    released = dict(order.reserved_parts)
    return (
        order.model_copy(
            update={"status": Status.CANCELLED, "cancelled_at": now, "cancel_reason": reason, "reserved_parts": {}}
        ),
        released,
    )
