"""The dispatcher's pages (phases 1-2): the unassigned queue with a suggestion and its reasons, a job's
assignment (assign or reassign, with a reason), and the schedule board of the engineers' days.

Everything is read from and done through dispatch's API with the signed-in person's own token:
`GET /jobs/unassigned`, `GET /jobs/{id}`, `GET /jobs` (the bookings), `GET /engineers`, and
`POST /jobs/{id}/assignment` (dispatchers only, as the API allows). The suggestion is the console's
ranking with the matcher's rules (see domain.py), beside the matcher's own reason from the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from compressor_contracts import StaffRole
from compressor_kit.refusals import Refusal
from console_service import times
from console_service.calls import Answer, call, segment
from console_service.dispatching import domain
from console_service.forms import FORM_KEY, new_form_key, once
from console_service.pages import form_values, page
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import N_, _

PAGE_SIZE = 200
MAX_PAGES = 5  # at most 1000 engineers or jobs read for one page
QUEUE_SIZE = 50
# Dispatch's own words for a request that fails its schema name the route, not the person's mistake.
NOT_ASSIGNED = N_("Not assigned: correct what is marked below and send it again.")


@dataclass
class Listing:
    """Every item of a paged list of dispatch's API, or why not."""

    items: list[dict[str, Any]] = field(default_factory=list)
    problem: Answer | None = None


async def _all(runtime: ConsoleRuntime, session: dict[str, Any], path: str, **params: Any) -> Listing:
    listing = Listing()
    for number in range(MAX_PAGES):
        answer = await call(
            runtime,
            session,
            "dispatch",
            "GET",
            path,
            params={**params, "limit": PAGE_SIZE, "offset": number * PAGE_SIZE},
        )
        if not answer.ok:
            return Listing(listing.items, answer)
        items = answer.data.get("items") or []
        listing.items.extend(items)
        if len(items) < PAGE_SIZE or len(listing.items) >= int(answer.data.get("total") or 0):
            break
    return listing


@dataclass
class Staffing:
    """The engineers and their bookings, as the ranking and the schedule need them."""

    engineers: list[domain.Engineer]
    bookings: dict[str, Any]
    problem: Answer | None

    @property
    def by_id(self) -> dict[str, domain.Engineer]:
        return {e.engineer_id: e for e in self.engineers}


async def _staffing(runtime: ConsoleRuntime, session: dict[str, Any]) -> Staffing:
    engineers = await _all(runtime, session, "/engineers")
    jobs = await _all(runtime, session, "/jobs")
    profiles = [domain.Engineer.of(e) for e in engineers.items]
    return Staffing(profiles, domain.bookings_of(jobs.items, profiles), engineers.problem or jobs.problem)


def _choices(ranking: domain.Ranking) -> list[tuple[str, str]]:
    """The engineer select's options, best first, each saying where the engineer stands."""
    options = []
    for item in ranking.ranks:
        engineer = item.engineer
        if item.standing == domain.SUGGESTED:
            note = "suggested"
        elif item.standing == domain.IN_TIME:
            note = "free in time"
        elif item.standing == domain.LATER:
            note = "free after the target"
        else:
            note = "not eligible"
        options.append((engineer.engineer_id, f"{engineer.name} ({engineer.engineer_id}): {note}"))
    return options


def _form_for(
    job: dict[str, Any], staffing: Staffing, now: datetime, values: dict[str, str] | None = None
) -> dict[str, Any]:
    ranking = domain.rank(job, staffing.engineers, staffing.bookings, now)
    suggestion = ranking.suggestion
    chosen = dict(values or {})
    if not chosen.get("engineer_id") and suggestion is not None:
        chosen["engineer_id"] = suggestion.engineer.engineer_id
    return {
        "job": job,
        "ranking": ranking,
        "choices": _choices(ranking),
        "values": chosen,
        "form_key": new_form_key(),
    }


def _context(staffing: Staffing) -> dict[str, Any]:
    zone = domain.office_zone(staffing.engineers)

    def when(value: object) -> str:
        moment = times.moment(value)
        return domain.when_text(moment, zone) if moment else "—"

    return {
        "zone": zone,
        "when": when,
        "when_in": domain.when_text,
        "reason_max": domain.REASON_MAX,
        "engineer_id_max": domain.ENGINEER_ID_MAX,
    }


@get("/dispatch", **pages(StaffRole.DISPATCHER))
async def queue(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[str]:
    """The unassigned queue, most urgent first: each job with the matcher's reason, the suggestion and the
    other candidates with their reasons, and a form to assign it."""
    session = session_of(request)
    answer = await call(runtime, session, "dispatch", "GET", "/jobs/unassigned", params={"limit": QUEUE_SIZE})
    staffing = await _staffing(runtime, session) if answer.ok else Staffing([], {}, None)
    now = datetime.now(UTC)
    jobs = [_form_for(job, staffing, now) for job in (answer.data.get("items") or [])] if answer.ok else []
    return page(
        "dispatching_queue.html",
        session=session,
        current_path="/dispatch",
        answer=answer,
        staffing_problem=staffing.problem,
        jobs=jobs,
        total=int(answer.data.get("total") or 0) if answer.ok else 0,
        **_context(staffing),
    )


async def _job_page(
    runtime: ConsoleRuntime,
    session: dict[str, Any],
    job_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    unavailable: bool = False,
    status_code: int = 200,
    done: bool = False,
) -> Response[str]:
    answer = await call(runtime, session, "dispatch", "GET", f"/jobs/{segment(job_id)}")
    staffing = await _staffing(runtime, session) if answer.ok else Staffing([], {}, None)
    form = _form_for(answer.data, staffing, datetime.now(UTC), values) if answer.ok else None
    if not answer.ok and answer.status == 404:
        status_code = 404
    return page(
        "dispatching_job.html",
        status_code=status_code if answer.ok or answer.status == 404 else 200,
        session=session,
        current_path="/dispatch",
        job_id=job_id,
        answer=answer,
        staffing_problem=staffing.problem,
        form=form,
        errors=errors or {},
        message=message,
        unavailable=unavailable,
        done=done,
        **_context(staffing),
    )


@get("/dispatch/jobs/{job_id:str}", **pages(StaffRole.DISPATCHER))
async def job_assignment(
    request: Request[Any, Any, Any],
    job_id: FromPath[str],
    runtime: NamedDependency[ConsoleRuntime],
    assigned: FromQuery[str | None] = None,
) -> Response[str]:
    """One job (dispatch's `GET /jobs/{id}`): its assignment, the candidates and the (re)assignment form."""
    return await _job_page(runtime, session_of(request), job_id, done=bool(assigned))


@post("/dispatch/jobs/{job_id:str}/assignment", **pages(StaffRole.DISPATCHER))
async def assign(
    request: Request[Any, Any, Any], job_id: FromPath[str], runtime: NamedDependency[ConsoleRuntime]
) -> Response[Any]:
    """Assign or reassign the job with a reason (`POST /jobs/{id}/assignment`), once per form."""
    session = session_of(request)
    form = await form_values(request)
    values = {k: v for k, v in form.items() if k != FORM_KEY}
    staffing = await _staffing(runtime, session)
    try:
        body = domain.assignment_body(form, staffing.by_id)
    except Refusal as refusal:
        errors = {issue.field: issue.message for issue in refusal.issues if issue.field}
        return await _job_page(
            runtime, session, job_id, values=values, errors=errors, message=refusal.detail, status_code=422
        )
    result = f"/dispatch/jobs/{segment(job_id)}?assigned=1"

    async def act() -> tuple[Answer, str | None]:
        return await call(
            runtime, session, "dispatch", "POST", f"/jobs/{segment(job_id)}/assignment", json=body
        ), result

    outcome = await once(runtime, session, form.get(FORM_KEY), act)
    if outcome.answer is None:
        return Redirect(outcome.redirect or result, status_code=303)
    answer = outcome.answer
    if answer.ok:
        return Redirect(result, status_code=303)
    return await _job_page(
        runtime,
        session,
        job_id,
        values=values,
        errors=answer.errors,
        message=_(NOT_ASSIGNED) if answer.errors and answer.status == 400 else answer.message,
        unavailable=answer.unavailable,
        status_code=503 if answer.unavailable else (404 if answer.status == 404 else 422),
    )


@get("/dispatch/schedule", **pages(StaffRole.DISPATCHER, StaffRole.MANAGER, StaffRole.ADMIN))
async def schedule(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], day: FromQuery[str | None] = None
) -> Response[str]:
    """The engineers' day: shifts, leave, the jobs booked and the capacity left; the day before and after."""
    session = session_of(request)
    staffing = await _staffing(runtime, session)
    zone = domain.office_zone(staffing.engineers)
    today = datetime.now(zone).date()
    message = None
    try:
        shown = domain.day_of(day, today)
    except Refusal as refusal:
        shown, message = today, refusal.detail
    return page(
        "dispatching_schedule.html",
        status_code=422 if message else 200,
        session=session,
        current_path="/dispatch/schedule",
        day=shown,
        today=today,
        weekday=_(domain.WEEKDAYS[shown.weekday()]),
        previous_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
        rows=domain.schedule(shown, staffing.engineers, staffing.bookings),
        staffing_problem=staffing.problem,
        message=message,
        may_assign=StaffRole.DISPATCHER.value in session["roles"],
        **_context(staffing),
    )


ROUTES: list[Any] = [queue, job_assignment, assign, schedule]
