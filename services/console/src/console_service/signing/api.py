"""The customer signs on the engineer's phone (`/field/jobs/{job_id}/sign`): the plan approval when the
customer is on site, and the acceptance of the work once its quality inspection passed.

The page shows what is signed (the plan revision, or the work's rounds), the signer's name and role
and the signing widget (templates/_signature.html); maintenance checks the drawing, stores it and
publishes job.signed with the approval or on its own.
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
from console_service.pages import form_values, page
from console_service.repair.domain import PLAN_STATES, STATUS_NAMES
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.signing import domain
from console_service.texts import _


def _order_path(job_id: str, tail: str = "") -> str:
    return f"/work-orders/{segment(job_id)}{tail}"


def _status_names(order: dict[str, Any]) -> dict[str, str]:
    """The work order's status as named on the repair pages; once its inspection passed, that is its news."""
    if order.get("inspection_passed") and order.get("status") == "awaiting_inspection":
        return {**STATUS_NAMES, "awaiting_inspection": _("Inspection passed")}
    return STATUS_NAMES


async def _sign_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    *,
    signed: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    session = session_of(request)
    order = await call(runtime, session, "maintenance", "GET", _order_path(job_id))
    if not order.ok:
        status_code = order.status if order.refused else 503
    data = order.data if order.ok and isinstance(order.data, dict) else {}
    notice = None
    if signed == domain.PLAN_APPROVAL:
        notice = _("Signed: the plan is approved and its parts are reserved.")
    elif signed == domain.WORK_ACCEPTANCE:
        notice = _("Signed: the customer accepted the work.")
    return page(
        "field_sign.html",
        status_code=status_code,
        session=session,
        current_path="/field",
        job_id=job_id,
        order=order,
        to_sign=domain.to_sign(data) if data else None,
        signatures=data.get("signatures") or [],
        values=values or {},
        errors=errors or {},
        message=message,
        notice=notice,
        form_key=new_form_key(),
        status_names=_status_names(data),
        plan_states=PLAN_STATES,
    )


@get("/field/jobs/{job_id:str}/sign", **pages(StaffRole.ENGINEER))
async def signing_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    signed: FromQuery[str | None] = None,
) -> Response[str]:
    """What the customer signs now (the proposed plan, or the inspected work) with the signing box."""
    return await _sign_page(request, runtime, job_id, signed=signed)


@post("/field/jobs/{job_id:str}/sign", **pages(StaffRole.ENGINEER))
async def sign(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """The customer's signature: the plan approved with it, or the work accepted with it."""
    session = session_of(request)
    values = await form_values(request)
    signed_for = values.get("signed_for", "")
    if signed_for not in (domain.PLAN_APPROVAL, domain.WORK_ACCEPTANCE):
        return await _sign_page(
            request, runtime, job_id, message=_("Nothing to sign: open the page again."), status_code=422
        )
    kept = {k: v for k, v in values.items() if k != "signature.image"}
    local = domain.missing(values)
    if local:
        message = _("Not signed yet: see the marked fields below.")
        return await _sign_page(request, runtime, job_id, values=values, errors=local, message=message, status_code=422)
    tail, body = domain.request_of(signed_for, values)
    where = f"/field/jobs/{segment(job_id)}/sign?signed={signed_for}"

    async def act() -> tuple[Answer, str | None]:
        answer = await call(runtime, session, "maintenance", "POST", _order_path(job_id, tail), json=body)
        return answer, where

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.repeated or (outcome.answer and outcome.answer.ok):
        return Redirect(outcome.redirect or where, status_code=303)
    answer = outcome.answer
    assert answer is not None
    errors = domain.form_errors(answer.errors)
    # A refused drawing is drawn again; anything else keeps it.
    shown = kept if "signature.image" in errors else values
    status = 503 if answer.unavailable else (422 if answer.status in (400, 409, 422) else answer.status)
    return await _sign_page(
        request, runtime, job_id, values=shown, errors=errors, message=answer.message, status_code=status
    )


ROUTES: list[Any] = [signing_page, sign]
