"""The engineer's jobs and each job's next step, and the bodies the field forms send. Pure: no I/O.

A job's state is read from two services: dispatch (assignment, pre-diagnosis and commitment,
departure; `status` resolved once the inspection passed) and maintenance (the work order: on site,
diagnosed, planned, worked, inspected). `stage_of` combines them into the one thing the engineer does
next. Times are typed and shown in the engineer's own time zone (their calendar's, from dispatch):
`<input type=datetime-local>` holds no zone, so the page converts both ways.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from compressor_contracts import FailureCategory, Priority
from console_service.texts import N_, _
from console_service.times import local_day_time, local_time, moment

LOCAL_INPUT = "%Y-%m-%dT%H:%M"
PART_ROWS = 3
MEASUREMENT_ROWS = 3
# Labels marked here, translated where shown (console_service.pages.labelled).
CONTACTED_VIA = (("phone", N_("Phone")), ("online", N_("Online")))
FAILURE_CATEGORY_NAMES = {
    "air_end": N_("Air end"),
    "lubrication": N_("Lubrication"),
    "cooling": N_("Cooling"),
    "air_intake": N_("Air intake"),
    "valves_and_regulation": N_("Valves and regulation"),
    "motor_and_drive": N_("Motor and drive"),
    "electrical_and_controls": N_("Electrical and controls"),
    "leaks": N_("Leaks"),
    "condensate_and_drying": N_("Condensate and drying"),
    "scheduled_service": N_("Scheduled service"),
    "other": N_("Other"),
}
FAILURE_CATEGORIES = tuple(
    (c.value, FAILURE_CATEGORY_NAMES.get(c.value, c.value.replace("_", " ").capitalize())) for c in FailureCategory
)
PHOTO_TYPES = ("image/jpeg", "image/png", "image/heic", "image/webp")
# The API's limits (dispatch PrediagnosisInput, maintenance DiagnosisDraft), repeated in the page.
SYMPTOMS_MAX, SYMPTOM_LENGTH = 50, 200
CAUSES_MAX, CAUSE_LENGTH = 20, 2000
TEXT_LENGTH = 2000


def local_input(value: object, zone: ZoneInfo) -> str:
    """The value of a datetime-local input for this time, in the zone ("" when there is none)."""
    when = moment(value)
    return when.astimezone(zone).strftime(LOCAL_INPUT) if when else ""


def from_local_input(text: str, zone: ZoneInfo) -> datetime | None:
    """What a datetime-local input sent ("2030-01-07T14:00", seconds allowed), read in the zone."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def shown(value: object, zone: ZoneInfo, now: datetime | None = None) -> str:
    """A time for people, in their language: "today 14:00", "Tue 8 Jan, 09:30" on another day ("" when
    there is none)."""
    when = moment(value)
    if when is None:
        return ""
    local = when.astimezone(zone)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    if local.date() == today:
        return _("today %(time)s", time=local_time(local, zone))
    return local_day_time(local, zone)


# --- the next step -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """What the engineer does next on a job: `key` picks the form, `href` a page of its own if any."""

    key: str
    next_step: str
    href: str | None = None


def stage_of(job: Mapping[str, Any], order: Mapping[str, Any] | None) -> Stage:
    job_id = str(job.get("job_id", ""))
    status = job.get("status")
    order_status = (order or {}).get("status")
    if status == "cancelled" or order_status == "cancelled":
        return Stage("cancelled", _("Cancelled: nothing to do"))
    if status == "unassigned" or not job.get("engineer"):
        return Stage("unassigned", _("Waiting for the dispatcher"))
    if status == "resolved":
        return Stage("review", _("Write the review memo"), f"/field/jobs/{job_id}/review")
    if not job.get("prediagnosis"):
        return Stage("prediagnose", _("Call the customer: pre-diagnosis and commitment"))
    if not job.get("dispatch") and order_status in (None, "pending", "open"):
        return Stage("depart", _("Leave for the site with an ETA"))
    if order_status in (None, "pending", "open"):
        return Stage("arrive", _("Record your arrival on site"))
    if order_status == "on_site":
        return Stage("diagnose", _("Diagnose: measurements, cause and photos"))
    if order_status in ("diagnosed", "plan_proposed", "plan_rejected", "waiting_for_parts"):
        step = {
            "diagnosed": N_("Propose the maintenance plan"),
            "plan_proposed": N_("Plan sent: waiting for the customer's approval"),
            "plan_rejected": N_("Plan rejected: propose a new one"),
            "waiting_for_parts": N_("Plan waiting for parts"),
        }[str(order_status)]
        return Stage("plan", _(step), f"/field/jobs/{job_id}/plan")
    if order_status in ("plan_approved", "in_progress", "rework"):
        step = _("Rework: start the next round") if order_status == "rework" else _("Do the work, step by step")
        return Stage("work", step, f"/field/jobs/{job_id}/work")
    if order_status == "awaiting_inspection":
        return Stage("inspection", _("Work done: waiting for the quality inspection"))
    return Stage("unknown", _("See the job"))


# --- most urgent first ---------------------------------------------------------------------------


def sla_state(job: Mapping[str, Any], now: datetime) -> str:
    """ "breached", "at_risk" or "on_track": the worst of the deadlines not met yet."""
    state = "on_track"
    for deadline in ((job.get("sla") or {}).get(name) or {} for name in ("arrive_by", "resolve_by")):
        if deadline.get("met_at"):
            continue
        due, risk = moment(deadline.get("due_at")), moment(deadline.get("at_risk_at"))
        if deadline.get("breached_at") or (due and due <= now):
            return "breached"
        if deadline.get("at_risk_raised_at") or (risk and risk <= now):
            state = "at_risk"
    return state


def next_due(job: Mapping[str, Any]) -> datetime | None:
    """The deadline the engineer works against now: arrive-by until met, then resolve-by."""
    sla = job.get("sla") or {}
    for name in ("arrive_by", "resolve_by"):
        deadline = sla.get(name) or {}
        if not deadline.get("met_at"):
            return moment(deadline.get("due_at"))
    return None


def _rank(priority: object) -> int:
    if not isinstance(priority, str):  # no priority, or not one the API sends
        return len(Priority)
    try:
        return Priority(priority).rank
    except ValueError:
        return len(Priority)


FAR = datetime.max.replace(tzinfo=UTC)
SLA_ORDER = {"breached": 0, "at_risk": 1, "on_track": 2}


def urgency(job: Mapping[str, Any], now: datetime) -> tuple[int, int, int, datetime]:
    """Sort key: jobs to act on before waiting ones, then SLA breached, at risk, priority, due time."""
    finished = job.get("status") in ("resolved", "cancelled")
    return (int(finished), SLA_ORDER[sla_state(job, now)], _rank(job.get("priority")), next_due(job) or FAR)


@dataclass(frozen=True)
class Card:
    job: Mapping[str, Any]
    order: Mapping[str, Any] | None
    stage: Stage
    sla: str


def my_jobs(jobs: Iterable[Mapping[str, Any]], orders: Iterable[Mapping[str, Any]], now: datetime) -> list[Card]:
    """The engineer's jobs (cancelled ones left out), most urgent first, each with its next step."""
    by_job = {str(o.get("job_id")): o for o in orders}
    live = [j for j in jobs if j.get("status") != "cancelled"]
    cards = []
    for job in sorted(live, key=lambda j: urgency(j, now)):
        order = by_job.get(str(job.get("job_id")))
        cards.append(Card(job, order, stage_of(job, order), sla_state(job, now)))
    return [c for c in cards if c.stage.key != "cancelled"]


# --- the SLA limits of a commitment --------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The latest times the SLA policy allows for the job's priority (before the commitment, dispatch's
    deadlines are exactly the policy's targets), as datetime-local values and as text."""

    arrive_by: str
    resolve_by: str
    arrive_text: str
    resolve_text: str
    arrive_hours: str
    resolve_hours: str
    now: str


def _hours(job: Mapping[str, Any], due: datetime | None) -> str:
    requested = moment(job.get("requested_at"))
    if not (requested and due):
        return ""
    return f"{(due - requested).total_seconds() / 3600:g} h"


def limits_of(job: Mapping[str, Any], zone: ZoneInfo, now: datetime) -> Limits:
    sla = job.get("sla") or {}
    arrive = moment((sla.get("arrive_by") or {}).get("due_at"))
    resolve = moment((sla.get("resolve_by") or {}).get("due_at"))
    return Limits(
        arrive_by=local_input(arrive, zone),
        resolve_by=local_input(resolve, zone),
        arrive_text=shown(arrive, zone, now),
        resolve_text=shown(resolve, zone, now),
        arrive_hours=_hours(job, arrive),
        resolve_hours=_hours(job, resolve),
        now=local_input(now, zone),
    )


# --- the forms' bodies ---------------------------------------------------------------------------


def lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def prediagnosis_body(form: Mapping[str, str], zone: ZoneInfo) -> tuple[dict[str, Any], dict[str, str]]:
    """dispatch's PrediagnosisInput from the form, and what the page refuses before sending it."""
    errors: dict[str, str] = {}
    symptoms, causes = lines(form.get("confirmed_symptoms")), lines(form.get("suspected_causes"))
    if not symptoms:
        errors["confirmed_symptoms"] = _("Write at least one confirmed symptom (one per line).")
    elif len(symptoms) > SYMPTOMS_MAX:
        errors["confirmed_symptoms"] = _("At most %(count)d symptoms.", count=SYMPTOMS_MAX)
    if not causes:
        errors["suspected_causes"] = _("Write at least one suspected cause (one per line, most likely first).")
    elif len(causes) > CAUSES_MAX:
        errors["suspected_causes"] = _("At most %(count)d causes.", count=CAUSES_MAX)
    parts = []
    for row in range(PART_ROWS):
        number = form.get(f"likely_parts.{row}.part_number", "").strip()
        description = form.get(f"likely_parts.{row}.description", "").strip()
        quantity = form.get(f"likely_parts.{row}.quantity", "").strip()
        if not (number or description or quantity):
            continue
        amount = _number(quantity or "1")
        if amount is None:
            errors[f"likely_parts.{row}.quantity"] = _("A number, e.g. 1.")
        parts.append({"part_number": number, "description": description, "quantity": amount})
    commitment: dict[str, str] = {}
    for name in ("arrive_by", "resolve_by"):
        when = from_local_input(form.get(f"commitment.{name}", ""), zone)
        if when is None:
            errors[f"commitment.{name}"] = _("A date and time, e.g. 2030-01-07 14:00.")
        else:
            commitment[name] = when.astimezone(UTC).isoformat()
    body: dict[str, Any] = {
        "contacted_via": form.get("contacted_via") or "phone",
        "confirmed_symptoms": symptoms,
        "suspected_causes": causes,
        "likely_parts": parts,
        "commitment": commitment,
    }
    notes = (form.get("notes") or "").strip()
    if notes:
        body["notes"] = notes
    return body, errors


def departure_body(form: Mapping[str, str], zone: ZoneInfo) -> tuple[dict[str, Any], dict[str, str]]:
    eta = from_local_input(form.get("eta", ""), zone)
    if eta is None:
        return {}, {"eta": _("A date and time, e.g. 2030-01-07 13:30.")}
    return {"eta": eta.astimezone(UTC).isoformat()}, {}


def diagnosis_body(form: Mapping[str, str], photo_keys: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """maintenance's DiagnosisDraft from the form (blank measurement rows left out)."""
    errors: dict[str, str] = {}
    measurements = []
    for row in range(MEASUREMENT_ROWS):
        fields = {k: form.get(f"measurements.{row}.{k}", "").strip() for k in ("name", "value", "unit", "instrument")}
        if not any(fields.values()):
            continue
        value = _number(fields["value"])
        if value is None:
            errors[f"measurements.{row}.value"] = _("A number, e.g. 109.5.")
        measurement: dict[str, Any] = {"name": fields["name"], "value": value, "unit": fields["unit"]}
        if fields["instrument"]:
            measurement["instrument"] = fields["instrument"]
        measurements.append(measurement)
    if not measurements:
        errors["measurements.0.name"] = _("Record at least one measurement.")
    body: dict[str, Any] = {
        "measurements": measurements,
        "root_cause": (form.get("root_cause") or "").strip(),
        "scope": (form.get("scope") or "").strip(),
        "failure_category": form.get("failure_category") or "",
        "photo_keys": [key for key in photo_keys if key],
    }
    hours = (form.get("running_hours") or "").strip()
    if hours:
        if hours.isdigit():
            body["running_hours"] = int(hours)
        else:
            errors["running_hours"] = _("Whole hours, e.g. 23410.")
    return body, errors


def field_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """The API's field names as the form's: an item of a list typed one per line ("confirmed_symptoms.2")
    is shown on its text area ("Line 3: ..."), rows of inputs keep their own names."""
    shown_errors: dict[str, str] = {}
    for name, message in errors.items():
        head, _dot, rest = name.partition(".")
        if head in ("confirmed_symptoms", "suspected_causes") and rest.split(".")[0].isdigit():
            shown_errors.setdefault(
                head, _("Line %(line)d: %(reason)s", line=int(rest.split(".")[0]) + 1, reason=message)
            )
        elif head == "photo_keys":
            shown_errors.setdefault("photos", message)
        elif head == "measurements" and rest.isdigit():
            shown_errors.setdefault(f"measurements.{rest}.name", message)
        elif head == "likely_parts" and rest.isdigit():
            shown_errors.setdefault(f"likely_parts.{rest}.part_number", message)
        else:
            shown_errors.setdefault(name, message)
    return shown_errors
