"""The customer file in MongoDB: customers, sites, equipment and each unit's service history."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

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
    ],
    HISTORY: [
        # One entry per job, whatever redelivers job.closed.
        IndexModel([("job_id", ASCENDING)], name="one_entry_per_job", unique=True),
        IndexModel([("equipment_id", ASCENDING), ("service_date", DESCENDING)], name="by_equipment"),
    ],
    FOLLOW_UP_VISITS: [
        IndexModel([("due_on", ASCENDING)], name="by_due_date"),
        IndexModel([("customer_id", ASCENDING)], name="by_customer"),
    ],
}

Doc = dict[str, Any]


async def find_one(
    db: AsyncDatabase, collection: str, _id: str, session: AsyncClientSession | None = None
) -> Doc | None:
    return await db[collection].find_one({"_id": _id}, session=session)


async def page(
    db: AsyncDatabase, collection: str, query: Doc, sort: list[tuple[str, int]], limit: int, offset: int
) -> tuple[list[Doc], int]:
    items = await db[collection].find(query).sort(sort).skip(offset).limit(limit).to_list()
    return items, await db[collection].count_documents(query)


async def whole_file(db: AsyncDatabase, customer_id: str) -> tuple[list[Doc], list[Doc], list[Doc], list[Doc]]:
    """(sites, equipment, history, follow-up visits) of one customer."""
    sites = await db[SITES].find({"customer_id": customer_id}).sort("name", ASCENDING).to_list()
    equipment = await db[EQUIPMENT].find({"customer_id": customer_id}).sort("_id", ASCENDING).to_list()
    history = (
        await db[HISTORY].find({"customer_id": customer_id}).sort([("service_date", DESCENDING), ("_id", 1)]).to_list()
    )
    visits = await db[FOLLOW_UP_VISITS].find({"customer_id": customer_id}).sort("due_on", ASCENDING).to_list()
    return sites, equipment, history, visits
