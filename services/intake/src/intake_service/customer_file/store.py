"""The customer file in MongoDB: customers, sites, equipment, each unit's service history and the
follow-up visits reviews planned."""

from __future__ import annotations

import re
from datetime import date, timedelta

from pymongo import ASCENDING, DESCENDING, IndexModel

from compressor_kit.outbox import UnitOfWork
from intake_service.customer_file.domain import CustomerOnFile, FollowUpVisit, HistoryEntry, SiteOnFile, UnitOnFile
from intake_service.documents import Document, bson_value, from_document, to_document
from intake_service.settings import IntakeRuntime

CUSTOMERS, SITES, EQUIPMENT, HISTORY = "customers", "sites", "equipment", "service_history"
FOLLOW_UP_VISITS = "follow_up_visits"

INDEXES = {
    CUSTOMERS: [IndexModel([("name_folded", ASCENDING)], name="by_name")],
    SITES: [IndexModel([("customer_id", ASCENDING), ("name", ASCENDING)], name="by_customer")],
    EQUIPMENT: [
        # A serial number names one unit of a brand: the same unit cannot be on file twice.
        IndexModel([("brand", ASCENDING), ("serial_number", ASCENDING)], name="one_unit_per_serial", unique=True),
        IndexModel([("customer_id", ASCENDING), ("site_id", ASCENDING)], name="by_customer_site"),
        IndexModel([("next_service_due_on", ASCENDING)], name="by_due_date"),
        # A label names one unit; units filed before labels get theirs at start-up (labels.store).
        IndexModel(
            [("label_id", ASCENDING)],
            name="one_unit_per_label",
            unique=True,
            partialFilterExpression={"label_id": {"$type": "string"}},
        ),
    ],
    HISTORY: [
        # One entry per job, whatever redelivers job.closed.
        IndexModel([("job_id", ASCENDING)], name="one_entry_per_job", unique=True),
        IndexModel([("equipment_id", ASCENDING), ("service_date", DESCENDING)], name="by_equipment"),
        # The customer file reads a customer's history newest first (whole_file); without it, every
        # entry of every customer ever closed is scanned.
        IndexModel([("customer_id", ASCENDING), ("service_date", DESCENDING), ("_id", ASCENDING)], name="by_customer"),
    ],
    FOLLOW_UP_VISITS: [
        IndexModel([("due_on", ASCENDING)], name="by_due_date"),
        IndexModel([("customer_id", ASCENDING)], name="by_customer"),
    ],
}

Source = IntakeRuntime | UnitOfWork
"""Read outside a transaction (the runtime) or inside one (its unit of work)."""


async def _find_one(source: Source, collection: str, query: Document) -> Document | None:
    session = source.session if isinstance(source, UnitOfWork) else None
    return await source.db[collection].find_one(query, session=session)


async def _page(
    runtime: IntakeRuntime, collection: str, query: Document, sort: list[tuple[str, int]], limit: int, offset: int
) -> tuple[list[Document], int]:
    items = await runtime.db[collection].find(query).sort(sort).skip(offset).limit(limit).to_list()
    return items, await runtime.db[collection].count_documents(query)


# --- customers ----------------------------------------------------------------------


async def load_customer(source: Source, customer_id: str) -> CustomerOnFile | None:
    doc = await _find_one(source, CUSTOMERS, {"_id": customer_id})
    return from_document(CustomerOnFile, doc, "customer_id") if doc else None


async def insert_customer(runtime: IntakeRuntime, customer: CustomerOnFile) -> None:
    doc = to_document(customer, "customer_id", name_folded=customer.name.casefold())
    await runtime.db[CUSTOMERS].insert_one(doc)


async def save_contacts(runtime: IntakeRuntime, before: CustomerOnFile, after: CustomerOnFile) -> CustomerOnFile | None:
    """Store the contacts of `after` unless the file's contacts changed in number or names since `before`
    was read (then None): a contact added or replaced meanwhile is not overwritten."""
    unchanged = {f"contacts.{index}.name": contact.name for index, contact in enumerate(before.contacts)}
    updated = await runtime.db[CUSTOMERS].find_one_and_update(
        {"_id": before.customer_id, "contacts": {"$size": len(before.contacts)}, **unchanged},
        {"$set": {"contacts": [bson_value(contact.model_dump()) for contact in after.contacts]}},
        return_document=True,
    )
    return from_document(CustomerOnFile, updated, "customer_id") if updated else None


async def customers_named(
    runtime: IntakeRuntime, name: str | None, limit: int, offset: int
) -> tuple[list[CustomerOnFile], int]:
    """Customers whose name holds `name` (any case, matched as text), by name."""
    query = {"name_folded": {"$regex": re.escape(name.casefold())}} if name else {}
    docs, total = await _page(runtime, CUSTOMERS, query, [("name_folded", 1), ("_id", 1)], limit, offset)
    return [from_document(CustomerOnFile, d, "customer_id") for d in docs], total


# --- sites --------------------------------------------------------------------------


async def load_site(source: Source, site_id: str) -> SiteOnFile | None:
    doc = await _find_one(source, SITES, {"_id": site_id})
    return from_document(SiteOnFile, doc, "site_id") if doc else None


async def insert_site(runtime: IntakeRuntime, site: SiteOnFile) -> None:
    await runtime.db[SITES].insert_one(to_document(site, "site_id"))


async def sites_of(runtime: IntakeRuntime, customer_id: str, limit: int, offset: int) -> tuple[list[SiteOnFile], int]:
    docs, total = await _page(runtime, SITES, {"customer_id": customer_id}, [("name", 1)], limit, offset)
    return [from_document(SiteOnFile, d, "site_id") for d in docs], total


# --- equipment ------------------------------------------------------------------------


def _unit(doc: Document) -> UnitOnFile:
    return from_document(UnitOnFile, doc, "equipment_id")


async def load_unit(source: Source, equipment_id: str) -> UnitOnFile | None:
    doc = await _find_one(source, EQUIPMENT, {"_id": equipment_id})
    return _unit(doc) if doc else None


async def unit_with_serial(runtime: IntakeRuntime, brand: str, serial_number: str) -> UnitOnFile | None:
    doc = await _find_one(runtime, EQUIPMENT, {"brand": brand, "serial_number": serial_number})
    return _unit(doc) if doc else None


async def insert_unit(target: Source, unit: UnitOnFile) -> None:
    """Raises DuplicateKeyError when a unit of the brand with this serial number is on file."""
    session = target.session if isinstance(target, UnitOfWork) else None
    await target.db[EQUIPMENT].insert_one(to_document(unit, "equipment_id"), session=session)


async def units(
    runtime: IntakeRuntime,
    *,
    customer_id: str | None,
    site_id: str | None,
    model_code: str | None,
    due_before: date | None,
    limit: int,
    offset: int,
) -> tuple[list[UnitOnFile], int]:
    """Units by next service due (earliest first), filtered by what is given."""
    query: Document = {
        k: v for k, v in (("customer_id", customer_id), ("site_id", site_id), ("model_code", model_code)) if v
    }
    if due_before:
        query["next_service_due_on"] = {"$lte": due_before.isoformat()}
    docs, total = await _page(runtime, EQUIPMENT, query, [("next_service_due_on", 1), ("_id", 1)], limit, offset)
    return [_unit(d) for d in docs], total


async def save_meter_reading(runtime: IntakeRuntime, unit: UnitOnFile) -> UnitOnFile | None:
    """Store the unit's new hour-meter reading unless a higher one was stored meanwhile (then None)."""
    hours = unit.running_hours
    updated = await runtime.db[EQUIPMENT].find_one_and_update(
        {"_id": unit.equipment_id, "$or": [{"running_hours": None}, {"running_hours": {"$lte": hours}}]},
        {"$set": {"running_hours": hours}},
        return_document=True,
    )
    return _unit(updated) if updated else None


async def save_unit(uow: UnitOfWork, unit: UnitOnFile) -> None:
    await uow.db[EQUIPMENT].replace_one(
        {"_id": unit.equipment_id}, to_document(unit, "equipment_id"), session=uow.session
    )


async def units_due(runtime: IntakeRuntime, today: date, lead_days: int) -> list[UnitOnFile]:
    """Units due by the calendar (within the lead time) or by their hour meter."""
    query = {
        "$or": [
            {"next_service_due_on": {"$lte": (today + timedelta(days=lead_days)).isoformat()}},
            {
                "$expr": {
                    "$and": [
                        # Numbers sort after null in BSON: these guard against unknown hours.
                        {"$gt": ["$running_hours", None]},
                        {"$gt": ["$next_service_due_at_hours", None]},
                        {"$gte": ["$running_hours", "$next_service_due_at_hours"]},
                    ]
                }
            },
        ]
    }
    return [_unit(d) async for d in runtime.db[EQUIPMENT].find(query)]


# --- history and follow-up visits -------------------------------------------------------


async def history_of_unit(runtime: IntakeRuntime, equipment_id: str) -> list[HistoryEntry]:
    """A unit's service history, newest first."""
    docs = await runtime.db[HISTORY].find({"equipment_id": equipment_id}).sort("service_date", -1).to_list()
    return [from_document(HistoryEntry, d, "history_entry_id") for d in docs]


async def is_in_history(uow: UnitOfWork, job_id: str) -> bool:
    return await uow.db[HISTORY].find_one({"job_id": job_id}, {"_id": 1}, session=uow.session) is not None


async def insert_history_entry(uow: UnitOfWork, entry: HistoryEntry) -> None:
    await uow.db[HISTORY].insert_one(to_document(entry, "history_entry_id"), session=uow.session)


async def insert_follow_up_visits(uow: UnitOfWork, visits: list[FollowUpVisit]) -> None:
    if visits:
        await uow.db[FOLLOW_UP_VISITS].insert_many(
            [to_document(v, "follow_up_id") for v in visits], session=uow.session
        )


async def follow_up_visits_due(runtime: IntakeRuntime, today: date, lead_days: int) -> list[FollowUpVisit]:
    """Planned follow-up visits within the lead time that no request was raised for yet."""
    query = {"due_on": {"$lte": (today + timedelta(days=lead_days)).isoformat()}, "job_id": None}
    return [from_document(FollowUpVisit, d, "follow_up_id") async for d in runtime.db[FOLLOW_UP_VISITS].find(query)]


async def mark_visit_raised(uow: UnitOfWork, visit: FollowUpVisit, job_id: str) -> None:
    await uow.db[FOLLOW_UP_VISITS].update_one(
        {"_id": visit.follow_up_id}, {"$set": {"job_id": job_id}}, session=uow.session
    )


# --- the whole file -----------------------------------------------------------------


async def whole_file(
    runtime: IntakeRuntime, customer_id: str
) -> tuple[list[SiteOnFile], list[UnitOnFile], list[HistoryEntry], list[FollowUpVisit]]:
    """(sites by name, units by id, history newest first, follow-up visits by due date) of one customer."""
    db = runtime.db
    sites = await db[SITES].find({"customer_id": customer_id}).sort("name", ASCENDING).to_list()
    equipment = await db[EQUIPMENT].find({"customer_id": customer_id}).sort("_id", ASCENDING).to_list()
    history = (
        await db[HISTORY].find({"customer_id": customer_id}).sort([("service_date", DESCENDING), ("_id", 1)]).to_list()
    )
    visits = await db[FOLLOW_UP_VISITS].find({"customer_id": customer_id}).sort("due_on", ASCENDING).to_list()
    return (
        [from_document(SiteOnFile, d, "site_id") for d in sites],
        [_unit(d) for d in equipment],
        [from_document(HistoryEntry, d, "history_entry_id") for d in history],
        [from_document(FollowUpVisit, d, "follow_up_id") for d in visits],
    )
