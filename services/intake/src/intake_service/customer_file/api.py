"""HTTP API of the customer file: customers, their sites and equipment, and the whole file at once."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from pymongo.errors import DuplicateKeyError

from compressor_kit.auth import Role, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from intake_service.actors import ALL_PEOPLE, FRONT_DESK, STAFF, ensure_may_see_customer
from intake_service.catalogue.store import catalogue
from intake_service.customer_file import domain
from intake_service.customer_file.domain import CustomerIn, EquipmentIn, MeterReadingIn, SiteIn
from intake_service.customer_file.store import CUSTOMERS, EQUIPMENT, HISTORY, SITES, find_one, page, whole_file
from intake_service.ids import new_id
from intake_service.requests.domain import job_view
from intake_service.requests.store import JOBS, open_jobs_query
from intake_service.validation import FieldError, refuse_if_any

Doc = dict[str, Any]


def _with_id(doc: Doc, name: str) -> Doc:
    """A stored document as the API shows it: its id under its name, internal fields left out."""
    return {name: doc["_id"], **{k: v for k, v in doc.items() if k not in ("_id", "name_folded")}}


async def _customer(runtime: Runtime, request: Request, customer_id: str) -> Doc:
    ensure_may_see_customer(principal_of(request), customer_id)
    customer = await find_one(runtime.db, CUSTOMERS, customer_id)
    if customer is None:
        raise Problem(404, "unknown customer", field="customer_id")
    return customer


# --- customers ------------------------------------------------------------------


@post("/customers", **requires(*FRONT_DESK), operation_id="createCustomer")
async def create_customer(runtime: NamedDependency[Runtime], data: JSONBody[CustomerIn]) -> Doc:
    """Open a customer file; the first contact is the main one. 201 with the customer."""
    contacts, errors = domain.check_customer(data)
    refuse_if_any(errors)
    customer = {
        "_id": new_id("CUST"),
        "name": data.name,
        "name_folded": data.name.casefold(),
        "contacts": [c.model_dump(mode="json") for c in contacts],
        "created_at": runtime.clock.now(),
    }
    await runtime.db[CUSTOMERS].insert_one(customer)
    return _with_id(customer, "customer_id")


@get("/customers", **requires(*STAFF), operation_id="listCustomers")
async def list_customers(
    runtime: NamedDependency[Runtime],
    name: Annotated[str | None, Parameter(max_length=200, description="Part of the name, any case.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Doc]:
    query = {"name_folded": {"$regex": re.escape(name.casefold())}} if name else {}
    items, total = await page(runtime.db, CUSTOMERS, query, [("name_folded", 1), ("_id", 1)], limit, offset)
    return Page(items=[_with_id(c, "customer_id") for c in items], total=total, limit=limit, offset=offset)


@get("/customers/{customer_id:str}", **requires(*ALL_PEOPLE), operation_id="getCustomer")
async def get_customer(request: Request, runtime: NamedDependency[Runtime], customer_id: FromPath[str]) -> Doc:
    return _with_id(await _customer(runtime, request, customer_id), "customer_id")


# --- sites --------------------------------------------------------------------------


@post("/customers/{customer_id:str}/sites", **requires(*FRONT_DESK), operation_id="createSite")
async def create_site(
    request: Request, runtime: NamedDependency[Runtime], customer_id: FromPath[str], data: JSONBody[SiteIn]
) -> Doc:
    await _customer(runtime, request, customer_id)
    refuse_if_any(domain.check_site(data))
    site = {"_id": new_id("SITE"), "customer_id": customer_id, **data.model_dump()}
    await runtime.db[SITES].insert_one(site)
    return _with_id(site, "site_id")


@get("/customers/{customer_id:str}/sites", **requires(*ALL_PEOPLE), operation_id="listSites")
async def list_sites(
    request: Request,
    runtime: NamedDependency[Runtime],
    customer_id: FromPath[str],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Doc]:
    await _customer(runtime, request, customer_id)
    items, total = await page(runtime.db, SITES, {"customer_id": customer_id}, [("name", 1)], limit, offset)
    return Page(items=[_with_id(s, "site_id") for s in items], total=total, limit=limit, offset=offset)


# --- equipment ------------------------------------------------------------------------


@post("/customers/{customer_id:str}/equipment", **requires(*FRONT_DESK), operation_id="registerEquipment")
async def register_equipment(
    request: Request, runtime: NamedDependency[Runtime], customer_id: FromPath[str], data: JSONBody[EquipmentIn]
) -> Doc:
    """Put a compressor on the customer's file at one of its sites; the next service due follows
    from the model's interval."""
    await _customer(runtime, request, customer_id)
    model = catalogue().get(data.model_code)
    errors = domain.check_equipment(data, model, runtime.clock.now().date())
    site = await find_one(runtime.db, SITES, data.site_id)
    if site is None or site["customer_id"] != customer_id:
        errors.insert(0, FieldError("site_id", "unknown site of this customer"))
    refuse_if_any(errors)
    equipment = domain.new_equipment_document(
        new_id("EQ"),
        customer_id,
        data.site_id,
        model,
        serial_number=data.serial_number,
        purchase_date=data.purchase_date,
        warranty_end=data.warranty_end,
        running_hours=data.running_hours,
        last_service_on=data.last_service_on,
        last_service_hours=data.last_service_hours,
        dryer_fitted=data.dryer_fitted,
    )
    try:
        await runtime.db[EQUIPMENT].insert_one(equipment)
    except DuplicateKeyError:
        raise Problem(409, f"a {model.brand} unit with this serial number is on file", field="serial_number") from None
    return _with_id(equipment, "equipment_id")


@get("/equipment", **requires(*STAFF), operation_id="listEquipment")
async def list_equipment(
    runtime: NamedDependency[Runtime],
    customer_id: FromQuery[str | None] = None,
    site_id: FromQuery[str | None] = None,
    model_code: FromQuery[str | None] = None,
    due_before: Annotated[date | None, Parameter(description="Next service due on or before this date.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Doc]:
    query: Doc = {
        k: v for k, v in (("customer_id", customer_id), ("site_id", site_id), ("model_code", model_code)) if v
    }
    if due_before:
        query["next_service_due_on"] = {"$lte": due_before.isoformat()}
    items, total = await page(runtime.db, EQUIPMENT, query, [("next_service_due_on", 1), ("_id", 1)], limit, offset)
    return Page(items=[_with_id(e, "equipment_id") for e in items], total=total, limit=limit, offset=offset)


async def _equipment(request: Request, runtime: Runtime, equipment_id: str) -> Doc:
    equipment = await find_one(runtime.db, EQUIPMENT, equipment_id)
    if equipment is None:
        raise Problem(404, "unknown equipment", field="equipment_id")
    ensure_may_see_customer(principal_of(request), equipment["customer_id"])
    return equipment


@get("/equipment/{equipment_id:str}", **requires(*ALL_PEOPLE), operation_id="getEquipment")
async def get_equipment(request: Request, runtime: NamedDependency[Runtime], equipment_id: FromPath[str]) -> Doc:
    """One unit with its service history, newest first."""
    equipment = await _equipment(request, runtime, equipment_id)
    history = await runtime.db[HISTORY].find({"equipment_id": equipment_id}).sort("service_date", -1).to_list()
    return {**_with_id(equipment, "equipment_id"), "history": [_with_id(h, "history_entry_id") for h in history]}


@post(
    "/equipment/{equipment_id:str}/meter-readings",
    **requires(Role.CUSTOMER, Role.ENGINEER, *FRONT_DESK),
    operation_id="recordMeterReading",
    status_code=200,
)
async def record_meter_reading(
    request: Request, runtime: NamedDependency[Runtime], equipment_id: FromPath[str], data: JSONBody[MeterReadingIn]
) -> Doc:
    """Record the hour meter; the proactive scheduler raises a request once the hours are due."""
    equipment = await _equipment(request, runtime, equipment_id)
    if not 0 <= data.running_hours <= domain.MAX_RUNNING_HOURS:
        refuse_if_any([FieldError("running_hours", f"between 0 and {domain.MAX_RUNNING_HOURS}")])
    if data.running_hours < (equipment.get("running_hours") or 0):
        refuse_if_any([FieldError("running_hours", "an hour meter does not run backwards")])
    # Conditional: a concurrent higher reading is never overwritten by a lower one.
    updated = await runtime.db[EQUIPMENT].find_one_and_update(
        {"_id": equipment_id, "$or": [{"running_hours": None}, {"running_hours": {"$lte": data.running_hours}}]},
        {"$set": {"running_hours": data.running_hours}},
        return_document=True,
    )
    if updated is None:
        raise Problem(409, "a higher reading was recorded meanwhile", field="running_hours")
    return _with_id(updated, "equipment_id")


# --- the whole file -----------------------------------------------------------------


@get("/customers/{customer_id:str}/file", **requires(*ALL_PEOPLE), operation_id="getCustomerFile")
async def get_customer_file(request: Request, runtime: NamedDependency[Runtime], customer_id: FromPath[str]) -> Doc:
    """A customer's whole file: sites with their equipment, each unit's service history and planned
    follow-up visits, and the customer's open jobs."""
    customer = await _customer(runtime, request, customer_id)
    sites, equipment, history, visits = await whole_file(runtime.db, customer_id)
    jobs = await runtime.db[JOBS].find(open_jobs_query(customer_id=customer_id)).sort("requested_at", 1).to_list()
    history_by_unit: dict[str, list[Doc]] = {}
    for entry in history:
        history_by_unit.setdefault(entry["equipment_id"], []).append(_with_id(entry, "history_entry_id"))
    visits_by_unit: dict[str, list[Doc]] = {}
    for visit in visits:
        visits_by_unit.setdefault(visit["equipment_id"], []).append(_with_id(visit, "follow_up_id"))
    units_by_site: dict[str, list[Doc]] = {}
    for unit in equipment:
        view = {
            **_with_id(unit, "equipment_id"),
            "history": history_by_unit.get(unit["_id"], []),
            "follow_up_visits": visits_by_unit.get(unit["_id"], []),
        }
        units_by_site.setdefault(unit["site_id"], []).append(view)
    now = runtime.clock.now()
    return {
        **_with_id(customer, "customer_id"),
        "sites": [{**_with_id(site, "site_id"), "equipment": units_by_site.get(site["_id"], [])} for site in sites],
        "open_jobs": [job_view(job, now) for job in jobs],
    }


ROUTES = [
    create_customer,
    list_customers,
    get_customer,
    create_site,
    list_sites,
    register_equipment,
    list_equipment,
    get_equipment,
    record_meter_reading,
    get_customer_file,
]
