"""Where timelines live: one document per event (`timeline_events`) and one summary per job (`jobs`)."""

from __future__ import annotations

from typing import Any

import bson
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from compressor_kit.outbox import UnitOfWork
from reporting_service.settings import ReportingRuntime
from reporting_service.timeline.domain import JobFilter

EVENTS = "timeline_events"
JOBS = "jobs"

INDEXES = {
    EVENTS: [IndexModel([("job_id", ASCENDING), ("time", ASCENDING)], name="job_in_time")],
    JOBS: [
        IndexModel([("phase", ASCENDING), ("last_event_at", DESCENDING)], name="by_phase"),
        IndexModel([("status", ASCENDING), ("last_event_at", DESCENDING)], name="by_status"),
        IndexModel([("customer_id", ASCENDING), ("requested_at", DESCENDING)], name="by_customer"),
        IndexModel([("engineer_id", ASCENDING), ("requested_at", DESCENDING)], name="by_engineer"),
        IndexModel([("priority", ASCENDING), ("requested_at", DESCENDING)], name="by_priority"),
        IndexModel([("equipment_id", ASCENDING), ("requested_at", ASCENDING)], name="by_equipment"),
        IndexModel([("requested_at", DESCENDING)], name="by_requested_at"),
    ],
}


async def _entries(
    db: AsyncDatabase[dict[str, Any]],
    job_id: str,
    fields: tuple[str, ...] | None,
    session: AsyncClientSession | None = None,
) -> list[dict[str, Any]]:
    projection = dict.fromkeys(fields, 1) if fields is not None else None
    return [e async for e in db[EVENTS].find({"job_id": job_id}, projection, session=session)]


async def add_entry(uow: UnitOfWork, entry: dict[str, Any]) -> bool:
    """Keep one event in its job's timeline; False when it was there already."""
    entry = dict(entry)
    # An upsert, not an insert: a duplicate key would abort the transaction. A concurrent twin
    # conflicts on the entry and retries.
    added = await uow.db[EVENTS].update_one(
        {"_id": entry.pop("_id")}, {"$setOnInsert": entry}, upsert=True, session=uow.session
    )
    return added.upserted_id is not None


async def entries_in(uow: UnitOfWork, job_id: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Inside a transaction: the job's timeline entries, with only `fields` (and `_id`)."""
    return await _entries(uow.db, job_id, fields, uow.session)


async def entries_of(
    runtime: ReportingRuntime, job_id: str, fields: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """The job's timeline entries, with only `fields` (and `_id`), or whole."""
    return await _entries(runtime.db, job_id, fields)


def as_stored(uow: UnitOfWork, entry: dict[str, Any]) -> dict[str, Any]:
    """`entry` as the database gives it back (times to the millisecond, in UTC): what a summary
    recomputed from the stored entries would see of it."""
    return bson.decode(bson.encode(entry), codec_options=uow.db.codec_options)


async def summary_in(uow: UnitOfWork, job_id: str) -> dict[str, Any] | None:
    return await uow.db[JOBS].find_one({"_id": job_id}, session=uow.session)


async def save_summary(uow: UnitOfWork, summary: dict[str, Any]) -> None:
    await uow.db[JOBS].replace_one({"_id": summary["_id"]}, summary, upsert=True, session=uow.session)


async def update_summary(uow: UnitOfWork, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Write only the fields of the summary that changed (most events change a few)."""
    changed = {name: value for name, value in after.items() if name not in before or before[name] != value}
    if changed:
        await uow.db[JOBS].update_one({"_id": after["_id"]}, {"$set": changed}, session=uow.session)


async def summary_of(runtime: ReportingRuntime, job_id: str) -> dict[str, Any] | None:
    return await runtime.db[JOBS].find_one({"_id": job_id})


async def list_summaries(
    runtime: ReportingRuntime, selection: JobFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of job summaries, most recently requested first, and how many match in all."""
    query: dict[str, Any] = {}
    for name, value in (
        ("phase", selection.phase),
        ("status", selection.status),
        ("customer_id", selection.customer_id),
        ("engineer_id", selection.engineer_id),
        ("priority", selection.priority),
    ):
        if value is not None:
            query[name] = value
    if selection.requested_from or selection.requested_to:
        query["requested_at"] = {
            **({"$gte": selection.requested_from} if selection.requested_from else {}),
            **({"$lt": selection.requested_to} if selection.requested_to else {}),
        }
    total = await runtime.db[JOBS].count_documents(query)
    cursor = runtime.db[JOBS].find(query).sort([("requested_at", -1), ("_id", 1)]).skip(offset).limit(limit)
    return [doc async for doc in cursor], total
