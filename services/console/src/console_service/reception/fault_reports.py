"""Reception's fault reports: what people reported at a machine's QR label (`/m/{label_id}`), awaiting
confirmation. Reception sees the reporter, the fault, the machine and its customer, and either confirms
(intake records the request: job.requested on the portal channel, the customer's main contact unless
another is given) and lands on the new job's page, or dismisses it with a reason. Each form acts once.

Also here: the printable sheet of a site's QR labels, fetched from intake as the signed-in person.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from console_service.calls import UNAVAILABLE, Answer, answer_of, base_url, call, segment
from console_service.forms import new_form_key, once, valid_key
from console_service.pages import form_values, page, priority_name
from console_service.reception.api import FRONT_DESK
from console_service.reception.domain import PRIORITIES
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import _

HERE = "/reception/fault-reports"
LISTED = 50


def confirm_body(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Intake's confirm body: another contact only when reception typed one (a name, and a phone or an
    e-mail), a priority only when chosen."""
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    name = (values.get("contact.name") or "").strip()
    phone = (values.get("contact.phone") or "").strip()
    if name or phone:
        if not name:
            errors["contact.name"] = _("The contact's name, or leave both empty for the main contact.")
        if not phone:
            errors["contact.phone"] = _("The contact's phone, or leave both empty for the main contact.")
        body["contact"] = {"name": name, "phone": phone}
    priority = values.get("priority") or ""
    if priority in PRIORITIES:
        body["priority"] = priority
    return body, errors


async def _list_page(
    runtime: ConsoleRuntime,
    session: dict[str, Any],
    *,
    acting_on: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    unavailable: bool = False,
    dismissed: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    listing = await call(runtime, session, "intake", "GET", "/fault-reports", params={"limit": LISTED})
    if not listing.ok and status_code == 200:
        status_code = 503 if listing.unavailable else listing.status
    values = values or {}
    return page(
        "reception_fault_reports.html",
        status_code=status_code,
        session=session,
        current_path=HERE,
        listing=listing,
        reports=(listing.data.get("items") or []) if listing.ok else [],
        total=(listing.data.get("total") or 0) if listing.ok else 0,
        acting_on=acting_on,
        values=values,
        errors=errors or {},
        message=message,
        unavailable=unavailable,
        dismissed=dismissed,
        form_key=valid_key(values.get("form_key")) or new_form_key(),
        new_form_key=new_form_key,
        priorities=[(p, priority_name(p)) for p in PRIORITIES],
    )


@get(HERE, **pages(*FRONT_DESK))
async def fault_reports(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], dismissed: FromQuery[str | None] = None
) -> Response[str]:
    """Fault reports from machines' labels awaiting confirmation, the longest waiting first."""
    return await _list_page(runtime, session_of(request), dismissed=(dismissed or "")[:64] or None)


def _refused(answer: Answer) -> dict[str, Any]:
    if answer.unavailable:
        return {"message": answer.message, "unavailable": True, "status_code": 503}
    if answer.status == 409:
        message = _("This report was already confirmed or dismissed (by someone else, or in another tab).")
        return {"message": message, "status_code": 409}
    return {"message": answer.message, "errors": answer.errors, "status_code": 422}


@post(HERE + "/{fault_report_id:str}/confirm", **pages(*FRONT_DESK))
async def confirm(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], fault_report_id: FromPath[str]
) -> Response[Any]:
    """Confirm: intake records the request; on to the new job's page."""
    session = session_of(request)
    values = await form_values(request)
    body, errors = confirm_body(values)
    if errors:
        return await _list_page(
            runtime,
            session,
            acting_on=fault_report_id,
            values=values,
            errors=errors,
            message=_("Some fields need a look: see below."),
            status_code=422,
        )

    async def act() -> tuple[Answer, str | None]:
        path = f"/fault-reports/{segment(fault_report_id)}/confirm"
        answer = await call(runtime, session, "intake", "POST", path, json=body)
        return answer, f"/jobs/{segment(answer.data['job_id'])}" if answer.ok else None

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or HERE, status_code=303)
    return await _list_page(runtime, session, acting_on=fault_report_id, values=values, **_refused(outcome.answer))


@post(HERE + "/{fault_report_id:str}/dismiss", **pages(*FRONT_DESK))
async def dismiss(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], fault_report_id: FromPath[str]
) -> Response[Any]:
    """Dismiss with a reason; back to the list."""
    session = session_of(request)
    values = await form_values(request)
    reason = (values.get("reason") or "").strip()
    if not reason:
        return await _list_page(
            runtime,
            session,
            acting_on=fault_report_id,
            values=values,
            errors={"reason": _("Say why the report is dismissed.")},
            message=_("Some fields need a look: see below."),
            status_code=422,
        )

    async def act() -> tuple[Answer, str | None]:
        path = f"/fault-reports/{segment(fault_report_id)}/dismiss"
        answer = await call(runtime, session, "intake", "POST", path, json={"reason": reason})
        return answer, f"{HERE}?dismissed={segment(fault_report_id)}" if answer.ok else None

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or HERE, status_code=303)
    return await _list_page(runtime, session, acting_on=fault_report_id, values=values, **_refused(outcome.answer))


@get("/reception/customers/{customer_id:str}/labels", **pages(*FRONT_DESK))
async def site_labels(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    customer_id: FromPath[str],
    site_id: FromQuery[str | None] = None,
) -> Response[Any]:
    """The A4 sheet of QR labels of a site's machines (a PDF from intake), to print."""
    session = session_of(request)
    path = f"/customers/{segment(customer_id)}/sites/{segment(site_id or '-')}/labels"
    try:
        response = await runtime.http.get(
            base_url(runtime, "intake") + path,
            headers={"Authorization": f"Bearer {session['access_token']}"},
            timeout=30.0,
        )
    except httpx.HTTPError:
        response = None
    if response is not None and response.status_code == 200:
        return Response(
            response.content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": response.headers.get("content-disposition", "inline"),
                "Cache-Control": "no-store",
            },
        )
    answer = (
        answer_of("intake", response) if response is not None else Answer("intake", 0, message=f"Intake {UNAVAILABLE}")
    )
    status = 503 if answer.unavailable else answer.status
    return page(
        "message.html",
        status_code=status,
        session=session,
        title=_("QR labels"),
        message=answer.message if answer.unavailable else _("No such site of this customer."),
    )


ROUTES: list[Any] = [fault_reports, confirm, dismiss, site_labels]
