"""The engineer's repair (phases 4-5, 9) as the pages need it. Pure: no I/O.

What the forms send becomes the API's request bodies here (with the API's own field names, so a
refusal lands beside the input that caused it), and a work order's round becomes the checklist the
engineer works through, each step with the progress message the customer receives for it (worded as
maintenance words it, `execution.domain.progress_message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compressor_kit.refusals import Refusal
from console_service.texts import N_, _

# Limits of the APIs (docs/openapi/maintenance.json, feedback.json), repeated as HTML attributes.
TEXT_MAX = 2000
MEMO_MAX = 20000
SHORT_MAX = 200
QUANTITY_MAX = 100_000
HOURS_MAX = 10_000
MINUTES_MAX = 10_000
LESSONS_MAX = 50
# Labels marked here, translated where shown.
FOLLOW_UP_KINDS = (
    ("proactive_visit", N_("Proactive visit")),
    ("part_replacement", N_("Part replacement")),
    ("customer_training", N_("Customer training")),
    ("monitoring", N_("Monitoring")),
    ("other", N_("Other")),
)
PROPOSABLE = frozenset({"diagnosed", "plan_proposed", "waiting_for_parts", "plan_rejected"})
AWAITING_DECISION = ("plan_proposed", "waiting_for_parts")
PLAN_STATES = {
    "proposed": N_("Awaiting approval"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "superseded": N_("Superseded"),
}
STATUS_NAMES = {
    "pending": N_("Not open yet"),
    "open": N_("Open: go on site"),
    "on_site": N_("On site"),
    "diagnosed": N_("Diagnosed: propose a plan"),
    "plan_proposed": N_("Plan awaiting approval"),
    "waiting_for_parts": N_("Plan waiting for parts"),
    "plan_rejected": N_("Plan rejected: propose a revision"),
    "plan_approved": N_("Plan approved: start the work"),
    "in_progress": N_("Work in progress"),
    "awaiting_inspection": N_("Awaiting inspection"),
    "rework": N_("Inspection failed: rework"),
    "cancelled": N_("Cancelled"),
}


def _text(form: dict[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _number(form: dict[str, str], name: str, *, low: float, high: float, allow_zero: bool = False) -> float | None:
    raw = _text(form, name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Refusal.invalid(_("Enter a number."), field=name) from None
    if value != value or value < low or (value == low and not allow_zero) or value > high:
        if allow_zero:
            wanted = _("Enter a number at least %(low)g and at most %(high)g.", low=low, high=high)
        else:
            wanted = _("Enter a number more than %(low)g and at most %(high)g.", low=low, high=high)
        raise Refusal.invalid(wanted, field=name)
    return value


# --- the plan ----------------------------------------------------------------------------------


def plan_draft(form: dict[str, str], procedure: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /work-orders/{id}/plans: the procedure's steps the engineer keeps (safety steps
    always), an added step if typed, and the parts with their quantities (blank or 0 drops a part)."""
    steps: list[dict[str, Any]] = []
    dropped_any = False
    for step in procedure.get("steps", []):
        if step.get("safety") or form.get(f"keep.{step['step_id']}"):
            steps.append({"procedure_step": step["step_id"]})
        else:
            dropped_any = True
    added = _text(form, "added_step")
    if added:
        if len(added) > TEXT_MAX:
            raise Refusal.invalid(_("At most %(count)d characters.", count=TEXT_MAX), field="added_step")
        minutes = _number(form, "added_step_minutes", low=0, high=MINUTES_MAX, allow_zero=True)
        extra: dict[str, Any] = {"description": added}
        if minutes is not None:
            extra["standard_minutes"] = minutes
        # Before the procedure's last step (its test run), as rework steps are placed.
        steps = [*steps[:-1], extra, *steps[-1:]] if steps else [extra]
    parts: list[dict[str, Any]] = []
    index = 0
    while f"parts.{index}.part_number" in form:
        quantity = _number(form, f"parts.{index}.quantity", low=0, high=QUANTITY_MAX, allow_zero=True)
        part_number = _text(form, f"parts.{index}.part_number")
        if quantity and not part_number:
            raise Refusal.invalid(_("Choose the part."), field=f"parts.{index}.part_number")
        if part_number and quantity:
            parts.append({"part_number": part_number, "quantity": quantity})
        index += 1
    body: dict[str, Any] = {"procedure_id": _text(form, "procedure_id"), "parts": parts}
    if dropped_any or added:
        body["steps"] = steps
    hours = _number(form, "estimated_hours", low=0, high=HOURS_MAX)
    if hours is not None:
        body["estimated_hours"] = hours
    return body


def decision_body(form: dict[str, str], reject: bool) -> dict[str, Any]:
    """The body of approve/reject: who at the customer decided (given by phone to the manager) and why."""
    body: dict[str, Any] = {}
    name, role = _text(form, "approver.name"), _text(form, "approver.role")
    if name or role:
        if not name:
            raise Refusal.invalid(_("Who at the customer decided?"), field="approver.name")
        if not role:
            raise Refusal.invalid(_("Their position at the customer, e.g. Plant manager."), field="approver.role")
        for field, value in (("approver.name", name), ("approver.role", role)):
            if len(value) > SHORT_MAX:
                raise Refusal.invalid(_("At most %(count)d characters.", count=SHORT_MAX), field=field)
        body["approver"] = {"name": name, "role": role}
    comments = _text(form, "comments")
    if reject and not comments:
        raise Refusal.invalid(_("Say why the plan is rejected and what to change."), field="comments")
    if len(comments) > TEXT_MAX:
        raise Refusal.invalid(_("At most %(count)d characters.", count=TEXT_MAX), field="comments")
    if comments:
        body["comments"] = comments
    return body


def awaiting(order: dict[str, Any]) -> dict[str, Any] | None:
    """The plan revision of a work order that awaits a decision, if one does."""
    if order.get("status") not in AWAITING_DECISION:
        return None
    return next((p for p in reversed(order.get("plans") or []) if p.get("status") == "proposed"), None)


# --- the work rounds ---------------------------------------------------------------------------


def progress_message(round_number: int, total: int, step: dict[str, Any], upcoming: dict[str, Any] | None) -> str:
    """What the customer is told when `step` is done (maintenance's wording)."""
    what = f"round {round_number} (rework)" if round_number > 1 else "the repair"
    message = f"Step {step['sequence']} of {total} of {what} is done: {step['description']}."
    if upcoming is not None:
        message += f" Next: {upcoming['description']}."
    else:
        message += " All steps are done; the engineer is finishing the work report."
    return message


@dataclass(frozen=True)
class StepRow:
    step: dict[str, Any]
    state: str  # done, skipped, next, later
    message: str | None = None
    """Done: what the customer was told; next: what they will be told."""
    reason: str | None = None
    at: str | None = None


def checklist(work: dict[str, Any]) -> list[StepRow]:
    """The round's steps in order: done (with the customer's message), skipped (with the reason), the
    next one, and those after it."""
    steps = list(work.get("steps") or [])
    done = {d["sequence"]: d for d in work.get("steps_done") or []}
    skipped = {s["sequence"]: s for s in work.get("skipped") or []}
    rows: list[StepRow] = []
    next_found = False
    total = len(steps)
    for index, step in enumerate(steps):
        sequence = step["sequence"]
        # Steps go strictly in order: when this one is done, the one after it is what comes next.
        upcoming = steps[index + 1] if index + 1 < len(steps) else None
        if sequence in done:
            message = progress_message(work["round"], total, step, upcoming)
            rows.append(StepRow(step, "done", message, at=done[sequence].get("completed_at")))
        elif sequence in skipped:
            skip = skipped[sequence]
            rows.append(StepRow(step, "skipped", reason=skip.get("reason"), at=skip.get("skipped_at")))
        elif not next_found and work.get("status") == "in_progress":
            next_found = True
            rows.append(StepRow(step, "next", progress_message(work["round"], total, step, upcoming)))
        else:
            rows.append(StepRow(step, "later"))
    return rows


def completion_body(form: dict[str, str], planned: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of POST work/complete: the plan's parts with the quantity used (blank or 0: not used), an
    extra part outside the plan with its reason, the hours and what was done."""
    used: list[dict[str, Any]] = []
    planned_numbers = {p["part_number"] for p in planned}
    index = 0
    while f"parts_used.{index}.part_number" in form:
        number = _text(form, f"parts_used.{index}.part_number")
        quantity = _number(form, f"parts_used.{index}.quantity", low=0, high=QUANTITY_MAX, allow_zero=True)
        reason = _text(form, f"parts_used.{index}.reason")
        if number and quantity:
            line: dict[str, Any] = {"part_number": number, "quantity": quantity}
            if number not in planned_numbers:
                line["in_plan"] = False
                if reason:
                    line["reason"] = reason
            used.append(line)
        elif number and not quantity and number not in planned_numbers:
            raise Refusal.invalid(_("How many were used?"), field=f"parts_used.{index}.quantity")
        index += 1
    hours = _number(form, "labour_hours", low=0, high=HOURS_MAX)
    if hours is None:
        raise Refusal.invalid(_("Enter the hours worked in this round."), field="labour_hours")
    method = _text(form, "repair_method")
    if not method:
        raise Refusal.invalid(_("Say what was done, for the report."), field="repair_method")
    if len(method) > TEXT_MAX:
        raise Refusal.invalid(_("At most %(count)d characters.", count=TEXT_MAX), field="repair_method")
    return {"parts_used": used, "labour_hours": hours, "repair_method": method}


def renumbered_errors(errors: dict[str, str], sent: list[dict[str, Any]], rows: list[str]) -> dict[str, str]:
    """The API names parts by their index in what was sent; the form by its row. `rows` lists the
    form's part numbers by row."""
    fixed: dict[str, str] = {}
    for name, message in errors.items():
        head, _dot, rest = name.partition(".")
        index, _dot, tail = rest.partition(".")
        if head == "parts_used" and index.isdigit() and int(index) < len(sent):
            number = sent[int(index)]["part_number"]
            if number in rows:
                name = f"parts_used.{rows.index(number)}.{tail}" if tail else f"parts_used.{rows.index(number)}"
        fixed[name] = message
    return fixed


# --- the review memo ---------------------------------------------------------------------------


def review_body(form: dict[str, str]) -> dict[str, Any]:
    """The body of POST /jobs/{id}/review: the memo, lessons one a line, and one follow-up if typed."""
    memo = _text(form, "memo")
    if not memo:
        raise Refusal.invalid(_("Write what was done and how it went."), field="memo")
    if len(memo) > MEMO_MAX:
        raise Refusal.invalid(_("At most %(count)d characters.", count=MEMO_MAX), field="memo")
    lessons = [line.strip() for line in (form.get("lessons") or "").splitlines() if line.strip()]
    if len(lessons) > LESSONS_MAX:
        raise Refusal.invalid(_("At most %(count)d lessons.", count=LESSONS_MAX), field="lessons")
    for line in lessons:
        if len(line) > TEXT_MAX:
            raise Refusal.invalid(_("Each lesson at most %(count)d characters.", count=TEXT_MAX), field="lessons")
    follow_ups: list[dict[str, Any]] = []
    description = _text(form, "follow_ups.0.description")
    if description:
        kind = _text(form, "follow_ups.0.kind") or "other"
        if kind not in dict(FOLLOW_UP_KINDS):
            raise Refusal.invalid(_("Choose a kind of follow-up."), field="follow_ups.0.kind")
        if len(description) > TEXT_MAX:
            raise Refusal.invalid(_("At most %(count)d characters.", count=TEXT_MAX), field="follow_ups.0.description")
        follow_up: dict[str, Any] = {"kind": kind, "description": description}
        due = _text(form, "follow_ups.0.due_on")
        if due:
            follow_up["due_on"] = due
        follow_ups.append(follow_up)
    elif _text(form, "follow_ups.0.due_on"):
        raise Refusal.invalid(_("Say what the follow-up is."), field="follow_ups.0.description")
    return {"memo": memo, "lessons": lessons, "follow_ups": follow_ups}


def lesson_errors(errors: dict[str, str]) -> dict[str, str]:
    """`lessons.3` (the API's) shown beside the one lessons box."""
    fixed = dict(errors)
    for name in list(errors):
        if name.startswith("lessons."):
            fixed.setdefault("lessons", errors[name])
    return fixed
