"""The inspector's pages: the open inspections (`/inspections`) and one inspection's form
(`/inspections/{inspection_id}`), filled from its checklist and sent to quality as the inspector.

Every indicator's limits are rendered beside its field and into data- attributes, from which
inspection.js shows pass or fail while the value is typed; quality's verdict is what is recorded and
shown once sent. A failed round shows the rework that follows, with the job's page.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from compressor_contracts import StaffRole
from console_service.calls import Answer, call, segment
from console_service.forms import new_form_key, once
from console_service.inspection import domain
from console_service.pages import form_values, page
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import _

INSPECTOR = (StaffRole.INSPECTOR,)
PAGE_SIZE = 50


@get("/inspections", **pages(*INSPECTOR))
async def inspections(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], offset: FromQuery[int] = 0
) -> Response[str]:
    """The open inspections, oldest first: job, round and equipment, each leading to its form."""
    session = session_of(request)
    offset = max(0, min(offset, 1_000_000))
    answer = await call(
        runtime,
        session,
        "quality",
        "GET",
        "/inspections",
        params={"status": "open", "limit": PAGE_SIZE, "offset": offset},
    )
    listing = answer.data if answer.ok and isinstance(answer.data, dict) else {"items": [], "total": 0}
    return page(
        "inspection_list.html",
        session=session,
        current_path="/inspections",
        answer=answer,
        items=listing.get("items") or [],
        total=listing.get("total") or 0,
        offset=offset,
        page_size=PAGE_SIZE,
    )


async def _inspection(runtime: ConsoleRuntime, session: dict[str, Any], inspection_id: str) -> Answer:
    return await call(runtime, session, "quality", "GET", f"/inspections/{segment(inspection_id)}")


async def _render(
    runtime: ConsoleRuntime,
    session: dict[str, Any],
    inspection_id: str,
    answer: Answer,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    inspection = answer.data if answer.ok else None
    template = None
    if inspection is not None:
        found = await call(
            runtime, session, "quality", "GET", f"/inspection-templates/{segment(inspection['template_id'])}"
        )
        template = found.data if found.ok else None
    if answer.refused and status_code == 200:
        status_code = 404 if answer.status == 404 else answer.status
    return page(
        "inspection_form.html",
        status_code=status_code,
        session=session,
        current_path="/inspections",
        inspection_id=inspection_id,
        answer=answer,
        inspection=inspection,
        template=template,
        form_key=new_form_key(),
        values=values or {},
        errors=errors or {},
        message=message,
        limit_text=domain.limit_text,
        within_limits=domain.within_limits,
        parse_reading=domain.parse_reading,
        value_field=domain.value_field,
        unit_field=domain.unit_field,
        notes_max=domain.NOTES_MAX,
    )


@get("/inspections/{inspection_id:str}", **pages(*INSPECTOR))
async def inspection_form(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], inspection_id: FromPath[str]
) -> Response[str]:
    """An open inspection's form (each indicator with its limits), or a decided one's results."""
    session = session_of(request)
    return await _render(runtime, session, inspection_id, await _inspection(runtime, session, inspection_id))


@post("/inspections/{inspection_id:str}", **pages(*INSPECTOR))
async def record_results(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], inspection_id: FromPath[str]
) -> Response[Any]:
    """Every reading to quality (POST /inspections/{id}/results); quality decides pass or fail."""
    session = session_of(request)
    form = await form_values(request)
    current = await _inspection(runtime, session, inspection_id)
    if not current.ok:
        return await _render(runtime, session, inspection_id, current, values=form)
    indicators: list[dict[str, Any]] = current.data["indicators"]
    sent = domain.readings(indicators, form)
    if sent.errors:
        return await _render(
            runtime,
            session,
            inspection_id,
            current,
            values=form,
            errors=sent.errors,
            message=_("Some readings need a look: see the fields marked below."),
            status_code=422,
        )
    here = f"/inspections/{segment(inspection_id)}"

    async def act() -> tuple[Answer, str | None]:
        answer = await call(runtime, session, "quality", "POST", f"{here}/results", json=sent.body)
        return answer, here

    outcome = await once(runtime, session, form.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or here, status_code=303)
    answer = outcome.answer
    if answer.status == 409:  # decided meanwhile (another tab, another inspector): show what was recorded
        current = await _inspection(runtime, session, inspection_id)
    placed = domain.field_errors(indicators, answer.errors)
    beside = any(name.startswith("measurements.") for name in placed)
    return await _render(
        runtime,
        session,
        inspection_id,
        current,
        values=form,
        errors=placed,
        message=_("Quality could not evaluate the readings: see the fields marked below.")
        if beside
        else answer.message,
        status_code=422 if answer.status in (409, 422) else (503 if answer.unavailable else answer.status),
    )


ROUTES: list[Any] = [inspections, inspection_form, record_results]
