"""The customer portal: a customer's people follow their own company's jobs, request service, approve or
reject a maintenance plan with a signature, download every report and answer the survey, in Bahasa
Melayu or English.

Every page is for the customer role only (`pages(CUSTOMER)`), and the customer is the token's subject:
the session knows it. A job, report or machine of another customer answers 404 here, before any service
is asked, and the services refuse it again (each call goes with the customer's own token). What a job's
page shows comes from the portal's read model (`portal_jobs`, written from the job events by the
console's consumer), which also feeds the page live over Server-Sent Events; plans come from
maintenance, the customer file and its machines from intake, reports from reporting (a fresh presigned
link on each click) and the survey from feedback.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage

from compressor_contracts.common import Language
from compressor_kit.auth import CUSTOMER
from compressor_kit.i18n import current_language, format_date, format_datetime, format_decimal, parse_language
from console_service.calls import Answer, call, segment
from console_service.forms import new_form_key, once, valid_key
from console_service.live import follow
from console_service.pages import form_values, page, render_fragment
from console_service.portal import domain, store
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import N_, _
from console_service.times import moment


class IntakeUnavailable(Exception):
    """Intake could not say whose a job is (the portal had not heard of it yet)."""


def _intake_unavailable(request: Request[Any, Any, Any], error: IntakeUnavailable) -> Response[str]:
    return _unavailable(request)


# Customers only, and a page that cannot tell whose a job is says the service is unavailable (503).
PORTAL = pages(CUSTOMER)
PORTAL["exception_handlers"] = {**PORTAL["exception_handlers"], IntakeUnavailable: _intake_unavailable}
DONE = {
    "requested": N_("Your request is recorded. We will keep you posted here as it goes."),
    "approved": N_("Thank you: the plan is approved and signed. The work can start."),
    "rejected": N_("The plan is rejected; the engineer will revise it after your comments."),
    "survey": N_("Thank you for answering the survey."),
}


# --- how the portal writes times, dates and numbers ----------------------------------------------------


def when(value: object) -> str:
    """A moment in Malaysian time, in the reader's language: '2 Mac 2026, 4:15 PTG'."""
    moment_ = moment(value)
    if moment_ is None:
        return ""
    return format_datetime(moment_, "d MMM y, h:mm a", tz=domain.CUSTOMER_ZONE)


def day(value: object) -> str:
    """A date in the reader's language: '2 Mac 2026'."""
    if isinstance(value, datetime):
        return format_date(value.astimezone(domain.CUSTOMER_ZONE).date(), "d MMM y")
    if isinstance(value, date):
        return format_date(value, "d MMM y")
    if isinstance(value, str) and value:
        try:
            return format_date(date.fromisoformat(value[:10]), "d MMM y")
        except ValueError:
            return value
    return ""


def number(value: object) -> str:
    return format_decimal(value) if isinstance(value, int | float) else ""


def stage_texts(stage: domain.Stage) -> tuple[str, str]:
    """The stage's title and next step in the reader's language, with its times written out."""
    values = {name: when(value) if isinstance(value, datetime) else value for name, value in stage.values.items()}
    return _(stage.title), _(stage.next_step) % values if values else _(stage.next_step)


FORMATS = {"when": when, "day": day, "number": number}


def _context(request: Request[Any, Any, Any], current_path: str) -> dict[str, Any]:
    return {"session": session_of(request), "current_path": current_path, "language": current_language(), **FORMATS}


def _not_found(request: Request[Any, Any, Any], what: str | None = None) -> Response[str]:
    return page(
        "portal_message.html",
        status_code=404,
        title=_("Not found"),
        message=what or _("There is no such job among your company's jobs."),
        **_context(request, "/portal"),
    )


def _unavailable(request: Request[Any, Any, Any], answer: Answer | None = None) -> Response[str]:
    return page(
        "portal_message.html",
        status_code=503,
        title=_("Unavailable just now"),
        message=_("This part of the portal is unavailable just now. Please try again in a minute."),
        **_context(request, "/portal"),
    )


async def _own_job(runtime: ConsoleRuntime, session: dict[str, Any], job_id: str) -> dict[str, Any] | None:
    """The customer's own job as the portal knows it; a job just requested, which the portal has not heard
    of yet, from intake (which shows a customer only its own). None for anyone else's job."""
    job = await store.job_of(runtime, job_id)
    if job is not None:
        return job if domain.owns(job, session["subject"]) else None
    answer = await call(runtime, session, "intake", "GET", f"/requests/{segment(job_id)}")
    if answer.unavailable:
        raise IntakeUnavailable()
    if not answer.ok or not isinstance(answer.data, dict):
        return None
    requested = answer.data
    if (requested.get("customer") or {}).get("customer_id") != session["subject"]:
        return None
    equipment, site = requested.get("equipment") or {}, requested.get("site") or {}
    return {
        "_id": job_id,
        "customer_id": session["subject"],
        "status": domain.OPEN,
        "requested_at": moment(requested.get("requested_at")),
        "fault_description": requested.get("fault_description"),
        "site": {"name": site.get("name"), "city": site.get("city")},
        "equipment": {k: equipment.get(k) for k in ("equipment_id", "brand", "model", "serial_number")},
    }


async def _customer_file(runtime: ConsoleRuntime, session: dict[str, Any]) -> Answer:
    return await call(runtime, session, "intake", "GET", f"/customers/{segment(session['subject'])}/file")


async def customer_language(runtime: ConsoleRuntime, access_token: str, customer_id: str, email: object) -> str | None:
    """At a customer's sign-in: the language their contact on the customer file prefers (None when intake
    cannot say), so the portal opens in it."""
    answer = await call(runtime, {"access_token": access_token}, "intake", "GET", f"/customers/{segment(customer_id)}")
    return domain.contact_language(answer.data, email) if answer.ok and isinstance(answer.data, dict) else None


def _card(job: dict[str, Any]) -> dict[str, Any]:
    stage = domain.stage_of(job)
    title, next_step = stage_texts(stage)
    return {"job": job, "stage": stage, "title": title, "next_step": next_step}


# --- home ---------------------------------------------------------------------------------------------


@get("/portal", **PORTAL)
async def home(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[str]:
    """The customer's home: open jobs with where each stands and what happens next (those waiting for the
    customer first), then closed jobs with their reports."""
    session = session_of(request)
    jobs, file = await asyncio.gather(
        store.jobs_of_customer(runtime, session["subject"]), _customer_file(runtime, session)
    )
    cards = [_card(job) for job in jobs]
    open_cards = sorted(
        (c for c in cards if c["job"].get("status") == domain.OPEN), key=lambda c: not c["stage"].needs_customer
    )
    return page(
        "portal_home.html",
        company=(file.data or {}).get("name") if file.ok else None,
        open_cards=open_cards,
        closed_cards=[c for c in cards if c["job"].get("status") != domain.OPEN],
        **_context(request, "/portal"),
    )


# --- request service -----------------------------------------------------------------------------------


def _request_page(
    request: Request[Any, Any, Any],
    file: Answer,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
    photo_keys: list[str] | None = None,
) -> Response[str]:
    machines = domain.machines_of(file.data) if file.ok and isinstance(file.data, dict) else []
    sites: dict[str, list[domain.Machine]] = {}
    for machine in machines:
        sites.setdefault(machine.site_name, []).append(machine)
    if len(machines) == 1 and not values.get("equipment_id"):
        values = {**values, "equipment_id": machines[0].equipment_id}
    return page(
        "portal_request.html",
        status_code=status_code if file.ok or status_code != 200 else (503 if file.unavailable else file.status),
        file=file,
        sites=sites,
        values=values,
        errors=errors or {},
        message=message,
        form_key=valid_key(values.get("form_key")) or new_form_key(),
        photo_keys=photo_keys or [],
        max_photos=domain.MAX_PHOTOS,
        **_context(request, "/portal/requests/new"),
    )


@get("/portal/requests/new", **PORTAL)
async def new_request(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    equipment: FromQuery[str | None] = None,
) -> Response[str]:
    """Request service: the machine (by site; preselected from a machine's page or its QR label), the fault."""
    file = await _customer_file(runtime, session_of(request))
    return _request_page(request, file, values={"equipment_id": equipment or ""})


@post("/portal/requests", **PORTAL)
async def send_request(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[Any]:
    """Intake's POST /requests with channel portal and the form's key as Idempotency-Key: the same
    job.requested as reception's, once however often the form is sent; then the new job's page."""
    session = session_of(request)
    values = await form_values(request)
    # Photos the browser uploaded already (portal_photos.js): their keys, each once, as posted.
    photo_keys = list(dict.fromkeys(str(k) for k in (await request.form()).getall("photo_keys", []) if k))
    file = await _customer_file(runtime, session)
    if not file.ok:
        return _request_page(request, file, values=values, message=file.message, status_code=503, photo_keys=photo_keys)
    form = domain.request_form(values, domain.machines_of(file.data))
    errors = {name: _(text) for name, text in form.errors.items()}
    if len(photo_keys) > domain.MAX_PHOTOS:
        errors["photo_keys"] = _("At most %(count)d photos per request.", count=domain.MAX_PHOTOS)
    if errors:
        return _request_page(
            request,
            file,
            values=values,
            errors=errors,
            message=_("Please check the marked fields."),
            status_code=422,
            photo_keys=photo_keys,
        )

    async def act() -> tuple[Answer, str | None]:
        answer = await call(
            runtime,
            session,
            "intake",
            "POST",
            "/requests",
            json=domain.request_body(form, session["subject"], photo_keys),
            idempotency_key=values.get("form_key"),
        )
        job_id = answer.data.get("job_id") if answer.ok and isinstance(answer.data, dict) else None
        return answer, f"/portal/jobs/{segment(job_id)}?done=requested" if job_id else None

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or "/portal", status_code=303)
    answer = outcome.answer
    refused = dict(answer.errors)
    if any(name.startswith("photo_keys") for name in refused):
        # Intake's reason names a storage key; the customer is told what to do, in their language.
        refused = {name: text for name, text in refused.items() if not name.startswith("photo_keys")}
        refused["photo_keys"] = _("A photo could not be attached. Please choose it again.")
        photo_keys = []
    return _request_page(
        request,
        file,
        values=values,
        errors=refused,
        message=answer.message,
        status_code=503 if answer.unavailable else 422,
        photo_keys=photo_keys,
    )


@post("/portal/requests/photos", **PORTAL, media_type=MediaType.JSON)
async def photo_upload(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], data: JSONBody[dict[str, Any]]
) -> Response[dict[str, Any]]:
    """For portal_photos.js: a presigned POST form from intake for one photo of the fault, sent straight
    from the browser, under the customer's own id."""
    body = {
        "file_name": str(data.get("file_name") or "photo.jpg")[:200],
        "content_type": str(data.get("content_type") or ""),
    }
    answer = await call(runtime, session_of(request), "intake", "POST", "/requests/photos", json=body)
    if answer.ok and isinstance(answer.data, dict):
        keep = ("photo_key", "upload_url", "method", "fields", "content_type", "max_bytes")
        return Response({k: answer.data.get(k) for k in keep}, status_code=201, headers={"Cache-Control": "no-store"})
    message = (
        _("This file is not a photo: choose a JPEG, PNG, HEIC or WebP image.")
        if "content_type" in answer.errors
        else _("The photo could not be uploaded just now. Please try again.")
    )
    return Response(
        {"message": message},
        status_code=503 if answer.unavailable else 422,
        headers={"Cache-Control": "no-store"},
    )


# --- one job, live -------------------------------------------------------------------------------------


def _job_live_context(job: dict[str, Any]) -> dict[str, Any]:
    language = current_language()
    stage = domain.stage_of(job)
    title, next_step = stage_texts(stage)
    latest_round = max((int(r) for r in job.get("rounds") or {}), default=0)
    done, total = domain.steps_done(job, latest_round) if latest_round else (0, None)
    return {
        "job": job,
        "stage": stage,
        "stage_title": title,
        "next_step": next_step,
        "progress": domain.progress_lines(job, language),
        "inspections": domain.inspection_results(job, language),
        "steps": {"round": latest_round, "done": done, "total": total},
    }


@get("/portal/jobs/{job_id:str}", **PORTAL)
async def job_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    """One job, followed live: where it stands and what happens next, the engineer and ETA, the commitment,
    each progress step as it happens, the inspection results, the plan and the report."""
    job = await _own_job(runtime, session_of(request), job_id)
    if job is None:
        return _not_found(request)
    photos = await call(runtime, session_of(request), "intake", "GET", f"/requests/{segment(job_id)}/photos")
    return page(
        "portal_job.html",
        job_id=job_id,
        request_photos=photos.data if photos.ok and isinstance(photos.data, list) else [],
        done=_(DONE[done]) if done in DONE else None,
        **_job_live_context(job),
        **_context(request, "/portal"),
    )


@get("/portal/jobs/{job_id:str}/live", **PORTAL)
async def job_live(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any] | ServerSentEvent:
    """Server-Sent Events of one of the customer's jobs: `ready`, then `job` with the page's live part
    each time the job changes, until the session ends."""
    session = session_of(request)
    if await _own_job(runtime, session, job_id) is None:
        return _not_found(request)

    def message(job: dict[str, Any]) -> ServerSentEventMessage:
        if not domain.owns(job, session["subject"]):
            return ServerSentEventMessage(comment="not yet")
        html = render_fragment("portal_job_live.html", **_job_live_context(job), **FORMATS)
        return ServerSentEventMessage(data=json.dumps({"html": html}), event="job")

    async def current() -> dict[str, Any] | None:
        return await store.job_of(runtime, job_id)

    return follow(request, runtime, store.PORTAL_JOBS, message, only={"documentKey._id": job_id}, catch_up=current)


# --- the plan ------------------------------------------------------------------------------------------


async def _plan_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    session = session_of(request)
    job = await _own_job(runtime, session, job_id)
    if job is None:
        return _not_found(request)
    order = await call(runtime, session, "maintenance", "GET", f"/work-orders/{segment(job_id)}")
    if order.unavailable:
        return _unavailable(request, order)
    plans = (order.data or {}).get("plans") or [] if order.ok and isinstance(order.data, dict) else []
    plan = plans[-1] if plans else None
    language = current_language()
    form_values_ = dict(values or {})
    return page(
        "portal_plan.html",
        status_code=status_code,
        job_id=job_id,
        job=job,
        plan=plan,
        steps=domain.plan_steps(plan.get("steps") or [], language) if plan else [],
        earlier=plans[:-1],
        values=form_values_,
        errors=errors or {},
        message=message,
        form_key=valid_key(form_values_.get("form_key")) or new_form_key(),
        **_context(request, "/portal"),
    )


@get("/portal/jobs/{job_id:str}/plan", **PORTAL)
async def plan_page(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[str]:
    """The maintenance plan proposed to the customer: steps, parts and time; approve it with a signature
    and an optional comment, or reject it with a comment."""
    return await _plan_page(request, runtime, job_id)


def _signature_body(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The signature as maintenance takes it, and what is missing (beside its field)."""
    name = values.get("signature.signer.name", "").strip()
    role = values.get("signature.signer.role", "").strip()
    image = values.get("signature.image", "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["signature.signer.name"] = _("Give the name of the person signing.")
    if not role:
        errors["signature.signer.role"] = _("Give the signer's role, for example plant manager.")
    if not image:
        errors["signature.image"] = _("Sign in the box to approve the plan.")
    return {"signer": {"name": name, "role": role}, "image": image}, errors


async def _decide(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    revision: int,
    decision: str,
) -> Response[Any]:
    session = session_of(request)
    if await _own_job(runtime, session, job_id) is None:
        return _not_found(request)
    values = await form_values(request)
    comments = values.get("comments", "").strip()
    if decision == "approve":
        signature, errors = _signature_body(values)
        body: dict[str, Any] = {"signature": signature, **({"comments": comments} if comments else {})}
    else:
        errors = {} if comments else {"comments": _("Say why, so the engineer can revise the plan.")}
        body = {"comments": comments}
    values["decision"] = decision
    if errors:
        return await _plan_page(
            request,
            runtime,
            job_id,
            values=values,
            errors=errors,
            message=_("Please check the marked fields."),
            status_code=422,
        )
    where = f"/portal/jobs/{segment(job_id)}?done={'approved' if decision == 'approve' else 'rejected'}"

    async def act() -> tuple[Answer, str | None]:
        path = f"/work-orders/{segment(job_id)}/plans/{revision}/{decision}"
        return await call(runtime, session, "maintenance", "POST", path, json=body), where

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or where, status_code=303)
    answer = outcome.answer
    return await _plan_page(
        request,
        runtime,
        job_id,
        values=values,
        errors=answer.errors,
        message=answer.message,
        status_code=503 if answer.unavailable else 422,
    )


@post("/portal/jobs/{job_id:str}/plan/{revision:int}/approve", **PORTAL)
async def approve_plan(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    revision: FromPath[int],
) -> Response[Any]:
    """Approve the plan revision, signed (name, role and the drawn signature), with an optional comment."""
    return await _decide(request, runtime, job_id, revision, "approve")


@post("/portal/jobs/{job_id:str}/plan/{revision:int}/reject", **PORTAL)
async def reject_plan(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    revision: FromPath[int],
) -> Response[Any]:
    """Reject the plan revision with a comment saying why (required)."""
    return await _decide(request, runtime, job_id, revision, "reject")


# --- reports -------------------------------------------------------------------------------------------


@get("/portal/jobs/{job_id:str}/report", **PORTAL)
async def report(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    language: FromQuery[str | None] = None,
) -> Response[Any]:
    """303 to a fresh short-lived link of the job's report PDF (in `language`, else the reader's), presigned
    by reporting on every click: the link in an e-mail leads here, so it never expires for its owner."""
    session = session_of(request)
    job = await store.job_of(runtime, job_id)
    if job is not None and not domain.owns(job, session["subject"]):
        return _not_found(request)
    chosen = parse_language(language) or current_language()
    answer = await call(
        runtime, session, "reporting", "GET", f"/jobs/{segment(job_id)}/report-link", params={"language": chosen.value}
    )
    if answer.ok and isinstance(answer.data, dict) and answer.data.get("url"):
        return Redirect(str(answer.data["url"]), status_code=303, headers={"Cache-Control": "no-store"})
    if answer.unavailable:
        return _unavailable(request, answer)
    return _not_found(request, _("There is no report of this job among your company's reports yet."))


@get("/portal/reports", **PORTAL)
async def reports(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[str]:
    """Every report of every job of the customer, newest first, each downloadable in either language."""
    session = session_of(request)
    jobs, file = await asyncio.gather(
        store.jobs_of_customer(runtime, session["subject"]), _customer_file(runtime, session)
    )
    history = []
    if file.ok and isinstance(file.data, dict):
        for site in file.data.get("sites") or []:
            for unit in site.get("equipment") or []:
                machine = domain.machine_label(unit)
                history += [{**entry, "machine": machine} for entry in unit.get("history") or []]
    return page(
        "portal_reports.html",
        reports=domain.reports_of(jobs, history),
        file=file,
        languages=(Language.MS, Language.EN),
        **_context(request, "/portal/reports"),
    )


# --- equipment -----------------------------------------------------------------------------------------


@get("/portal/equipment", **PORTAL)
async def equipment(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[str]:
    """Every machine of the customer, site by site: next service due, last service, open jobs."""
    file = await _customer_file(runtime, session_of(request))
    if file.unavailable:
        return _unavailable(request, file)
    data = file.data if file.ok and isinstance(file.data, dict) else {}
    open_by_unit: dict[str, int] = {}
    for job in data.get("open_jobs") or []:
        unit_id = str((job.get("equipment") or {}).get("equipment_id"))
        open_by_unit[unit_id] = open_by_unit.get(unit_id, 0) + 1
    return page(
        "portal_equipment.html",
        sites=data.get("sites") or [],
        open_by_unit=open_by_unit,
        **_context(request, "/portal/equipment"),
    )


@get("/portal/equipment/{equipment_id:str}", **PORTAL)
async def machine(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], equipment_id: FromPath[str]
) -> Response[str]:
    """One machine: what it is and where, next service due, its open jobs and its service history, each
    service with its report."""
    file = await _customer_file(runtime, session_of(request))
    if file.unavailable:
        return _unavailable(request, file)
    found = domain.find_unit(file.data, equipment_id) if file.ok and isinstance(file.data, dict) else None
    if found is None:
        return _not_found(request, _("There is no such machine among your company's machines."))
    site, unit = found
    open_jobs = [
        j for j in file.data.get("open_jobs") or [] if (j.get("equipment") or {}).get("equipment_id") == equipment_id
    ]
    return page(
        "portal_machine.html",
        site=site,
        unit=unit,
        open_jobs=open_jobs,
        **_context(request, "/portal/equipment"),
    )


# --- the survey ----------------------------------------------------------------------------------------


async def _survey_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    session = session_of(request)
    job = await _own_job(runtime, session, job_id)
    if job is None:
        return _not_found(request)
    survey = await call(runtime, session, "feedback", "GET", f"/jobs/{segment(job_id)}/survey")
    if survey.unavailable:
        return _unavailable(request, survey)
    form_values_ = dict(values or {})
    return page(
        "portal_survey.html",
        status_code=status_code,
        job_id=job_id,
        job=job,
        survey=survey.data if survey.ok and isinstance(survey.data, dict) else None,
        values=form_values_,
        errors=errors or {},
        message=message,
        form_key=valid_key(form_values_.get("form_key")) or new_form_key(),
        **_context(request, "/portal"),
    )


@get("/portal/jobs/{job_id:str}/survey", **PORTAL)
async def survey_page(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[str]:
    """The satisfaction survey of one job (the same survey as the e-mailed link's), or its answer."""
    return await _survey_page(request, runtime, job_id)


@post("/portal/jobs/{job_id:str}/survey", **PORTAL)
async def answer_survey(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """The survey's answer to feedback (once), then back to the job."""
    session = session_of(request)
    if await _own_job(runtime, session, job_id) is None:
        return _not_found(request)
    values = await form_values(request)
    body, errors = domain.survey_answer(values)
    if errors:
        shown = {name: _(text) for name, text in errors.items()}
        return await _survey_page(
            request,
            runtime,
            job_id,
            values=values,
            errors=shown,
            message=_("Please check the marked fields."),
            status_code=422,
        )
    where = f"/portal/jobs/{segment(job_id)}?done=survey"

    async def act() -> tuple[Answer, str | None]:
        path = f"/jobs/{segment(job_id)}/survey/answer"
        return await call(runtime, session, "feedback", "POST", path, json=body), where

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or where, status_code=303)
    answer = outcome.answer
    return await _survey_page(
        request,
        runtime,
        job_id,
        values=values,
        errors=answer.errors,
        message=answer.message,
        status_code=503 if answer.unavailable else 422,
    )


ROUTES: list[Any] = [
    home,
    new_request,
    send_request,
    photo_upload,
    job_page,
    job_live,
    plan_page,
    approve_plan,
    reject_plan,
    report,
    reports,
    equipment,
    machine,
    survey_page,
    answer_survey,
]
