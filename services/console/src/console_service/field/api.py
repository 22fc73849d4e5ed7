"""The engineer in the field, on a phone (phases 2-3): my jobs today, and each job's hub with its next
step as a form.

Everything is read and done with the engineer's own token: dispatch shows an engineer only their own
jobs and refuses another engineer's; maintenance the same for work orders. The hub's forms call
dispatch (pre-diagnosis and commitment, departure) and maintenance (arrival, photos, diagnosis). A
diagnosis photo goes from the phone straight to the object store: the console asks maintenance for a
presigned POST form (`POST /field/jobs/{id}/photos`, called by field.js), the browser posts the file with it,
and the diagnosis names the photo's key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect

from compressor_contracts import StaffRole
from console_service.board import store as board_store
from console_service.calls import Answer, call, segment
from console_service.field import domain
from console_service.forms import new_form_key, once
from console_service.machines.api import job_readings
from console_service.pages import labelled, page
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import N_, _
from console_service.times import zone_of

DONE = {
    "prediagnosis": N_("Pre-diagnosis and commitment recorded; the customer is told when you will be there."),
    "departure": N_("On your way: the customer has your ETA."),
    "arrival": N_("Arrival on site recorded."),
    "diagnosis": N_("Diagnosis recorded. Next: the maintenance plan."),
}


async def _zone(runtime: ConsoleRuntime, session: dict[str, Any]) -> ZoneInfo:
    """The engineer's own time zone (their calendar's at dispatch); UTC when dispatch cannot say."""
    answer = await call(runtime, session, "dispatch", "GET", f"/engineers/{segment(session['subject'])}")
    calendar = (answer.data or {}).get("calendar") if answer.ok and isinstance(answer.data, dict) else None
    return zone_of((calendar or {}).get("timezone"))


def _items(answer: Answer) -> list[dict[str, Any]]:
    if answer.ok and isinstance(answer.data, dict):
        return [item for item in answer.data.get("items") or [] if isinstance(item, dict)]
    return []


@get("/field", **pages(StaffRole.ENGINEER))
async def my_jobs(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[str]:
    """My jobs today: the engineer's own jobs, most urgent first, each with its next step."""
    session = session_of(request)
    jobs, orders, zone = await asyncio.gather(
        call(runtime, session, "dispatch", "GET", "/jobs", params={"limit": 200}),
        call(runtime, session, "maintenance", "GET", "/work-orders", params={"limit": 200}),
        _zone(runtime, session),
    )
    now = datetime.now(UTC)
    cards = domain.my_jobs(_items(jobs), _items(orders), now)
    return page(
        "field_jobs.html",
        session=session,
        current_path="/field",
        cards=cards,
        jobs_answer=jobs,
        orders_answer=orders,
        zone=zone,
        when=lambda value: domain.shown(value, zone, now),
    )


async def _hub(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
    done: str | None = None,
) -> Response[str]:
    """The job hub: who, where, what, the commitment, what was recorded so far, and the next step's form."""
    session = session_of(request)
    path = segment(job_id)
    job, order, zone, photos, readings = await asyncio.gather(
        call(runtime, session, "dispatch", "GET", f"/jobs/{path}"),
        call(runtime, session, "maintenance", "GET", f"/work-orders/{path}"),
        _zone(runtime, session),
        call(runtime, session, "intake", "GET", f"/requests/{path}/photos"),
        job_readings(runtime, session, await board_store.row_of(runtime, job_id)),
    )
    now = datetime.now(UTC)
    context: dict[str, Any] = {
        "session": session,
        "current_path": "/field",
        "job_id": job_id,
        "zone": zone,
        "when": lambda value: domain.shown(value, zone, now),
    }
    if not job.ok:
        status = 503 if job.unavailable else job.status
        return page("field_job.html", status_code=status, job=None, job_answer=job, **context)
    work_order = order.data if order.ok and isinstance(order.data, dict) else None
    stage = domain.stage_of(job.data, work_order)
    form_values = dict(values or {})
    if stage.key == "depart" and "eta" not in form_values:
        form_values["eta"] = domain.local_input(now + timedelta(hours=1), zone)
    photo_keys = list(form_values.pop("photo_keys", []) or [])
    return page(
        "field_job.html",
        status_code=status_code,
        job=job.data,
        job_answer=job,
        order=work_order,
        order_answer=order,
        stage=stage,
        limits=domain.limits_of(job.data, zone, now),
        booked_end=domain.local_input((job.data.get("scheduled_window") or {}).get("end"), zone),
        values=form_values,
        photo_keys=photo_keys,
        request_photos=photos.data if photos.ok and isinstance(photos.data, list) else [],
        errors=errors or {},
        message=message,
        done=_(DONE[done]) if done in DONE else None,
        form_key=form_values.get("form_key") or new_form_key(),
        part_rows=range(domain.PART_ROWS),
        readings=readings,
        measurement_rows=range(domain.MEASUREMENT_ROWS),
        contacted_via=labelled(domain.CONTACTED_VIA),
        failure_categories=labelled(domain.FAILURE_CATEGORIES),
        **context,
    )


@get("/field/jobs/{job_id:str}", **pages(StaffRole.ENGINEER))
async def job_hub(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    """One of my jobs: customer, site, equipment, fault, commitment, and the next step as a form."""
    return await _hub(request, runtime, job_id, done=done)


def _refusal_status(answer: Answer) -> int:
    if answer.unavailable:
        return 503
    return 422 if answer.status in (400, 409, 422) else answer.status


async def _act(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    what: str,
    values: dict[str, Any],
    local_errors: dict[str, str],
    send: Callable[[], Awaitable[Answer]],
) -> Response[Any]:
    """One form of the hub: refused in the page (422) or by the API (beside its field, what was typed
    kept), or done once per form key, then back to the hub saying so."""
    if local_errors:
        message = _("Some fields need another look.")
        return await _hub(
            request, runtime, job_id, values=values, errors=local_errors, message=message, status_code=422
        )
    where = f"/field/jobs/{segment(job_id)}?done={what}"

    async def act() -> tuple[Answer, str | None]:
        return await send(), where

    outcome = await once(runtime, session_of(request), values.get("form_key"), act)
    if outcome.repeated or (outcome.answer and outcome.answer.ok):
        return Redirect(outcome.redirect or where, status_code=303)
    answer = outcome.answer
    assert answer is not None
    errors = domain.field_errors(answer.errors)
    beside_fields = errors and not set(errors) & {"job_id", "status"}
    return await _hub(
        request,
        runtime,
        job_id,
        values=values,
        errors=errors,
        message=_("Not recorded: see the marked field below.") if beside_fields else answer.message,
        status_code=_refusal_status(answer),
    )


async def _posted(request: Request[Any, Any, Any]) -> tuple[dict[str, Any], FormMultiDict]:
    form: FormMultiDict = await request.form()
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    return values, form


@post("/field/jobs/{job_id:str}/prediagnosis", **pages(StaffRole.ENGINEER))
async def prediagnose(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """The remote pre-diagnosis and the commitment (dispatch checks it against the SLA policy)."""
    session = session_of(request)
    values, _form = await _posted(request)
    body, errors = domain.prediagnosis_body(values, await _zone(runtime, session))

    async def send() -> Answer:
        return await call(runtime, session, "dispatch", "POST", f"/jobs/{segment(job_id)}/prediagnosis", json=body)

    return await _act(request, runtime, job_id, "prediagnosis", values, errors, send)


@post("/field/jobs/{job_id:str}/departure", **pages(StaffRole.ENGINEER))
async def depart(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """Leaving for the site now, with an ETA for the customer."""
    session = session_of(request)
    values, _form = await _posted(request)
    body, errors = domain.departure_body(values, await _zone(runtime, session))

    async def send() -> Answer:
        return await call(runtime, session, "dispatch", "POST", f"/jobs/{segment(job_id)}/departure", json=body)

    return await _act(request, runtime, job_id, "departure", values, errors, send)


@post("/field/jobs/{job_id:str}/arrival", **pages(StaffRole.ENGINEER))
async def arrive(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """On site now."""
    session = session_of(request)
    values, _form = await _posted(request)

    async def send() -> Answer:
        return await call(runtime, session, "maintenance", "POST", f"/work-orders/{segment(job_id)}/arrival")

    return await _act(request, runtime, job_id, "arrival", values, {}, send)


@post("/field/jobs/{job_id:str}/diagnosis", **pages(StaffRole.ENGINEER))
async def diagnose(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """Measurements, root cause, scope, failure category and the photos already uploaded."""
    session = session_of(request)
    values, form = await _posted(request)
    photo_keys = [str(key) for key in form.getall("photo_keys", []) if isinstance(key, str) and key]
    values["photo_keys"] = photo_keys
    body, errors = domain.diagnosis_body(values, photo_keys)

    async def send() -> Answer:
        return await call(
            runtime, session, "maintenance", "POST", f"/work-orders/{segment(job_id)}/diagnosis", json=body
        )

    return await _act(request, runtime, job_id, "diagnosis", values, errors, send)


@post("/field/jobs/{job_id:str}/photos", **pages(StaffRole.ENGINEER), media_type=MediaType.JSON)
async def photo_upload(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    data: JSONBody[dict[str, Any]],
) -> Response[dict[str, Any]]:
    """For field.js: a presigned POST form from maintenance for one photo, sent straight from the phone."""
    session = session_of(request)
    body = {
        "file_name": str(data.get("file_name") or "photo.jpg")[:200],
        "content_type": str(data.get("content_type") or ""),
    }
    answer = await call(runtime, session, "maintenance", "POST", f"/work-orders/{segment(job_id)}/photos", json=body)
    if answer.ok and isinstance(answer.data, dict):
        keep = ("photo_key", "upload_url", "method", "fields", "content_type", "max_bytes")
        return Response({k: answer.data.get(k) for k in keep}, status_code=201, headers={"Cache-Control": "no-store"})
    return Response(
        {"message": answer.message or "refused", "errors": answer.errors},
        status_code=_refusal_status(answer),
        headers={"Cache-Control": "no-store"},
    )


ROUTES: list[Any] = [my_jobs, job_hub, prediagnose, depart, arrive, diagnose, photo_upload]
