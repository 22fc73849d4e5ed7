"""The manager's pages (phases 7-9): the KPI dashboard with its charts and live management alerts,
the reports with their PDFs, and the review queue with the review memo form.

Everything is read and done through reporting and feedback with the signed-in person's own token:
GET /kpis (once for the whole range, once per period for the charts), GET /jobs and
GET /jobs/{id}/report-link (a fresh presigned link on every click), GET /reviews/pending and
POST /jobs/{id}/review. The alerts are the console's own: its job-board consumer records them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage

from compressor_contracts import StaffRole
from console_service.board import store as board_store
from console_service.calls import Answer, call, segment
from console_service.forms import new_form_key, once
from console_service.live import follow
from console_service.management import charts, domain, store
from console_service.pages import form_values, labelled, page, render_fragment
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import N_, _

MANAGEMENT = (StaffRole.MANAGER, StaffRole.ADMIN)
REVIEWERS = (StaffRole.MANAGER, StaffRole.ENGINEER)
REPORTS_PAGE = 200
FIX_FIELDS = N_("The review is not recorded yet: correct what is marked below and send it again.")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _kpis(runtime: ConsoleRuntime, session: dict[str, Any], start: datetime, end: datetime) -> Answer:
    return await call(runtime, session, "reporting", "GET", "/kpis", params={"from": _iso(start), "to": _iso(end)})


def _charts(
    periods: list[domain.Period], per_period: list[dict[str, Any] | None], causes: list[tuple[str, int]], scope: str
) -> list[charts.Chart]:
    labels = [p.label for p in periods]
    series = domain.series_of
    return [
        charts.line_chart(
            "chart-mttr",
            _("Mean time to repair (hours), %(scope)s", scope=scope),
            labels,
            [charts.Series(_("MTTR"), series(per_period, "mttr_hours"))],
            unit=" h",
        ),
        charts.line_chart(
            "chart-ftf",
            _("First-time fix rate, %(scope)s", scope=scope),
            labels,
            [charts.Series(_("First-time fix"), series(per_period, "first_time_fix_rate", 100))],
            unit="%",
            high=100,
        ),
        charts.line_chart(
            "chart-rework",
            _("Rework rate, %(scope)s", scope=scope),
            labels,
            [charts.Series(_("Rework"), series(per_period, "rework_rate", 100))],
            unit="%",
            high=100,
        ),
        charts.line_chart(
            "chart-sla",
            _("SLA compliance, %(scope)s", scope=scope),
            labels,
            [
                charts.Series(_("Arrive-by met"), series(per_period, "arrive_by_compliance", 100)),
                charts.Series(_("Resolve-by met"), series(per_period, "resolve_by_compliance", 100)),
            ],
            unit="%",
            high=100,
        ),
        charts.line_chart(
            "chart-csat",
            _("Customer satisfaction (CSAT, 1 to 5), %(scope)s", scope=scope),
            labels,
            [charts.Series("CSAT", series(per_period, "csat_average"))],
            low=0,
            high=5,
            ticks=5,
        ),
        charts.line_chart(
            "chart-nps",
            _("Net promoter score (-100 to 100), %(scope)s", scope=scope),
            labels,
            [charts.Series("NPS", series(per_period, "nps"))],
            low=-100,
            high=100,
        ),
        charts.pareto_chart(
            "chart-pareto",
            _("Pareto of failure causes, %(scope)s", scope=_("all models") if scope == _("all jobs") else scope),
            causes,
        ),
    ]


def _scope(chosen: domain.Selection, engineer_names: dict[str, str]) -> str:
    if chosen.dimension is None or chosen.value is None:
        return _("all jobs")
    if chosen.dimension == "engineer":
        return _("engineer %(name)s", name=engineer_names.get(chosen.value, chosen.value))
    if chosen.dimension == "model":
        return _("model %(model)s", model=chosen.value)
    return _("region %(region)s", region=chosen.value)


@get("/manager", **pages(*MANAGEMENT))
async def dashboard(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    period: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    engineer: FromQuery[str | None] = None,
    region: FromQuery[str | None] = None,
) -> Response[str]:
    """KPIs of the range and their charts over its periods, for all jobs or one model, engineer or
    region; the management alerts, newest first, live."""
    session = session_of(request)
    range_key = period if period in domain.RANGES else domain.DEFAULT_RANGE
    periods = domain.periods(range_key, datetime.now(UTC))
    chosen = domain.selection(model, engineer, region)
    whole, *answers = await asyncio.gather(
        _kpis(runtime, session, periods[0].start, periods[-1].end),
        *(_kpis(runtime, session, p.start, p.end) for p in periods),
    )
    failed = next((a for a in (whole, *answers) if not a.ok), None)
    engineer_names = dict(await board_store.engineers(runtime))
    kpis = whole.data if whole.ok else None
    per_period = [domain.figures(a.data if a.ok else None, chosen) for a in answers]
    scope = _scope(chosen, engineer_names)
    found = domain.options(kpis)
    if chosen.dimension and chosen.value and chosen.value not in found[chosen.dimension]:
        found[chosen.dimension].append(chosen.value)
    return page(
        "management_dashboard.html",
        session=session,
        current_path="/manager",
        ranges=[(key, _(label)) for key, (label, _unit, _count) in domain.RANGES.items()],
        values={"period": range_key, "model": model or "", "engineer": engineer or "", "region": region or ""},
        errors=dict(chosen.errors),
        options={
            "model": [(m, m) for m in found["model"]],
            "engineer": [(e, engineer_names.get(e, e)) for e in found["engineer"]],
            "region": [(r, r) for r in found["region"]],
        },
        range_label=_(domain.RANGES[range_key][0]),
        all_jobs=chosen.dimension is None or chosen.value is None,
        scope=scope,
        cards=domain.cards(domain.figures(kpis, chosen)),
        charts=_charts(periods, per_period, domain.causes(kpis, chosen), scope) if kpis is not None else [],
        pareto_note=chosen.dimension in ("engineer", "region"),
        problem=failed,
        alerts=await store.latest(runtime),
    )


def _alert_message(alert: dict[str, Any]) -> ServerSentEventMessage:
    html = render_fragment("management_alert.html", alert=alert)
    return ServerSentEventMessage(data=json.dumps({"id": str(alert["_id"]), "html": html}), event="alert")


@get("/manager/alerts/live", **pages(*MANAGEMENT))
async def alerts_live(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> ServerSentEvent:
    """Server-Sent Events (console_service.live): `ready`, then `alert` with each new one, until the
    session ends."""
    return follow(request, runtime, store.ALERTS, _alert_message)


@get("/manager/reports", **pages(*MANAGEMENT))
async def reports(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], offset: FromQuery[int] = 0
) -> Response[str]:
    """Jobs whose report is published, most recently requested first, each with its PDF."""
    session = session_of(request)
    offset = max(0, min(offset, 1_000_000))
    answer = await call(runtime, session, "reporting", "GET", "/jobs", params={"limit": REPORTS_PAGE, "offset": offset})
    items = (answer.data or {}).get("items", []) if answer.ok else []
    total = (answer.data or {}).get("total", 0) if answer.ok else 0
    return page(
        "management_reports.html",
        session=session,
        current_path="/manager/reports",
        reports=[item for item in items if item.get("record_id")],
        looked_at=len(items),
        offset=offset,
        next_offset=offset + REPORTS_PAGE if offset + REPORTS_PAGE < total else None,
        previous_offset=max(0, offset - REPORTS_PAGE) if offset else None,
        problem=None if answer.ok else answer,
    )


@get("/manager/reports/{job_id:str}/pdf", **pages(*MANAGEMENT))
async def report_pdf(
    request: Request[Any, Any, Any], job_id: FromPath[str], runtime: NamedDependency[ConsoleRuntime]
) -> Response[Any]:
    """To the report's PDF: a fresh presigned link from reporting on every click."""
    session = session_of(request)
    answer = await call(runtime, session, "reporting", "GET", f"/jobs/{segment(job_id)}/report-link")
    if answer.ok and isinstance(answer.data, dict) and answer.data.get("url"):
        return Redirect(str(answer.data["url"]), status_code=303)
    return page(
        "message.html",
        session=session,
        status_code=503 if answer.unavailable else (answer.status if answer.refused else 502),
        title=_("Report of %(job)s", job=job_id),
        message=answer.message or _("Reporting gave no link to this report."),
    )


def _manages(session: dict[str, Any]) -> bool:
    return bool({str(StaffRole.MANAGER), str(StaffRole.ADMIN)} & set(session["roles"]))


@get("/manager/reviews", **pages(*REVIEWERS))
async def reviews(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], reviewed: FromQuery[str | None] = None
) -> Response[str]:
    """The review queue, urgent (low score) first: every job for a manager, their own for an engineer."""
    session = session_of(request)
    answer = await call(runtime, session, "feedback", "GET", "/reviews/pending", params={"limit": 200})
    items = domain.review_queue((answer.data or {}).get("items", []) if answer.ok else [])
    if items and not _manages(session):
        own = await board_store.jobs_of_engineer(runtime, [i["job_id"] for i in items], session["subject"])
        items = [item for item in items if item["job_id"] in own]
    return page(
        "management_reviews.html",
        session=session,
        current_path="/manager/reviews",
        items=items,
        urgent=sum(1 for item in items if item.get("urgent")),
        reviewed=reviewed,
        can_review=bool({str(r) for r in REVIEWERS} & set(session["roles"])),
        problem=None if answer.ok else answer,
    )


def _review_form(
    session: dict[str, Any],
    job_id: str,
    *,
    item: dict[str, Any] | None = None,
    values: dict[str, str] | None = None,
    answer: Answer | None = None,
    status_code: int = 200,
) -> Response[str]:
    return page(
        "management_review.html",
        session=session,
        status_code=status_code,
        current_path="/manager/reviews",
        job_id=job_id,
        item=item,
        form_key=new_form_key(),
        values=values or {},
        errors=domain.form_errors(answer.errors) if answer else {},
        message=(_(FIX_FIELDS) if answer.errors else answer.message) if answer else None,
        unavailable=bool(answer and answer.unavailable),
        kinds=labelled(domain.FOLLOW_UP_KINDS),
        limits={"memo": domain.MEMO_MAX, "lesson": domain.LESSON_MAX, "lessons": domain.LESSONS_MAX},
    )


@get("/manager/reviews/{job_id:str}", **pages(*REVIEWERS))
async def review_form(
    request: Request[Any, Any, Any], job_id: FromPath[str], runtime: NamedDependency[ConsoleRuntime]
) -> Response[str]:
    """The review memo form of one job, with what the customer said of it."""
    session = session_of(request)
    answer = await call(runtime, session, "feedback", "GET", f"/jobs/{segment(job_id)}/feedback")
    return _review_form(session, job_id, item=answer.data if answer.ok else None)


@post("/manager/reviews/{job_id:str}", **pages(*REVIEWERS), status_code=200)
async def record_review(
    request: Request[Any, Any, Any], job_id: FromPath[str], runtime: NamedDependency[ConsoleRuntime]
) -> Response[Any]:
    """Record the job's review memo once (feedback closes the job when its survey is done)."""
    session = session_of(request)
    values = await form_values(request)

    async def act() -> tuple[Answer, str | None]:
        answer = await call(
            runtime, session, "feedback", "POST", f"/jobs/{segment(job_id)}/review", json=domain.review_body(values)
        )
        return answer, f"/manager/reviews?reviewed={segment(job_id)}"

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.redirect is not None:
        return Redirect(outcome.redirect, status_code=303)
    answer = outcome.answer
    assert answer is not None
    status = 503 if answer.unavailable else (422 if answer.status in (400, 409, 422) else answer.status)
    feedback = await call(runtime, session, "feedback", "GET", f"/jobs/{segment(job_id)}/feedback")
    item = feedback.data if feedback.ok else None
    return _review_form(session, job_id, item=item, values=values, answer=answer, status_code=status)


ROUTES: list[Any] = [dashboard, alerts_live, reports, report_pdf, reviews, review_form, record_review]
