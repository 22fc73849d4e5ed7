"""Phase 4: manufacturer procedures and the maintenance plan. Pure: no I/O.

A plan is built from one procedure that fits the equipment: the engineer keeps, reorders within
the manufacturer's order, or adds steps, and chooses parts. Every mandatory safety step of the
procedure must stay; every part must be in the catalogue. Parts the store cannot supply mark the
plan as waiting for parts. The customer's responsible person approves (the parts get reserved) or
rejects with comments, and the engineer proposes a revision.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compressor_contracts.common import (
    CompressorType,
    CustomerRepresentative,
    Equipment,
    Identifier,
    PartLine,
    PartNumber,
    PlanStep,
)
from compressor_contracts.events.maintenance import JobPlanApproved, JobPlanProposed, JobPlanRejected
from compressor_kit.refusals import Refusal
from maintenance_service.parts.domain import CataloguePart, known_part, totals
from maintenance_service.work_orders.domain import (
    Plan,
    PlanStatus,
    Status,
    WorkOrder,
)

SEED = Path(__file__).parent / "seed" / "procedures.json"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProcedureStep(Frozen):
    step_id: Identifier
    description: str = Field(min_length=1, max_length=2000)
    description_ms: str | None = Field(default=None, min_length=1, max_length=2000)
    """The step in Bahasa Melayu, for the customer (every shipped step has one: tests/test_seed_data.py)."""
    safety: bool = False
    """Mandatory: a plan may not drop it and execution may not skip it."""
    standard_minutes: float = Field(ge=0, le=10_000)


class ProcedurePart(Frozen):
    part_number: PartNumber
    quantity: float = Field(gt=0)


PROCEDURE_EXAMPLE: dict[str, Any] = {
    "procedure_id": "PROC-GA-VSD-OILCIRCUIT",
    "title": "Oil circuit repair: thermostatic valve, oil filter and oil change",
    "revision": 3,
    "compressor_type": "oil_injected_screw",
    "model_codes": ["AC-GA37VSD", "AC-GA30VSD"],
    "standards": ["Atlas Copco GA 30-37 VSD+ instruction book, oil circuit", "ISO 1217:2009"],
    "steps": [
        {
            "step_id": "GA-S01",
            "description": "Isolate the electrical supply at the main isolator and apply lock-out/tag-out",
            "description_ms": "Asingkan bekalan elektrik di suis pengasing utama dan pasang kunci keluar (LOTO)",
            "safety": True,
            "standard_minutes": 10,
        },
        {
            "step_id": "GA-M12",
            "description": "Replace the thermostatic valve element",
            "description_ms": "Tukar elemen injap termostatik",
            "safety": False,
            "standard_minutes": 60,
        },
    ],
    "parts": [{"part_number": "1622-3600-00", "quantity": 1}],
}


class Procedure(Frozen):
    """A manufacturer's maintenance procedure: the steps (safety steps mandatory) and the parts it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [PROCEDURE_EXAMPLE]})

    procedure_id: Identifier
    title: str
    revision: int = Field(ge=1)
    compressor_type: CompressorType
    model_codes: list[Identifier] = []
    """Models the procedure is written for; empty means every model of the type."""
    standards: list[str] = []
    steps: list[ProcedureStep] = Field(min_length=1)
    parts: list[ProcedurePart] = []

    def fits(self, equipment: Equipment) -> bool:
        if self.compressor_type != equipment.compressor_type:
            return False
        return not self.model_codes or equipment.model_code in self.model_codes

    def step(self, step_id: str) -> ProcedureStep | None:
        return next((s for s in self.steps if s.step_id == step_id), None)


def load_procedures(path: Path = SEED, catalogue: dict[str, CataloguePart] | None = None) -> dict[str, Procedure]:
    procedures = [Procedure.model_validate(p) for p in json.loads(path.read_text())["procedures"]]
    if catalogue is not None:
        for procedure in procedures:
            for part in procedure.parts:
                if part.part_number not in catalogue:
                    raise ValueError(f"{procedure.procedure_id} needs {part.part_number}, not in the parts catalogue")
    return {p.procedure_id: p for p in procedures}


def procedures_for(procedures: dict[str, Procedure], equipment: Equipment) -> list[Procedure]:
    """Procedures that fit the equipment: those written for its model first, then the generic ones."""
    fitting = [p for p in procedures.values() if p.fits(equipment)]
    return sorted(fitting, key=lambda p: not p.model_codes)  # stable: the seed order within each group


# --- building a plan ---------------------------------------------------------------------


class StepChoice(BaseModel):
    """One step of the plan: a procedure step by id, or a step the engineer adds."""

    model_config = ConfigDict(extra="forbid")

    procedure_step: Identifier | None = Field(default=None, description="Step id in the procedure.")
    description: str | None = Field(
        default=None, min_length=1, max_length=2000, description="For an added step (or to word a procedure step)."
    )
    safety: bool = Field(default=False, description="For an added step: a safety step that cannot be skipped.")
    standard_minutes: float | None = Field(default=None, ge=0, le=10_000)


class PartChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    part_number: PartNumber
    quantity: float = Field(gt=0, le=100_000)


class PlanDraft(BaseModel):
    """The plan the engineer proposes; without steps/parts the procedure's own are used."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "procedure_id": "PROC-GA-VSD-OILCIRCUIT",
                    "steps": [
                        {"procedure_step": "GA-S01"},
                        {"procedure_step": "GA-S02"},
                        {"procedure_step": "GA-S03"},
                        {"procedure_step": "GA-M12"},
                        {"description": "Check the fan motor current", "standard_minutes": 15},
                        {"procedure_step": "GA-M20"},
                    ],
                    "parts": [{"part_number": "1622-3600-00", "quantity": 1}],
                }
            ]
        },
    )

    procedure_id: Identifier
    steps: list[StepChoice] | None = Field(default=None, min_length=1, max_length=500)
    parts: list[PartChoice] | None = Field(default=None, max_length=200)
    estimated_hours: float | None = Field(default=None, gt=0, le=10_000)
    standards: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(default=None, max_length=20)


def build_steps(procedure: Procedure, choices: list[StepChoice] | None) -> list[PlanStep]:
    if choices is None:
        choices = [StepChoice(procedure_step=s.step_id) for s in procedure.steps]
    steps: list[PlanStep] = []
    used: dict[str, int] = {}
    last_position = -1
    order = {s.step_id: i for i, s in enumerate(procedure.steps)}
    for index, choice in enumerate(choices):
        where = f"steps.{index}"
        if choice.procedure_step is not None:
            source = procedure.step(choice.procedure_step)
            if source is None:
                raise Refusal.invalid(
                    f"step {choice.procedure_step!r} is not in procedure {procedure.procedure_id}",
                    field=f"{where}.procedure_step",
                )
            if source.step_id in used:
                raise Refusal.invalid(f"step {source.step_id} appears twice", field=f"{where}.procedure_step")
            if order[source.step_id] < last_position:
                raise Refusal.invalid(
                    f"step {source.step_id} is out of the manufacturer's order in {procedure.procedure_id}",
                    field=f"{where}.procedure_step",
                )
            last_position = order[source.step_id]
            used[source.step_id] = index
            # A step the engineer words differently has no Malay until someone writes it.
            reworded = choice.description is not None and choice.description != source.description
            steps.append(
                PlanStep(
                    sequence=index + 1,
                    description=choice.description or source.description,
                    description_ms=None if reworded else source.description_ms,
                    safety=source.safety,
                    procedure_step=source.step_id,
                    standard_minutes=source.standard_minutes
                    if choice.standard_minutes is None
                    else choice.standard_minutes,
                )
            )
        else:
            if not choice.description:
                raise Refusal.invalid("an added step needs a description", field=f"{where}.description")
            steps.append(
                PlanStep(
                    sequence=index + 1,
                    description=choice.description,
                    safety=choice.safety,
                    standard_minutes=choice.standard_minutes,
                )
            )
    dropped = [s for s in procedure.steps if s.safety and s.step_id not in used]
    if dropped:
        names = "; ".join(f"{s.step_id} '{s.description}'" for s in dropped)
        raise Refusal.invalid(
            f"the plan drops mandatory safety steps of {procedure.procedure_id}: {names}", field="steps"
        )
    return steps


def build_parts(
    procedure: Procedure, choices: list[PartChoice] | None, catalogue: dict[str, CataloguePart]
) -> list[PartLine]:
    if choices is None:
        choices = [PartChoice(part_number=p.part_number, quantity=p.quantity) for p in procedure.parts]
    lines = []
    for index, choice in enumerate(choices):
        part = known_part(catalogue, choice.part_number, f"parts.{index}.part_number")
        lines.append(
            PartLine(
                part_number=part.part_number, description=part.description, quantity=choice.quantity, unit=part.unit
            )
        )
    return lines


def estimate_hours(steps: list[PlanStep]) -> float:
    """Sum of standard times, rounded up to the quarter hour (at least a quarter)."""
    minutes = sum(s.standard_minutes or 0 for s in steps)
    return max(0.25, math.ceil(minutes / 15) / 4)


def build_plan(
    draft: PlanDraft,
    equipment: Equipment,
    procedures: dict[str, Procedure],
    catalogue: dict[str, CataloguePart],
) -> tuple[Procedure, list[PlanStep], list[PartLine], float, list[str]]:
    procedure = procedures.get(draft.procedure_id)
    if procedure is None:
        raise Refusal.invalid(f"unknown procedure {draft.procedure_id!r}", field="procedure_id")
    if not procedure.fits(equipment):
        raise Refusal.invalid(
            f"procedure {procedure.procedure_id} is not written for {equipment.model_code} "
            f"({equipment.compressor_type.value})",
            field="procedure_id",
        )
    steps = build_steps(procedure, draft.steps)
    parts = build_parts(procedure, draft.parts, catalogue)
    hours = draft.estimated_hours or estimate_hours(steps)
    standards = draft.standards if draft.standards is not None else list(procedure.standards)
    return procedure, steps, parts, hours, standards


def draft_plan(
    order: WorkOrder,
    user_id: str,
    draft: PlanDraft,
    procedures: dict[str, Procedure],
    catalogue: dict[str, CataloguePart],
) -> tuple[Procedure, list[PlanStep], list[PartLine], float, list[str]]:
    """The plan the work order's engineer drafts, built from its procedure (the stock is asked next)."""
    order.require_active()
    order.require_engineer(user_id)
    if order.equipment is None:
        raise Refusal.invalid("the job's equipment is unknown", field="procedure_id")
    return build_plan(draft, order.equipment, procedures, catalogue)


# --- proposing and deciding ---------------------------------------------------------------

PROPOSABLE = {Status.DIAGNOSED, Status.PLAN_PROPOSED, Status.WAITING_FOR_PARTS, Status.PLAN_REJECTED}
DECIDABLE = {Status.PLAN_PROPOSED, Status.WAITING_FOR_PARTS}


def propose(
    order: WorkOrder,
    user_id: str,
    procedure: Procedure,
    steps: list[PlanStep],
    parts: list[PartLine],
    hours: float,
    standards: list[str],
    missing: list[PartLine],
    now: datetime,
) -> tuple[WorkOrder, JobPlanProposed]:
    order.require_status(PROPOSABLE, "propose a plan")
    engineer = order.require_engineer(user_id)
    revision = len(order.plans) + 1
    earlier = [
        p.model_copy(update={"status": PlanStatus.SUPERSEDED}) if p.status == PlanStatus.PROPOSED else p
        for p in order.plans
    ]
    plan = Plan(
        revision=revision,
        procedure_id=procedure.procedure_id,
        steps=steps,
        parts=parts,
        estimated_hours=hours,
        standards=standards,
        waiting_for_parts=missing,
        proposed_at=now,
    )
    status = Status.WAITING_FOR_PARTS if missing else Status.PLAN_PROPOSED
    event = JobPlanProposed(
        job_id=order.job_id,
        revision=revision,
        engineer=engineer,
        procedure_id=procedure.procedure_id,
        steps=steps,
        parts=parts,
        estimated_hours=hours,
        standards=standards,
        waiting_for_parts=missing,
    )
    return order.model_copy(update={"plans": [*earlier, plan], "status": status}), event


def require_approver(order: WorkOrder, user_id: str, roles: frozenset[str], *, on_site: bool = False) -> None:
    """The customer's responsible person (token subject = the job's customer id) or a manager; `on_site`,
    also the job's assigned engineer, on whose phone the customer signs (maintenance_service.signatures)."""
    if "manager" in roles:
        return
    if "customer" in roles and order.customer is not None and order.customer.customer_id == user_id:
        return
    if on_site and "engineer" in roles and order.engineer is not None and order.engineer.engineer_id == user_id:
        return
    raise Refusal.forbidden(f"only the responsible person of the customer of job {order.job_id} may decide on its plan")


def decided_by(
    order: WorkOrder,
    user_id: str,
    roles: frozenset[str],
    name: str | None,
    given: CustomerRepresentative | None,
    *,
    on_site: bool = False,
) -> CustomerRepresentative:
    """Who decides on the plan, once allowed to: as given, else the job's contact person when the
    customer decides, else the manager (`name` from the token)."""
    require_approver(order, user_id, roles, on_site=on_site)
    if given is not None:
        return given
    if "customer" in roles and order.contact is not None:
        return CustomerRepresentative(name=order.contact.name, role=order.contact.role or "Responsible person")
    return CustomerRepresentative(name=name or user_id, role="Service manager")


def plan_awaiting_decision(order: WorkOrder, revision: int) -> Plan:
    order.require_status(DECIDABLE, "decide on a plan")
    plan = order.plan(revision)
    if plan.status != PlanStatus.PROPOSED:
        raise Refusal.conflict(
            f"plan revision {revision} is {plan.status.value}, not awaiting a decision", field="revision"
        )
    return plan


def approve(
    order: WorkOrder,
    revision: int,
    approver: CustomerRepresentative,
    user_id: str,
    comments: str | None,
    now: datetime,
) -> tuple[WorkOrder, JobPlanApproved, dict[str, float]]:
    """Returns the parts to reserve; the caller reserves them in the same transaction."""
    plan = plan_awaiting_decision(order, revision)
    decided = plan.model_copy(
        update={
            "status": PlanStatus.APPROVED,
            "decided_at": now,
            "decided_by": approver,
            "decided_by_user": user_id,
            "comments": comments,
            "waiting_for_parts": [],
        }
    )
    reservation = totals(plan.parts)
    plans = [decided if p.revision == revision else p for p in order.plans]
    updated = order.model_copy(update={"plans": plans, "status": Status.PLAN_APPROVED, "reserved_parts": reservation})
    event = JobPlanApproved(job_id=order.job_id, revision=revision, approver=approver, comments=comments)
    return updated, event, reservation


def reject(
    order: WorkOrder,
    revision: int,
    rejected_by: CustomerRepresentative,
    user_id: str,
    comments: str,
    now: datetime,
) -> tuple[WorkOrder, JobPlanRejected]:
    plan = plan_awaiting_decision(order, revision)
    decided = plan.model_copy(
        update={
            "status": PlanStatus.REJECTED,
            "decided_at": now,
            "decided_by": rejected_by,
            "decided_by_user": user_id,
            "comments": comments,
        }
    )
    plans = [decided if p.revision == revision else p for p in order.plans]
    event = JobPlanRejected(job_id=order.job_id, revision=revision, rejected_by=rejected_by, comments=comments)
    return order.model_copy(update={"plans": plans, "status": Status.PLAN_REJECTED}), event
