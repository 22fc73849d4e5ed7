"""The job board (`/`), a job's page (`/jobs/{job_id}`) and the board's live updates (`/live`).

A job's timeline is read from reporting with the signed-in person's own access token, so the person
sees exactly what the API would show them; reporting's refusal (problem+json) is shown as a message,
and a reporting that cannot be reached says so while the rest of the console goes on working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage

from compressor_contracts import StaffRole
from compressor_kit.auth import CUSTOMER, STAFF
from compressor_kit.refusals import Refusal
from console_service.board import domain, store
from console_service.calls import call, segment
from console_service.live import follow
from console_service.machines.api import job_readings
from console_service.pages import page, render_fragment
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import _

BOARD_ROLES = (StaffRole.DISPATCHER, StaffRole.MANAGER, StaffRole.ADMIN, StaffRole.RECEPTION, StaffRole.INSPECTOR)
TIMELINE_TIMEOUT = 5.0


def _empty(value: str | None) -> str | None:
    return value or None


@get("/", **pages(*BOARD_ROLES, StaffRole.ENGINEER, CUSTOMER))
async def board(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    priority: FromQuery[str | None] = None,
    region: FromQuery[str | None] = None,
    engineer: FromQuery[str | None] = None,
) -> Response[Any]:
    """Every job on the board by phase, with SLA badges; filtered by priority, region and engineer. An
    engineer's home is their own jobs (/field) instead, a customer's their portal (/portal)."""
    session = session_of(request)
    if not set(session["roles"]).intersection(str(role) for role in BOARD_ROLES):
        return Redirect("/field" if StaffRole.ENGINEER in session["roles"] else "/portal", status_code=303)
    try:
        selection = domain.BoardFilter(_empty(priority), _empty(region), _empty(engineer))
    except Refusal:
        selection = domain.BoardFilter(None, _empty(region), _empty(engineer))
    rows = await store.board(runtime, selection)
    return page(
        "board.html",
        session=session,
        columns=domain.columns(rows),
        selection=selection,
        priorities=domain.PRIORITIES,
        regions=await store.regions(runtime),
        engineers=await store.engineers(runtime),
        total=len(rows),
    )


@dataclass(frozen=True)
class TimelineAnswer:
    timeline: dict[str, Any] | None = None
    refusal: str | None = None
    unavailable: bool = False


async def _timeline(runtime: ConsoleRuntime, access_token: str, job_id: str) -> TimelineAnswer:
    url = f"{runtime.settings.reporting_url.rstrip('/')}/jobs/{quote(job_id, safe='')}/timeline"
    try:
        response = await runtime.http.get(
            url, headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMELINE_TIMEOUT
        )
    except httpx.HTTPError:
        return TimelineAnswer(unavailable=True)
    if response.status_code == 200:
        return TimelineAnswer(timeline=response.json())
    if response.status_code >= 500:
        return TimelineAnswer(unavailable=True)
    try:
        problem = response.json()
        message = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    except ValueError:
        message = response.reason_phrase
    return TimelineAnswer(refusal=message)


@get("/jobs/{job_id:str}", **pages(*STAFF))
async def job_page(
    request: Request[Any, Any, Any], job_id: FromPath[str], runtime: NamedDependency[ConsoleRuntime]
) -> Response[str]:
    """The job's board row, its machine's readings (those its request carried and telemetry's) and its
    whole timeline from reporting."""
    session = session_of(request)
    answer = await _timeline(runtime, session["access_token"], job_id)
    row = await store.row_of(runtime, job_id)
    readings = await job_readings(runtime, session, row)
    return page(
        "job.html",
        session=session,
        job_id=job_id,
        row=row,
        readings=readings,
        answer=answer,
        phase_names=domain.PHASE_NAMES,
        trace_id=await store.trace_id_of(runtime, job_id),
        has_report=bool(row and row.get("report_published")),
    )


@get("/jobs/{job_id:str}/report", **pages(*STAFF))
async def job_report(
    request: Request[Any, Any, Any], job_id: FromPath[str], runtime: NamedDependency[ConsoleRuntime]
) -> Response[Any]:
    """The job's PDF report: a fresh short-lived link from reporting on each click (as the person), so a
    link on a page never goes stale."""
    answer = await call(runtime, session_of(request), "reporting", "GET", f"/jobs/{segment(job_id)}/report-link")
    if answer.ok and isinstance(answer.data, dict) and answer.data.get("url"):
        return Redirect(str(answer.data["url"]), status_code=303)
    return page(
        "message.html",
        status_code=503 if answer.unavailable else (answer.status or 502),
        session=session_of(request),
        title=_("Report not available"),
        message=answer.message or _("The report is not available."),
    )


def _row_message(row: dict[str, Any]) -> ServerSentEventMessage:
    data = {"job_id": row["_id"], "column": domain.column_of(row), "html": render_fragment("_row.html", row=row)}
    return ServerSentEventMessage(data=json.dumps(data), event="row")


@get("/live", **pages(*BOARD_ROLES))
async def live(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> ServerSentEvent:
    """Server-Sent Events (console_service.live): `ready`, then `row` with each changed row, until the
    session ends."""
    return follow(request, runtime, store.JOBS, _row_message)
