"""Pure rules of the customer portal: what each job event tells the customer (one read-model document per
job, `portal_job`), where a job stands for the customer and what happens next (`stage_of`), the
customer's texts in their language (Malay progress messages, step and indicator names), and the request
form's checks. No I/O.

Events of one job may arrive out of order across producers: every fact is kept under its own natural key
(a round, a step of a round, a plan revision, a report version), and where a job stands is worked out
from the facts when the page is shown, never from the order they came in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from compressor_contracts import (
    CloudEvent,
    JobAssigned,
    JobCancelled,
    JobClosed,
    JobDiagnosed,
    JobEngineerArrived,
    JobEngineerDispatched,
    JobFeedbackReceived,
    JobInspectionFailed,
    JobInspectionPassed,
    JobPlanApproved,
    JobPlanProposed,
    JobPlanRejected,
    JobPrediagnosed,
    JobProgressReported,
    JobReportPublished,
    JobRequested,
    JobSigned,
    JobSurveySent,
    JobWorkCompleted,
    JobWorkStarted,
)
from compressor_contracts.common import Language
from compressor_kit.i18n import N_

# The customers' sites are in Malaysia: their pages show Malaysian time.
CUSTOMER_ZONE = ZoneInfo("Asia/Kuala_Lumpur")
OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"
PROPOSED, APPROVED, REJECTED = "proposed", "approved", "rejected"
FAULT_MAX = 2000


def _dump(model: BaseModel) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="python")
    return dumped


# --- the read model: one document per job, as the customer may see it --------------------------------------


def portal_job(doc: dict[str, Any] | None, event: CloudEvent[Any]) -> dict[str, Any]:
    """The job's portal document after `event` (a new one for the job's first event seen). Only what the
    customer may see is kept: no internal notes, no staff names other than their engineer's."""
    data = event.data
    time = event.time
    job: dict[str, Any] = dict(doc) if doc else {"_id": event.subject, "status": OPEN, "customer_id": None}
    if isinstance(data, JobRequested):
        job.update(
            customer_id=data.customer.customer_id,
            requested_at=time,
            channel=str(data.channel),
            fault_description=data.fault_description,
            site={"site_id": data.site.site_id, "name": data.site.name, "city": data.site.city},
            equipment={
                "equipment_id": data.equipment.equipment_id,
                "brand": data.equipment.brand,
                "model": data.equipment.model,
                "serial_number": data.equipment.serial_number,
            },
        )
    elif isinstance(data, JobAssigned):
        if _newer(job, "engineer", time):
            job.update(engineer={"name": data.engineer.name}, engineer_at=time)
            job["scheduled_window"] = {"start": data.scheduled_window.start, "end": data.scheduled_window.end}
    elif isinstance(data, JobPrediagnosed):
        job["commitment"] = {"arrive_by": data.commitment.arrive_by, "resolve_by": data.commitment.resolve_by}
        job["prediagnosed_at"] = time
        job.setdefault("engineer", {"name": data.engineer.name})
    elif isinstance(data, JobEngineerDispatched):
        job.update(departed_at=data.departed_at, eta=data.eta)
    elif isinstance(data, JobEngineerArrived):
        job["arrived_at"] = data.arrived_at
    elif isinstance(data, JobDiagnosed):
        job["diagnosis"] = {"root_cause": data.root_cause, "scope": data.scope, "diagnosed_at": time}
    elif isinstance(data, JobPlanProposed):
        plans = dict(job.get("plans") or {})
        plans.setdefault(str(data.revision), {"status": PROPOSED})
        plans[str(data.revision)] = {
            **plans[str(data.revision)],
            "proposed_at": time,
            "estimated_hours": data.estimated_hours,
        }
        job["plans"] = plans
    elif isinstance(data, JobPlanApproved | JobPlanRejected):
        plans = dict(job.get("plans") or {})
        status = APPROVED if isinstance(data, JobPlanApproved) else REJECTED
        plans[str(data.revision)] = {**plans.get(str(data.revision), {}), "status": status, "decided_at": time}
        job["plans"] = plans
    elif isinstance(data, JobWorkStarted):
        rounds = dict(job.get("rounds") or {})
        rounds[str(data.round)] = {**rounds.get(str(data.round), {}), "started_at": time}
        job["rounds"] = rounds
    elif isinstance(data, JobProgressReported):
        progress = [
            p for p in job.get("progress") or [] if (p["round"], p["sequence"]) != (data.round, data.step.sequence)
        ]
        progress.append(
            {
                "round": data.round,
                "sequence": data.step.sequence,
                "at": data.step.completed_at,
                "steps_done": data.steps_done,
                "steps_total": data.steps_total,
                "message": data.message,
                "message_ms": data.message_ms,
            }
        )
        job["progress"] = sorted(progress, key=lambda p: (p["round"], p["at"], p["sequence"]))
        rounds = dict(job.get("rounds") or {})
        rounds[str(data.round)] = {**rounds.get(str(data.round), {}), "steps_total": data.steps_total}
        job["rounds"] = rounds
    elif isinstance(data, JobWorkCompleted):
        rounds = dict(job.get("rounds") or {})
        rounds[str(data.round)] = {**rounds.get(str(data.round), {}), "completed_at": time}
        job["rounds"] = rounds
    elif isinstance(data, JobInspectionPassed | JobInspectionFailed):
        passed = isinstance(data, JobInspectionPassed)
        indicators = (
            data.indicators
            if isinstance(data, JobInspectionPassed)
            else data.failed_indicators + data.passed_indicators
        )
        inspections = [i for i in job.get("inspections") or [] if i["round"] != data.round]
        inspections.append(
            {"round": data.round, "passed": passed, "at": time, "indicators": [_dump(i) for i in indicators]}
        )
        job["inspections"] = sorted(inspections, key=lambda i: i["round"])
    elif isinstance(data, JobSigned):
        signatures = [s for s in job.get("signatures") or [] if s["signature_id"] != data.signature_id]
        signatures.append(
            {
                "signature_id": data.signature_id,
                "signed_for": str(data.signed_for),
                "plan_revision": data.plan_revision,
                "round": data.round,
                "signer": _dump(data.signer),
                "signed_at": data.signed_at,
            }
        )
        job["signatures"] = signatures
    elif isinstance(data, JobReportPublished):
        reports = [r for r in job.get("reports") or [] if r["version"] != data.record_version]
        reports.append({"version": data.record_version, "published_at": time})
        job["reports"] = sorted(reports, key=lambda r: r["version"])
    elif isinstance(data, JobSurveySent):
        job["survey"] = {**(job.get("survey") or {}), "sent_at": time, "expires_at": data.expires_at}
    elif isinstance(data, JobFeedbackReceived):
        job["survey"] = {**(job.get("survey") or {}), "answered_at": time, "csat": data.csat, "nps": data.nps}
    elif isinstance(data, JobCancelled):
        job.update(status=CANCELLED, cancelled_at=time, cancel_reason=data.reason)
    elif isinstance(data, JobClosed):
        if job.get("status") != CANCELLED:
            job.update(status=CLOSED, closed_at=time)
    if job.get("updated_at") is None or time >= job["updated_at"]:
        job["updated_at"] = time
    return job


def _newer(job: dict[str, Any], part: str, time: datetime) -> bool:
    seen = job.get(f"{part}_at")
    return seen is None or time >= seen


# --- where the job stands, for the customer ----------------------------------------------------------------

# Each stage: its title and what happens next, as the customer reads them (translated where shown).
STAGES: dict[str, tuple[str, str]] = {
    "received": (N_("Request received"), N_("We are assigning an engineer to your request.")),
    "assigned": (
        N_("Engineer assigned"),
        N_("%(engineer)s will call you to confirm the fault and agree when to come."),
    ),
    "committed": (N_("Visit agreed"), N_("%(engineer)s will be on site by %(arrive_by)s.")),
    "on_the_way": (N_("Engineer on the way"), N_("%(engineer)s is expected on site at %(eta)s.")),
    "on_site": (N_("Engineer on site"), N_("%(engineer)s is diagnosing the fault.")),
    "diagnosed": (N_("Fault diagnosed"), N_("%(engineer)s is preparing the maintenance plan.")),
    "plan_waiting": (
        N_("Plan awaiting your approval"),
        N_("Please review the maintenance plan and approve or reject it."),
    ),
    "plan_rejected": (N_("Plan being revised"), N_("%(engineer)s is revising the plan after your comments.")),
    "plan_approved": (N_("Plan approved"), N_("Work starts shortly.")),
    "working": (N_("Work in progress"), N_("%(done)s of %(total)s steps done.")),
    "inspecting": (N_("Quality inspection"), N_("Our inspector is checking the work.")),
    "rework": (N_("Rework"), N_("The inspection found something to put right; the engineer is on it.")),
    "reporting": (N_("Inspection passed"), N_("Your maintenance report is being prepared.")),
    "report_ready": (N_("Report ready"), N_("Your maintenance report is ready. Please tell us how we did.")),
    "thanked": (N_("Feedback received"), N_("Thank you for your feedback.")),
    "closed": (N_("Closed"), N_("The job is complete.")),
    "cancelled": (N_("Cancelled"), N_("This request was cancelled.")),
}


@dataclass(frozen=True)
class Stage:
    """Where a job stands: `key` (of STAGES), the values its texts name, and a link to act on, if any."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    action: str | None = None

    @property
    def title(self) -> str:
        return STAGES[self.key][0]

    @property
    def next_step(self) -> str:
        return STAGES[self.key][1]

    @property
    def needs_customer(self) -> bool:
        return self.action is not None


def current_plan(job: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    plans = job.get("plans") or {}
    if not plans:
        return None
    revision = max(int(r) for r in plans)
    return revision, plans[str(revision)]


def _latest_round(job: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    rounds = job.get("rounds") or {}
    if not rounds:
        return None
    number = max(int(r) for r in rounds)
    return number, rounds[str(number)]


def _inspection_of(job: dict[str, Any], round_number: int) -> dict[str, Any] | None:
    return next((i for i in job.get("inspections") or [] if i["round"] == round_number), None)


def steps_done(job: dict[str, Any], round_number: int) -> tuple[int, int | None]:
    """Steps done so far in a round and the round's steps in all (None while unknown)."""
    reported = [p for p in job.get("progress") or [] if p["round"] == round_number]
    total = (job.get("rounds") or {}).get(str(round_number), {}).get("steps_total")
    return len(reported), total


def stage_of(job: dict[str, Any]) -> Stage:
    """Where the job stands for the customer, from what is known of it."""
    job_id = job["_id"]
    engineer = (job.get("engineer") or {}).get("name") or ""
    if job.get("status") == CANCELLED:
        return Stage("cancelled")
    if job.get("status") == CLOSED:
        return Stage("closed")
    survey = job.get("survey") or {}
    if survey.get("answered_at"):
        return Stage("thanked")
    if job.get("reports"):
        action = f"/portal/jobs/{job_id}/survey" if survey.get("sent_at") else None
        return Stage("report_ready", action=action)
    latest = _latest_round(job)
    if latest:
        number, round_ = latest
        inspection = _inspection_of(job, number)
        if inspection and inspection["passed"]:
            return Stage("reporting")
        if inspection:
            return Stage("rework")
        if round_.get("completed_at"):
            return Stage("inspecting")
        if round_.get("started_at") or round_.get("steps_total"):
            done, total = steps_done(job, number)
            if number > 1:
                return Stage("rework")
            return Stage("working", {"done": done, "total": total or "?"})
    plan = current_plan(job)
    if plan:
        _revision, state = plan
        if state.get("status") == APPROVED:
            return Stage("plan_approved")
        if state.get("status") == REJECTED:
            return Stage("plan_rejected", {"engineer": engineer})
        return Stage("plan_waiting", action=f"/portal/jobs/{job_id}/plan")
    if job.get("diagnosis"):
        return Stage("diagnosed", {"engineer": engineer})
    if job.get("arrived_at"):
        return Stage("on_site", {"engineer": engineer})
    if job.get("eta"):
        return Stage("on_the_way", {"engineer": engineer, "eta": job["eta"]})
    if job.get("commitment"):
        return Stage("committed", {"engineer": engineer, "arrive_by": job["commitment"]["arrive_by"]})
    if engineer:
        return Stage("assigned", {"engineer": engineer})
    return Stage("received")


# --- the customer's language -------------------------------------------------------------------------------


def in_language(english: str | None, malay: str | None, language: Language) -> str:
    """The Malay text for a Malay reader when there is one, else the English."""
    if language is Language.MS and malay:
        return malay
    return english or ""


def progress_lines(job: dict[str, Any], language: Language) -> list[dict[str, Any]]:
    """Each progress step as it happened, newest first, in the reader's language."""
    return [
        {**p, "text": in_language(p.get("message"), p.get("message_ms"), language)}
        for p in sorted(job.get("progress") or [], key=lambda p: (p["round"], p["at"]), reverse=True)
    ]


def inspection_results(job: dict[str, Any], language: Language) -> list[dict[str, Any]]:
    """Each inspection round with its indicators named in the reader's language, the failed ones first."""
    found = []
    for inspection in job.get("inspections") or []:
        indicators = [
            {
                **i,
                "label": in_language(i.get("name"), i.get("name_ms"), language),
                "action": in_language(i.get("corrective_action"), i.get("corrective_action_ms"), language),
            }
            for i in sorted(inspection["indicators"], key=lambda i: i.get("passed", True))
        ]
        found.append({**inspection, "indicators": indicators})
    return found


def plan_steps(steps: list[dict[str, Any]], language: Language) -> list[dict[str, Any]]:
    """A plan's steps in the reader's language (the manufacturer's English where no Malay is given)."""
    return [{**s, "text": in_language(s.get("description"), s.get("description_ms"), language)} for s in steps]


def contact_language(customer_file: dict[str, Any], email: object) -> str | None:
    """The preferred language of the person signing in: their contact on the customer file (by e-mail),
    else the main contact's (the first)."""
    contacts = [c for c in customer_file.get("contacts") or [] if isinstance(c, dict)]
    if not contacts:
        return None
    wanted = email.strip().lower() if isinstance(email, str) else ""
    mine = next((c for c in contacts if wanted and str(c.get("email") or "").lower() == wanted), contacts[0])
    language = mine.get("language")
    return language if isinstance(language, str) else None


# --- the customer's own things -----------------------------------------------------------------------------


def owns(job: dict[str, Any] | None, customer_id: str) -> bool:
    """Whether the job is this customer's (a job not yet known to the portal is nobody's here)."""
    return bool(job) and job is not None and job.get("customer_id") == customer_id


@dataclass(frozen=True)
class Machine:
    """A machine on the customer's file as the request form offers it."""

    equipment_id: str
    site_id: str
    site_name: str
    label: str


def machines_of(customer_file: dict[str, Any]) -> list[Machine]:
    """Every machine on the customer's file, site by site."""
    found = []
    for site in customer_file.get("sites") or []:
        for unit in site.get("equipment") or []:
            found.append(Machine(unit["equipment_id"], site["site_id"], site.get("name", ""), machine_label(unit)))
    return found


def find_unit(customer_file: dict[str, Any], equipment_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(site, unit) of one machine on the customer's file; None when it is not theirs."""
    for site in customer_file.get("sites") or []:
        for unit in site.get("equipment") or []:
            if unit.get("equipment_id") == equipment_id:
                return site, unit
    return None


MAX_PHOTOS = 6
"""Photos of the fault per request (intake refuses more)."""


@dataclass(frozen=True)
class RequestForm:
    """The request form as the customer filled it in, checked before anything is sent."""

    equipment_id: str
    fault_description: str
    errors: dict[str, str]
    site_id: str | None = None


REQUEST_ERRORS = {
    "equipment_id": N_("Choose the machine that needs service."),
    "fault_description": N_("Describe the fault: what happens, and since when."),
    "fault_too_long": N_("Keep the description under 2,000 characters."),
}


def request_form(values: dict[str, str], machines: list[Machine]) -> RequestForm:
    """The posted request form: the machine must be one of the customer's own, the fault described."""
    equipment_id = values.get("equipment_id", "").strip()
    fault = values.get("fault_description", "").strip()
    errors: dict[str, str] = {}
    machine = next((m for m in machines if m.equipment_id == equipment_id), None)
    if machine is None:
        errors["equipment_id"] = REQUEST_ERRORS["equipment_id"]
    if not fault:
        errors["fault_description"] = REQUEST_ERRORS["fault_description"]
    elif len(fault) > FAULT_MAX:
        errors["fault_description"] = REQUEST_ERRORS["fault_too_long"]
    return RequestForm(equipment_id, fault, errors, machine.site_id if machine else None)


def request_body(form: RequestForm, customer_id: str, photo_keys: list[str] | None = None) -> dict[str, Any]:
    """Intake's POST /requests for the portal: the same request reception records, by the customer, with
    the photos the browser uploaded to intake already."""
    return {
        "channel": "portal",
        "customer_id": customer_id,
        "site_id": form.site_id,
        "equipment_id": form.equipment_id,
        "fault_description": form.fault_description,
        "photo_keys": photo_keys or [],
    }


def machine_label(unit: dict[str, Any]) -> str:
    """'Atlas Copco GA37 VSD · API0001': a machine as the customer knows it."""
    return f"{unit.get('brand') or ''} {unit.get('model') or ''} · {unit.get('serial_number') or ''}".strip()


def reports_of(jobs: list[dict[str, Any]], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every report of the customer's jobs, newest first: jobs the portal saw reported, and the services on
    the customer file (jobs closed before the portal was there included), once per job."""
    found: dict[str, dict[str, Any]] = {}
    for entry in history:
        found[entry["job_id"]] = {
            "job_id": entry["job_id"],
            "date": entry.get("service_date"),
            "machine": entry.get("machine", ""),
            "version": entry.get("record_version"),
        }
    for job in jobs:
        reports = job.get("reports") or []
        if not reports:
            continue
        equipment = job.get("equipment") or {}
        latest = reports[-1]
        found[job["_id"]] = {
            "job_id": job["_id"],
            "date": latest["published_at"],
            "machine": machine_label(equipment),
            "version": latest["version"],
        }

    def newest(report: dict[str, Any]) -> str:
        value = report.get("date")
        return value.isoformat() if isinstance(value, datetime | date) else str(value or "")

    return sorted(found.values(), key=newest, reverse=True)


# --- the survey --------------------------------------------------------------------------------------------

SURVEY_ERRORS = {
    "csat": N_("Choose how satisfied you are, from 1 to 5."),
    "nps": N_("Choose how likely you are to recommend us, from 0 to 10."),
}


def survey_answer(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The survey form as feedback's answer body, and what is missing (beside its field)."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, low, high in (("csat", 1, 5), ("nps", 0, 10)):
        raw = values.get(name, "").strip()
        if raw.isdigit() and low <= int(raw) <= high:
            body[name] = int(raw)
        else:
            errors[name] = SURVEY_ERRORS[name]
    comments = values.get("comments", "").strip()
    if comments:
        body["comments"] = comments[:2000]
    return body, errors
