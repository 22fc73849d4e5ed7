"""Labels in MongoDB: a unit's label id lives on its equipment document (unique, `one_unit_per_label`
in customer_file.store); units filed before labels existed get theirs once, at start-up or when their
site's sheet is printed."""

from __future__ import annotations

import logging

from pymongo.errors import DuplicateKeyError

from intake_service.customer_file.domain import UnitOnFile, new_label_id
from intake_service.customer_file.store import EQUIPMENT
from intake_service.documents import from_document
from intake_service.settings import IntakeRuntime

log = logging.getLogger(__name__)

_WITHOUT_LABEL = {"$or": [{"label_id": {"$exists": False}}, {"label_id": None}]}


async def unit_with_label(runtime: IntakeRuntime, label_id: str) -> UnitOnFile | None:
    doc = await runtime.db[EQUIPMENT].find_one({"label_id": label_id})
    return from_document(UnitOnFile, doc, "equipment_id") if doc else None


async def give_label(runtime: IntakeRuntime, equipment_id: str) -> None:
    """A label id for a unit that has none; a unit that has one keeps it (whoever gave it first)."""
    for _ in range(3):
        try:
            await runtime.db[EQUIPMENT].update_one(
                {"_id": equipment_id, **_WITHOUT_LABEL}, {"$set": {"label_id": new_label_id()}}
            )
            return
        except DuplicateKeyError:  # 144 random bits colliding: draw again
            continue


async def units_at_site(runtime: IntakeRuntime, customer_id: str, site_id: str) -> list[UnitOnFile]:
    """The site's units, each with its label id (given now to any that lacked one)."""
    query = {"customer_id": customer_id, "site_id": site_id}
    docs = await runtime.db[EQUIPMENT].find(query).to_list()
    unlabelled = [doc["_id"] for doc in docs if not doc.get("label_id")]
    for equipment_id in unlabelled:
        await give_label(runtime, equipment_id)
    if unlabelled:
        docs = await runtime.db[EQUIPMENT].find(query).to_list()
    return [from_document(UnitOnFile, doc, "equipment_id") for doc in docs]


async def label_every_unit(runtime: IntakeRuntime) -> None:
    """Start-up: every unit filed before labels existed gets its label id (idempotent: a unit that
    has one keeps it; every replica may run it at once)."""
    given = 0
    try:
        async for doc in runtime.db[EQUIPMENT].find(_WITHOUT_LABEL, {"_id": 1}):
            await give_label(runtime, doc["_id"])
            given += 1
    except Exception:  # the sheet of a site gives the missing ones lazily; the service runs on
        log.exception("could not give every unit filed before labels its label id")
    if given:
        log.info("gave %d units filed before labels their label id", given)
