"""Reception's pages (phase 1): take a call, see the customer file, record call-backs.

Taking a call is a plain run of server-rendered pages: find the customer by name or phone
(`/reception`), or open a new file (`/reception/customers/new`, then a site and a unit); then the
call's form for that customer (`/reception/customers/{id}/call`): the unit, the fault, priority and
channel, sent to intake's POST /requests with the form's key as Idempotency-Key, landing on the job's
page. Everything goes to intake as the signed-in person; a refusal comes back beside its field with
what was typed kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from compressor_contracts import StaffRole
from console_service.calls import Answer, call, segment
from console_service.forms import new_form_key, once, valid_key
from console_service.pages import form_values, labelled, page, priority_name
from console_service.reception import domain
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import _

FRONT_DESK = (StaffRole.RECEPTION, StaffRole.MANAGER, StaffRole.ADMIN)
SEARCH_PAGE = 20
PHONE_SCAN_PAGE = 200
PHONE_SCAN_PAGES = 5
MODELS_PAGE = 200


def _status(answer: Answer) -> int:
    """The page's status for a refused or failed submission."""
    if answer.unavailable:
        return 503
    return 422 if answer.status in (400, 409, 422) else answer.status


def _refused(answer: Answer | None, errors: dict[str, str], fields: frozenset[str]) -> dict[str, Any]:
    """How a form is shown again: intake's refusal (`answer`) beside its fields, or the page's own
    `errors` when it did not ask."""
    if answer is None:
        return {"errors": errors, "message": _("Some fields need a look: see below."), "status_code": 422}
    shown = domain.field_errors(answer.errors)
    return {
        "errors": shown,
        "message": domain.refusal_message(answer.message, shown, fields),
        "unavailable": answer.unavailable,
        "status_code": _status(answer),
    }


def _key(values: dict[str, str]) -> str:
    return valid_key(values.get("form_key")) or new_form_key()


def _customer_path(customer_id: str) -> str:
    return f"/reception/customers/{segment(customer_id)}"


async def _file(runtime: ConsoleRuntime, session: dict[str, Any], customer_id: str) -> Answer:
    return await call(runtime, session, "intake", "GET", f"/customers/{segment(customer_id)}/file")


# --- finding the customer --------------------------------------------------------------


async def _find(runtime: ConsoleRuntime, session: dict[str, Any], query: str) -> tuple[Answer, list[dict[str, Any]]]:
    """Customers by part of the name (intake's filter) or, for a phone number, by a contact's phone."""
    if not domain.is_phone_query(query):
        answer = await call(
            runtime, session, "intake", "GET", "/customers", params={"name": query, "limit": SEARCH_PAGE}
        )
        return answer, (answer.data.get("items") or []) if answer.ok else []
    found: list[dict[str, Any]] = []
    answer = Answer("intake", 0)
    for index in range(PHONE_SCAN_PAGES):
        answer = await call(
            runtime,
            session,
            "intake",
            "GET",
            "/customers",
            params={"limit": PHONE_SCAN_PAGE, "offset": index * PHONE_SCAN_PAGE},
        )
        if not answer.ok:
            return answer, []
        items = answer.data.get("items") or []
        found += domain.customers_with_phone(items, query)
        if (index + 1) * PHONE_SCAN_PAGE >= int(answer.data.get("total") or 0):
            break
    return answer, found[:SEARCH_PAGE]


@get("/reception", **pages(*FRONT_DESK))
async def take_a_call(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], q: FromQuery[str | None] = None
) -> Response[str]:
    """Take a call: find the customer by name or phone, or open a new customer file."""
    session = session_of(request)
    query = (q or "").strip()[:200]
    answer, customers = await _find(runtime, session, query) if query else (None, [])
    return page(
        "reception_search.html",
        session=session,
        current_path="/reception",
        query=query,
        answer=answer,
        customers=customers,
    )


# --- a new customer, site and unit -------------------------------------------------------


def _new_customer_page(
    session: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    unavailable: bool = False,
    status_code: int = 200,
) -> Response[str]:
    values = values or {}
    return page(
        "reception_customer_new.html",
        status_code=status_code,
        session=session,
        current_path="/reception",
        form_key=_key(values),
        values=values,
        errors=errors or {},
        message=message,
        unavailable=unavailable,
        notification_channels=labelled(domain.NOTIFICATION_CHANNELS),
    )


@get("/reception/customers/new", **pages(*FRONT_DESK))
async def new_customer(request: Request[Any, Any, Any], name: FromQuery[str | None] = None) -> Response[str]:
    """A new customer file: the organisation and its main contact."""
    values = {"name": name.strip()[:200]} if name and not domain.is_phone_query(name) else {}
    if name and domain.is_phone_query(name):
        values["contacts.0.phone"] = name.strip()[:40]
    return _new_customer_page(session_of(request), values=values)


@post("/reception/customers", **pages(*FRONT_DESK))
async def open_customer(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[Any]:
    """POST /customers; then on to the customer's first site."""
    session = session_of(request)
    values = await form_values(request)

    async def act() -> tuple[Answer, str | None]:
        answer = await call(runtime, session, "intake", "POST", "/customers", json=domain.customer_body(values))
        where = f"{_customer_path(answer.data['customer_id'])}/sites/new" if answer.ok else None
        return answer, where

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or "/reception", status_code=303)
    return _new_customer_page(session, values=values, **_refused(outcome.answer, {}, domain.CUSTOMER_FIELDS))


async def _customer_form(
    runtime: ConsoleRuntime,
    session: dict[str, Any],
    template: str,
    customer_id: str,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str | None = None,
    unavailable: bool = False,
    status_code: int = 200,
    file: Answer | None = None,
    **context: Any,
) -> Response[str]:
    """One of the forms about a customer on file (site, unit, call), with the customer's file."""
    file = file or await _file(runtime, session, customer_id)
    if not file.ok and status_code == 200:
        status_code = 404 if file.status == 404 else (503 if file.unavailable else file.status)
    return page(
        template,
        status_code=status_code,
        session=session,
        current_path="/reception",
        customer_id=customer_id,
        file=file,
        customer=file.data if file.ok else None,
        form_key=_key(values),
        values=values,
        errors=errors or {},
        message=message,
        unavailable=unavailable,
        **context,
    )


@get("/reception/customers/{customer_id:str}/sites/new", **pages(*FRONT_DESK))
async def new_site(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], customer_id: FromPath[str]
) -> Response[str]:
    """A site of the customer, where its compressors are installed."""
    return await _customer_form(
        runtime, session_of(request), "reception_site_new.html", customer_id, values={"country": "MY"}
    )


@post("/reception/customers/{customer_id:str}/sites", **pages(*FRONT_DESK))
async def add_site(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], customer_id: FromPath[str]
) -> Response[Any]:
    """POST /customers/{id}/sites; then on to a unit at that site."""
    session = session_of(request)
    values = await form_values(request)
    here = _customer_path(customer_id)

    async def act() -> tuple[Answer, str | None]:
        answer = await call(
            runtime,
            session,
            "intake",
            "POST",
            f"/customers/{segment(customer_id)}/sites",
            json=domain.site_body(values),
        )
        where = f"{here}/equipment/new?site_id={segment(answer.data['site_id'])}" if answer.ok else None
        return answer, where

    outcome = await once(runtime, session, values.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or here, status_code=303)
    return await _customer_form(
        runtime,
        session,
        "reception_site_new.html",
        customer_id,
        values=values,
        **_refused(outcome.answer, {}, domain.SITE_FIELDS),
    )


async def _models(runtime: ConsoleRuntime, session: dict[str, Any]) -> Answer:
    return await call(runtime, session, "intake", "GET", "/catalogue/models", params={"limit": MODELS_PAGE})


def _model_groups(models: Answer) -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for model in (models.data.get("items") or []) if models.ok else []:
        groups.setdefault(model["brand"], []).append(
            (model["model_code"], f"{model['model']} ({model['model_code']}, {model['power_kw']:g} kW)")
        )
    return sorted((brand, sorted(items, key=lambda item: item[1])) for brand, items in groups.items())


@get("/reception/customers/{customer_id:str}/equipment/new", **pages(*FRONT_DESK))
async def new_equipment(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    customer_id: FromPath[str],
    site_id: FromQuery[str | None] = None,
) -> Response[str]:
    """A compressor on the customer's file, at one of its sites; models from the catalogue."""
    session = session_of(request)
    file = await _file(runtime, session, customer_id)
    sites = (file.data.get("sites") or []) if file.ok else []
    if not site_id and len(sites) == 1:
        site_id = sites[0]["site_id"]
    return await _customer_form(
        runtime,
        session,
        "reception_equipment_new.html",
        customer_id,
        file=file,
        values={"site_id": site_id or ""},
        model_groups=_model_groups(await _models(runtime, session)),
        today=domain.today(),
    )


@post("/reception/customers/{customer_id:str}/equipment", **pages(*FRONT_DESK))
async def add_equipment(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], customer_id: FromPath[str]
) -> Response[Any]:
    """POST /customers/{id}/equipment; then on to the call about that unit."""
    session = session_of(request)
    values = await form_values(request)
    here = _customer_path(customer_id)
    body, errors = domain.equipment_body(values)

    async def act() -> tuple[Answer, str | None]:
        answer = await call(
            runtime, session, "intake", "POST", f"/customers/{segment(customer_id)}/equipment", json=body
        )
        where = f"{here}/call?equipment_id={segment(answer.data['equipment_id'])}" if answer.ok else None
        return answer, where

    if not errors:
        outcome = await once(runtime, session, values.get("form_key"), act)
        if outcome.answer is None or outcome.answer.ok:
            return Redirect(outcome.redirect or here, status_code=303)
        answer: Answer | None = outcome.answer
    else:
        answer = None
    return await _customer_form(
        runtime,
        session,
        "reception_equipment_new.html",
        customer_id,
        values=values,
        **_refused(answer, errors, domain.EQUIPMENT_FIELDS),
        model_groups=_model_groups(await _models(runtime, session)),
        today=domain.today(),
    )


# --- the call -----------------------------------------------------------------------------


def _call_context() -> dict[str, Any]:
    return {
        "priorities": [(p, priority_name(p)) for p in domain.PRIORITIES],
        "channels": labelled(domain.CHANNELS),
        "unit_choices": domain.unit_choices,
    }


@get("/reception/customers/{customer_id:str}/call", **pages(*FRONT_DESK))
async def call_form(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    customer_id: FromPath[str],
    equipment_id: FromQuery[str | None] = None,
) -> Response[str]:
    """The call's form for a customer on file: which unit, the fault, priority and channel."""
    session = session_of(request)
    file = await _file(runtime, session, customer_id)
    if not equipment_id and file.ok:
        equipment_id = domain.only_unit(file.data)
    values = {"channel": "phone", "priority": "normal", "equipment_id": equipment_id or ""}
    return await _customer_form(
        runtime, session, "reception_call.html", customer_id, values=values, file=file, **_call_context()
    )


@post("/reception/customers/{customer_id:str}/call", **pages(*FRONT_DESK))
async def record_request(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], customer_id: FromPath[str]
) -> Response[Any]:
    """POST /requests with the form's key as Idempotency-Key; then the new job's page."""
    session = session_of(request)
    values = await form_values(request)
    file = await _file(runtime, session, customer_id)
    if not file.ok:
        return await _customer_form(
            runtime, session, "reception_call.html", customer_id, values=values, file=file, **_call_context()
        )
    body, errors = domain.request_body(values, customer_id, file.data)
    answer: Answer | None = None
    if not errors:

        async def act() -> tuple[Answer, str | None]:
            sent = await call(
                runtime,
                session,
                "intake",
                "POST",
                "/requests",
                json=body,
                idempotency_key=valid_key(values.get("form_key")),
            )
            return sent, f"/jobs/{segment(sent.data['job_id'])}" if sent.ok else None

        outcome = await once(runtime, session, values.get("form_key"), act)
        if outcome.answer is None or outcome.answer.ok:
            return Redirect(outcome.redirect or _customer_path(customer_id), status_code=303)
        answer = outcome.answer
    return await _customer_form(
        runtime,
        session,
        "reception_call.html",
        customer_id,
        values=values,
        file=file,
        **_refused(answer, errors, domain.CALL_FIELDS),
        **_call_context(),
    )


# --- the customer file ----------------------------------------------------------------------


@get("/reception/customers/{customer_id:str}", **pages(*FRONT_DESK))
async def customer_file(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], customer_id: FromPath[str]
) -> Response[str]:
    """The customer's file: contacts, sites and their units (next service due, service history,
    follow-up visits) and open jobs."""
    session = session_of(request)
    file = await _file(runtime, session, customer_id)
    status_code = 200 if file.ok else (404 if file.status == 404 else (503 if file.unavailable else file.status))
    return page(
        "reception_customer.html",
        status_code=status_code,
        session=session,
        current_path="/reception",
        customer_id=customer_id,
        file=file,
        customer=file.data if file.ok else None,
        today=domain.today(),
    )


# --- call-backs -------------------------------------------------------------------------------


async def _customer_names(runtime: ConsoleRuntime, session: dict[str, Any], ids: list[str]) -> dict[str, str]:
    answers = await asyncio.gather(*(call(runtime, session, "intake", "GET", f"/customers/{segment(i)}") for i in ids))
    return {i: a.data["name"] for i, a in zip(ids, answers, strict=True) if a.ok}


async def _callbacks_page(
    runtime: ConsoleRuntime,
    session: dict[str, Any],
    *,
    customer_id: str | None,
    query: str,
    outcome_filter: str | None,
    recorded: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    unavailable: bool = False,
    status_code: int = 200,
) -> Response[str]:
    if outcome_filter not in dict(domain.OUTCOMES):
        outcome_filter = None
    listing = await call(
        runtime, session, "intake", "GET", "/callbacks", params={"outcome": outcome_filter, "limit": 50}
    )
    items = (listing.data.get("items") or []) if listing.ok else []
    ids = sorted({item["customer_id"] for item in items} | ({customer_id} if customer_id else set()))
    names = await _customer_names(runtime, session, ids)
    file = await _file(runtime, session, customer_id) if customer_id else None
    found, customers = await _find(runtime, session, query) if query and not customer_id else (None, [])
    values = values or {}
    if file is not None and file.ok and not values.get("equipment_id"):
        values["equipment_id"] = domain.only_unit(file.data) or ""
    return page(
        "reception_callbacks.html",
        status_code=status_code,
        session=session,
        current_path="/reception/callbacks",
        listing=listing,
        callbacks=items,
        total=(listing.data.get("total") or 0) if listing.ok else 0,
        names=names,
        outcome_filter=outcome_filter,
        recorded=recorded,
        customer_id=customer_id,
        file=file,
        customer=file.data if file and file.ok else None,
        query=query,
        found=found,
        customers=customers,
        form_key=_key(values),
        values=values,
        errors=errors or {},
        message=message,
        unavailable=unavailable,
        outcomes=labelled(domain.OUTCOMES),
        priorities=[(p, p.capitalize()) for p in domain.PRIORITIES],
        unit_choices=domain.unit_choices,
        jobs_on_file=domain.jobs_on_file,
    )


@get("/reception/callbacks", **pages(*FRONT_DESK))
async def callbacks(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    customer_id: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    outcome: FromQuery[str | None] = None,
    recorded: FromQuery[str | None] = None,
) -> Response[str]:
    """Call-back records, newest first, and the form to record one (for a customer found by name or
    phone); a call-back reporting a problem raises a request."""
    return await _callbacks_page(
        runtime,
        session_of(request),
        customer_id=customer_id or None,
        query=(q or "").strip()[:200],
        outcome_filter=outcome,
        recorded=(recorded or "")[:64] or None,
        values={"outcome": "satisfied"},
    )


@post("/reception/callbacks", **pages(*FRONT_DESK))
async def record_callback(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[Any]:
    """POST /callbacks with the form's key as Idempotency-Key; a raised request opens its job's page."""
    session = session_of(request)
    values = await form_values(request)
    customer_id = (values.get("customer_id") or "").strip()
    file = await _file(runtime, session, customer_id) if customer_id else None
    answer: Answer | None = None
    if file is None or not file.ok:
        errors = {"customer_id": _("pick the customer first")} if file is None else {}
        answer = file
    else:
        body, errors = domain.callback_body(values, customer_id, file.data)
        if not errors:

            async def act() -> tuple[Answer, str | None]:
                sent = await call(
                    runtime,
                    session,
                    "intake",
                    "POST",
                    "/callbacks",
                    json=body,
                    idempotency_key=valid_key(values.get("form_key")),
                )
                if not sent.ok:
                    return sent, None
                if sent.data.get("job_id"):
                    return sent, f"/jobs/{segment(sent.data['job_id'])}"
                return sent, f"/reception/callbacks?recorded={segment(sent.data['callback_id'])}"

            outcome = await once(runtime, session, values.get("form_key"), act)
            if outcome.answer is None or outcome.answer.ok:
                return Redirect(outcome.redirect or "/reception/callbacks", status_code=303)
            answer = outcome.answer
    return await _callbacks_page(
        runtime,
        session,
        customer_id=customer_id or None,
        query="",
        outcome_filter=None,
        values=values,
        **_refused(answer, errors, domain.CALLBACK_FIELDS),
    )


ROUTES: list[Any] = [
    take_a_call,
    new_customer,
    open_customer,
    new_site,
    add_site,
    new_equipment,
    add_equipment,
    call_form,
    record_request,
    customer_file,
    callbacks,
    record_callback,
]
