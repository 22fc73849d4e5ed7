"""The scan page of a machine's QR label, open to anyone (`/m/{label_id}`).

It shows what the label shows (the model and the serial), never the customer, the site or the jobs.
The machine's own customer, signed in, sees its open jobs and a button to request service in the
portal with the machine chosen. Anyone else gets a short form (name, phone, what is wrong): sent to
intake's open POST /labels/{label_id}/fault-reports, it waits there for reception's confirmation.

Every request to these pages counts against a limit per address (the kit's `public_pages.per_address`,
SCAN_PAGES_PER_ADDRESS_PER_MINUTE): over it, a 429 page with Retry-After. A fault report also counts
against two limits: intake's per machine, and the console's per reporter address (the console is what
sees the browser's address: uvicorn takes it from X-Forwarded-For only when the proxy in front is
trusted, FORWARDED_ALLOW_IPS), counted in MongoDB so every replica counts against the same limit. Over
either: 429 with Retry-After and the form again, what was typed kept. A double-sent form reports once
(its form key).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar import MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromPath

from compressor_kit.auth import public
from compressor_kit.public_pages import per_address, retry_after
from console_service.calls import JSON, UNAVAILABLE, Answer, answer_of, base_url, call, segment
from console_service.forms import new_form_key, store, valid_key
from console_service.pages import form_values, page
from console_service.scan import domain
from console_service.scan import store as counts
from console_service.sessions.guard import current_session
from console_service.settings import ConsoleRuntime
from console_service.texts import _

RETRY_AFTER = "retry-after"
ANONYMOUS = "anonymous"  # whose form key it is: nobody signed in


async def _open_call(runtime: ConsoleRuntime, method: str, path: str, json: JSON = None) -> tuple[Answer, str | None]:
    """Intake's open routes, as nobody (no token): the answer and its Retry-After."""
    try:
        response = await runtime.http.request(method, base_url(runtime, "intake") + path, json=json, timeout=8.0)
    except httpx.HTTPError:
        return Answer("intake", 0, message=f"Intake {UNAVAILABLE}"), None
    return answer_of("intake", response), response.headers.get(RETRY_AFTER)


def _unknown_label() -> Response[str]:
    return page(
        "scan_unknown.html",
        status_code=404,
        session=None,
        title=_("Label not found"),
        message=_("No machine has this label. Check that the whole code was scanned, or call us."),
    )


def _unavailable() -> Response[str]:
    return page(
        "scan_unknown.html",
        status_code=503,
        session=None,
        title=_("Try again in a minute"),
        message=_("The service is unavailable just now. Please try again in a minute, or call us."),
    )


def _too_many_requests(_request: Request[Any, Any, Any], refusal: TooManyRequestsException) -> Response[str]:
    response = page(
        "scan_unknown.html",
        status_code=429,
        session=None,
        title=_("Try again in a minute"),
        message=_("This page was opened too often from your network. Please try again in a minute, or call us."),
    )
    response.headers["Retry-After"] = retry_after(refusal)
    return response


# Open to anyone, so limited per address; the refusal is a page in the reader's language.
LABEL_PAGE: dict[str, Any] = {
    **public(),
    "include_in_schema": False,
    "guards": [per_address(counts.pages_per_address)],
    "exception_handlers": {TooManyRequestsException: _too_many_requests},
}


async def _owned_machine(
    runtime: ConsoleRuntime, session: dict[str, Any] | None, label_id: str
) -> dict[str, Any] | None:
    """The machine with its open jobs when the signed-in person is its customer; None otherwise."""
    if not session or "customer" not in (session.get("roles") or ()):
        return None
    answer = await call(runtime, session, "intake", "GET", f"/labels/{segment(label_id)}/equipment")
    return answer.data if answer.ok else None


async def _scan_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    label_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
    retry_after: str | None = None,
) -> Response[str]:
    machine, _retry = await _open_call(runtime, "GET", f"/labels/{segment(label_id)}")
    if machine.status == 404:
        return _unknown_label()
    if not machine.ok:
        return _unavailable()
    session = await current_session(request)
    owned = await _owned_machine(runtime, session, label_id)
    values = values or {}
    response = page(
        "scan_machine.html",
        status_code=status_code,
        session=session,
        label_id=label_id,
        machine=machine.data,
        owned=owned,
        open_jobs=domain.open_jobs_of(owned) if owned else [],
        values=values,
        errors=errors or {},
        message=message,
        form_key=valid_key(values.get("form_key")) or new_form_key(),
    )
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


@get("/m/{label_id:str}", **LABEL_PAGE)
async def scan(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], label_id: FromPath[str]
) -> Response[str]:
    """The machine a label names: its model and serial; for its customer, its open jobs and a request
    for service; for anyone else, the fault form."""
    return await _scan_page(request, runtime, label_id)


def _reported(label_id: str, machine: dict[str, Any], fault_report_id: str) -> Response[str]:
    return page(
        "scan_reported.html",
        session=None,
        label_id=label_id,
        machine=machine,
        fault_report_id=fault_report_id,
    )


async def _first_report(runtime: ConsoleRuntime, claim: str) -> str | None:
    """The report the first of a double-sent form made, once it is made (None if it was refused)."""
    for _attempt in range(100):
        first = await store.claim_of(runtime, claim)
        if first is None:
            return None
        if first.get("result"):
            return str(first["result"])
        await asyncio.sleep(0.1)
    return None


def _too_many(retry_after: str | None) -> str:
    return _(
        "We have had enough reports for now. Please try again in %(minutes)d minutes, or call us if it is urgent.",
        minutes=domain.retry_minutes(retry_after),
    )


@post("/m/{label_id:str}", **LABEL_PAGE, media_type=MediaType.HTML)
async def report_fault(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], label_id: FromPath[str]
) -> Response[str]:
    """The fault form, sent: to intake as a report awaiting reception, once per form."""
    values = await form_values(request)
    body, errors = domain.report_body(values)
    if errors:
        message = _("Some fields need a look: see below.")
        return await _scan_page(
            request, runtime, label_id, values=values, errors=errors, message=message, status_code=422
        )
    machine, _retry = await _open_call(runtime, "GET", f"/labels/{segment(label_id)}")
    if machine.status == 404:
        return _unknown_label()
    if not machine.ok:
        return _unavailable()
    key = valid_key(values.get("form_key"))
    claim = f"scan|{label_id}|{key}" if key else None
    if claim and not await store.claim(runtime, claim, ANONYMOUS):
        first = await _first_report(runtime, claim)  # sent twice: the first's answer, nothing new
        if first:
            return _reported(label_id, machine.data, first)
        return await _scan_page(request, runtime, label_id, values=values)
    now = datetime.now(UTC)
    address = request.client.host if request.client else "unknown"
    allowance = await counts.count_report(runtime, address, now)
    if not allowance.allowed:
        if claim:
            await store.release(runtime, claim)
        wait = str(allowance.retry_after_seconds)
        return await _scan_page(
            request, runtime, label_id, values=values, message=_too_many(wait), status_code=429, retry_after=wait
        )
    sent, retry_after = await _open_call(runtime, "POST", f"/labels/{segment(label_id)}/fault-reports", json=body)
    if sent.ok:
        if claim:
            await store.settle(runtime, claim, sent.data["fault_report_id"])
        return _reported(label_id, machine.data, sent.data["fault_report_id"])
    if claim:
        await store.release(runtime, claim)
    await counts.uncount_report(runtime, address, now)
    if sent.status == 429:
        return await _scan_page(
            request,
            runtime,
            label_id,
            values=values,
            message=_too_many(retry_after),
            status_code=429,
            retry_after=retry_after,
        )
    if sent.refused:
        shown = domain.refused_fields(sent.errors)
        message = _("Some fields need a look: see below.") if shown else _("The report was not taken; please call us.")
        return await _scan_page(
            request, runtime, label_id, values=values, errors=shown, message=message, status_code=422
        )
    return _unavailable()


ROUTES: list[Any] = [scan, report_fault]
