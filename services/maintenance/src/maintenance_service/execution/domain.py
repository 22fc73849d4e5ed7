"""Phase 5: executing the approved plan in rounds, and rework after a failed inspection. Pure.

Round 1 executes the approved plan. A failed inspection opens the next round whose work is the
failed indicators: the plan's safety steps, one corrective step per failed indicator, then a test
run. Steps are done strictly in order; a non-safety step may be skipped with a reason, a safety
step never. Completing a round records the parts used and the hours.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts.common import IndicatorResult, Language, PartNumber, PartUsed, PlanStep, StepDone
from compressor_contracts.events.maintenance import JobProgressReported, JobWorkCompleted, JobWorkStarted
from compressor_contracts.events.quality import JobInspectionFailed
from compressor_kit.i18n import speaking
from compressor_kit.refusals import Refusal
from maintenance_service.parts.domain import CataloguePart, known_part
from maintenance_service.texts import _
from maintenance_service.work_orders.domain import (
    Round,
    RoundStatus,
    SkippedStep,
    Status,
    WorkOrder,
)


class AddedStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=2000)
    safety: bool = False
    standard_minutes: float | None = Field(default=None, ge=0, le=10_000)


class PartUsedDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    part_number: PartNumber
    quantity: float = Field(gt=0, le=100_000)
    in_plan: bool = Field(default=True, description="False for a part the approved plan does not list.")
    reason: str | None = Field(default=None, min_length=1, max_length=2000, description="Required when not in plan.")


class CompletionDraft(BaseModel):
    """The round's work report: parts used and hours."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parts_used": [
                        {"part_number": "1622-3600-00", "quantity": 1},
                        {
                            "part_number": "2901-1000-05",
                            "quantity": 2,
                            "in_plan": False,
                            "reason": "Oil cooler fouled; cleaned during the round.",
                        },
                    ],
                    "labour_hours": 3.5,
                    "repair_method": "Replaced the thermostatic valve element and the oil filter; cleaned the cooler.",
                }
            ]
        },
    )

    parts_used: list[PartUsedDraft] = Field(default=[], max_length=200)
    labour_hours: float = Field(gt=0, le=10_000)
    repair_method: str = Field(min_length=1, max_length=2000, description="What was done, for the report.")


# --- rounds -------------------------------------------------------------------------------


def _limit_text(indicator: IndicatorResult) -> str:
    unit = indicator.unit
    if indicator.min_limit is not None and indicator.max_limit is not None:
        return f"{indicator.min_limit:g}-{indicator.max_limit:g} {unit}"
    if indicator.max_limit is not None:
        highest = f"{indicator.max_limit:g} {unit}"
        return _("at most %(limit)s", limit=highest)
    lowest = f"{indicator.min_limit:g} {unit}"
    return _("at least %(limit)s", limit=lowest)


def _indicator_name(indicator: IndicatorResult, language: Language) -> str:
    return (indicator.name_ms if language == Language.MS else None) or indicator.name


def _correction(indicator: IndicatorResult, language: Language) -> str:
    measured = f"{indicator.value:g} {indicator.unit}"
    with speaking(language):
        return _(
            "Find and correct the cause of the failed %(indicator)s: measured %(value)s, required %(limit)s",
            indicator=_indicator_name(indicator, language),
            value=measured,
            limit=_limit_text(indicator),
        )


def _test_run(failed: list[IndicatorResult], language: Language) -> str:
    with speaking(language):
        names = ", ".join(_indicator_name(i, language) for i in failed)
        return _("Remove lock-out, restore supply and run a test; check %(indicators)s", indicators=names)


def rework_steps(plan_steps: list[PlanStep], failed: list[IndicatorResult]) -> list[PlanStep]:
    """The plan's safety steps, a corrective step per failed indicator, a test run (each in both languages)."""
    steps = [s for s in plan_steps if s.safety]
    steps += [
        PlanStep(
            sequence=1,
            description=_correction(indicator, Language.EN),
            description_ms=_correction(indicator, Language.MS),
        )
        for indicator in failed
    ]
    steps.append(
        PlanStep(
            sequence=1,
            description=_test_run(failed, Language.EN),
            description_ms=_test_run(failed, Language.MS),
            standard_minutes=30,
        )
    )
    return [s.model_copy(update={"sequence": i + 1}) for i, s in enumerate(steps)]


def reopen_for_rework(order: WorkOrder, event: JobInspectionFailed) -> WorkOrder:
    """A failed inspection of the current round opens the next one; anything else changes nothing."""
    current = order.current_round
    if order.status == Status.CANCELLED or current is None or order.approved_plan is None:
        return order
    if current.round != event.round or current.status != RoundStatus.COMPLETED:
        return order  # already reopened (or not ours to reopen)
    next_round = Round(
        round=event.round + 1,
        plan_revision=order.approved_plan.revision,
        steps=rework_steps(order.approved_plan.steps, list(event.failed_indicators)),
        rework_indicators=list(event.failed_indicators),
    )
    return order.model_copy(update={"rounds": [*order.rounds, next_round], "status": Status.REWORK})


def start_work(
    order: WorkOrder, user_id: str, added_steps: list[AddedStep], now: datetime
) -> tuple[WorkOrder, JobWorkStarted]:
    order.require_active()
    engineer = order.require_engineer(user_id)
    plan = order.approved_plan
    if order.status == Status.PLAN_APPROVED and plan is not None:
        if added_steps:
            raise Refusal.invalid(
                "round 1 executes the approved plan as approved; propose a revised plan instead", field="added_steps"
            )
        work = Round(round=1, plan_revision=plan.revision, steps=plan.steps)
        rounds = [*order.rounds, work]
    elif order.status == Status.REWORK and order.current_round is not None:
        ready = order.current_round
        steps = list(ready.steps)
        # Added steps go before the final test run.
        extra = [
            PlanStep(sequence=1, description=a.description, safety=a.safety, standard_minutes=a.standard_minutes)
            for a in added_steps
        ]
        steps = steps[:-1] + extra + steps[-1:]
        steps = [s.model_copy(update={"sequence": i + 1}) for i, s in enumerate(steps)]
        work = ready.model_copy(update={"steps": steps})
        rounds = [*order.rounds[:-1], work]
    elif order.status in {Status.IN_PROGRESS}:
        raise Refusal.conflict(
            f"round {order.current_round.round if order.current_round else 1} is already in progress"
        )
    else:
        raise Refusal.conflict(
            f"work starts only on an approved plan; the work order is {order.status.value}", field="status"
        )
    work = work.model_copy(update={"status": RoundStatus.IN_PROGRESS, "started_at": now})
    rounds[-1] = work
    event = JobWorkStarted(
        job_id=order.job_id,
        round=work.round,
        engineer=engineer,
        plan_revision=work.plan_revision,
        rework_indicators=work.rework_indicators,
    )
    return order.model_copy(update={"rounds": rounds, "status": Status.IN_PROGRESS}), event


def _round_in_progress(order: WorkOrder, user_id: str) -> Round:
    order.require_active()
    order.require_engineer(user_id)
    current = order.current_round
    if order.status != Status.IN_PROGRESS or current is None or current.status != RoundStatus.IN_PROGRESS:
        raise Refusal.conflict(f"no work round is in progress; the work order is {order.status.value}", field="status")
    return current


def next_step(work: Round) -> PlanStep | None:
    finished = {s.sequence for s in work.steps_done} | {s.sequence for s in work.skipped}
    return next((s for s in work.steps if s.sequence not in finished), None)


def _the_next(work: Round, sequence: int) -> PlanStep:
    step = next((s for s in work.steps if s.sequence == sequence), None)
    if step is None:
        raise Refusal.not_found(f"round {work.round} has no step {sequence}", field="sequence")
    upcoming = next_step(work)
    if upcoming is None:
        raise Refusal.conflict(f"every step of round {work.round} is finished", field="sequence")
    if upcoming.sequence != sequence:
        done = sequence < upcoming.sequence
        raise Refusal.conflict(
            f"step {sequence} is already finished"
            if done
            else f"step out of order: the next step is {upcoming.sequence}",
            field="sequence",
        )
    return step


def step_text(step: PlanStep, language: Language) -> str:
    """The step as the reader reads it: its Malay text for a Malay reader when it has one, else as written."""
    return (step.description_ms if language == Language.MS else None) or step.description


def progress_message(
    work: Round, step: PlanStep, upcoming: PlanStep | None, language: Language, note: str | None = None
) -> str:
    """What the customer reads when a step is done, in `language`: the step, the next one (or that all
    are done) and the engineer's note as typed."""
    with speaking(language):
        done, total = step_text(step, language), len(work.steps)
        if work.round > 1:
            message = _(
                "Step %(n)s of %(total)s of round %(round)s (rework) is done: %(step)s.",
                n=step.sequence,
                total=total,
                round=work.round,
                step=done,
            )
        else:
            message = _(
                "Step %(n)s of %(total)s of the repair is done: %(step)s.", n=step.sequence, total=total, step=done
            )
        if upcoming is not None:
            message += " " + _("Next: %(step)s.", step=step_text(upcoming, language))
        else:
            message += " " + _("All steps are done; the engineer is finishing the work report.")
        if note:
            message += " " + _("Engineer's note: %(note)s", note=note)
    return message


def complete_step(
    order: WorkOrder, user_id: str, sequence: int, note: str | None, now: datetime
) -> tuple[WorkOrder, JobProgressReported]:
    work = _round_in_progress(order, user_id)
    step = _the_next(work, sequence)
    done = StepDone(sequence=step.sequence, description=step.description, safety=step.safety, completed_at=now)
    updated_round = work.model_copy(update={"steps_done": [*work.steps_done, done]})
    upcoming = next_step(updated_round)
    event = JobProgressReported(
        job_id=order.job_id,
        round=work.round,
        step=done,
        steps_done=len(updated_round.steps_done),
        steps_total=len(work.steps),
        message=progress_message(updated_round, step, upcoming, Language.EN, note),
        message_ms=progress_message(updated_round, step, upcoming, Language.MS, note),
    )
    return order.model_copy(update={"rounds": [*order.rounds[:-1], updated_round]}), event


def skip_step(order: WorkOrder, user_id: str, sequence: int, reason: str, now: datetime) -> WorkOrder:
    work = _round_in_progress(order, user_id)
    step = _the_next(work, sequence)
    if step.safety:
        raise Refusal.invalid(f"step {sequence} is a mandatory safety step and cannot be skipped", field="sequence")
    skipped = SkippedStep(sequence=sequence, reason=reason, skipped_at=now)
    updated_round = work.model_copy(update={"skipped": [*work.skipped, skipped]})
    return order.model_copy(update={"rounds": [*order.rounds[:-1], updated_round]})


def parts_used(order: WorkOrder, drafts: list[PartUsedDraft], catalogue: dict[str, CataloguePart]) -> list[PartUsed]:
    planned = {p.part_number for p in order.approved_plan.parts} if order.approved_plan else set()
    used = []
    for index, draft in enumerate(drafts):
        part = known_part(catalogue, draft.part_number, f"parts_used.{index}.part_number")
        if draft.in_plan and part.part_number not in planned:
            raise Refusal.invalid(
                f"part {part.part_number} is not in the approved plan: set in_plan to false and give a reason",
                field=f"parts_used.{index}.in_plan",
            )
        if not draft.in_plan and not draft.reason:
            raise Refusal.invalid(
                f"part {part.part_number} is used outside the plan: give a reason", field=f"parts_used.{index}.reason"
            )
        used.append(
            PartUsed(
                part_number=part.part_number,
                description=part.description,
                quantity=draft.quantity,
                unit=part.unit,
                in_plan=draft.in_plan,
                reason=None if draft.in_plan else draft.reason,
            )
        )
    return used


def complete_work(
    order: WorkOrder, user_id: str, draft: CompletionDraft, catalogue: dict[str, CataloguePart], now: datetime
) -> tuple[WorkOrder, JobWorkCompleted, list[PartUsed]]:
    """Returns the parts used; the caller consumes them from stock in the same transaction."""
    work = _round_in_progress(order, user_id)
    engineer = order.require_engineer(user_id)
    if order.equipment is None:  # known since the assignment, which the round needed
        raise Refusal.conflict(f"the equipment of job {order.job_id} is unknown")
    upcoming = next_step(work)
    if upcoming is not None:
        raise Refusal.conflict(f"step {upcoming.sequence} of round {work.round} is not done yet", field="sequence")
    used = parts_used(order, draft.parts_used, catalogue)
    finished = work.model_copy(
        update={
            "status": RoundStatus.COMPLETED,
            "completed_at": now,
            "parts_used": used,
            "labour_hours": draft.labour_hours,
            "repair_method": draft.repair_method,
        }
    )
    event = JobWorkCompleted(
        job_id=order.job_id,
        round=work.round,
        engineer=engineer,
        equipment=order.equipment,
        steps_done=work.steps_done,
        parts_used=used,
        labour_hours=draft.labour_hours,
        repair_method=draft.repair_method,
    )
    updated = order.model_copy(
        update={
            "rounds": [*order.rounds[:-1], finished],
            "status": Status.AWAITING_INSPECTION,
            "reserved_parts": {},
        }
    )
    return updated, event, used
