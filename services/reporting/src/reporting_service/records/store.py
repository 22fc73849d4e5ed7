"""Where records live: every record version (`records`, one document per version, a published
version never changes) and the stubs of archived records (`archived_records`). The job's events
the record is built from are its timeline (`timeline/store.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from reporting_service.records import domain
from reporting_service.records.domain import ABANDONED, PENDING, PUBLISHED, version_id
from reporting_service.settings import ReportingRuntime

RECORDS = "records"
ARCHIVED = "archived_records"
REPORTS_BUCKET = "reports"

INDEXES = {
    RECORDS: [
        IndexModel([("record_id", ASCENDING), ("version", ASCENDING)], name="one_per_version", unique=True),
        IndexModel([("job_id", ASCENDING), ("version", DESCENDING)], name="by_job"),
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="by_status"),
        IndexModel([("published_at", ASCENDING)], name="by_published_at"),
    ],
    ARCHIVED: [IndexModel([("job_id", ASCENDING)], name="by_job", unique=True)],
}

# Reading


async def published_of_job(runtime: ReportingRuntime, job_id: str, version: int | None) -> dict[str, Any] | None:
    """The job's published version `version`, or its latest published version."""
    query: dict[str, Any] = {"job_id": job_id, "status": PUBLISHED}
    if version is not None:
        query["version"] = version
    return await runtime.db[RECORDS].find_one(query, sort=[("version", DESCENDING)])


async def versions_of_job(runtime: ReportingRuntime, job_id: str) -> list[dict[str, Any]]:
    """(version, status, published_at) of every version of the job's record, oldest first."""
    cursor = runtime.db[RECORDS].find(
        {"job_id": job_id}, {"version": 1, "status": 1, "published_at": 1}, sort=[("version", 1)]
    )
    return [v async for v in cursor]


async def latest_version_in(uow: UnitOfWork, record_id: str) -> dict[str, Any] | None:
    return await uow.db[RECORDS].find_one({"record_id": record_id}, sort=[("version", -1)], session=uow.session)


async def published_version(runtime: ReportingRuntime, record_id: str, version: int) -> dict[str, Any] | None:
    return await runtime.db[RECORDS].find_one({"_id": version_id(record_id, version), "status": PUBLISHED})


async def archived_stub(runtime: ReportingRuntime, job_id: str) -> dict[str, Any] | None:
    return await runtime.db[ARCHIVED].find_one({"job_id": job_id})


# Versions coming due and going


async def make_first_version_due(uow: UnitOfWork, first: dict[str, Any]) -> None:
    """Version 1 of the job's record becomes due, unless the record exists or was archived long ago."""
    if await uow.db[ARCHIVED].find_one({"job_id": first["job_id"]}, {"_id": 1}, session=uow.session):
        return  # its record was long published and archived
    first = dict(first)
    await uow.db[RECORDS].update_one(
        {"_id": first.pop("_id")}, {"$setOnInsert": first}, upsert=True, session=uow.session
    )


async def abandon_pending(uow: UnitOfWork, job_id: str) -> None:
    await uow.db[RECORDS].update_many(
        {"job_id": job_id, "status": PENDING}, {"$set": {"status": ABANDONED}}, session=uow.session
    )


async def signature_arrived(uow: UnitOfWork, job_id: str, signature: dict[str, Any], now: datetime) -> None:
    """The customer signed: the pending version is told it must show the signature (its publishing
    checks that, and writing to it conflicts with a publish in progress), or a published record
    gets a new version that shows it."""
    latest = await uow.db[RECORDS].find_one({"job_id": job_id}, sort=[("version", DESCENDING)], session=uow.session)
    action = domain.after_signature(latest, signature["signature_id"])
    if action == domain.PENDING_VERSION_MUST_SHOW_IT:
        assert latest is not None
        await uow.db[RECORDS].update_one(
            {"_id": latest["_id"]}, {"$addToSet": {"signatures_due": signature["signature_id"]}}, session=uow.session
        )
    elif action == domain.NEW_VERSION:
        assert latest is not None
        await uow.db[RECORDS].insert_one(domain.signed_version(latest, signature, now), session=uow.session)


async def add_version(uow: UnitOfWork, version: dict[str, Any]) -> None:
    try:
        await uow.db[RECORDS].insert_one(version, session=uow.session)
    except DuplicateKeyError:
        raise Refusal.conflict("another correction of this record was just made; reload and retry") from None


# Publishing


async def pending_ids(runtime: ReportingRuntime, now: datetime, limit: int) -> list[str]:
    """Pending versions that are due (not parked, past any backoff) and that nobody holds a claim on,
    oldest first."""
    cursor = runtime.db[RECORDS].find(
        {
            "status": PENDING,
            "parked_at": None,
            "$and": [
                {"$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}]},
                {"$or": [{"next_attempt_at": None}, {"next_attempt_at": {"$lte": now}}]},
            ],
        },
        {"_id": 1},
        sort=[("created_at", 1)],
        limit=limit,
    )
    return [d["_id"] async for d in cursor]


async def claim(runtime: ReportingRuntime, doc_id: str, now: datetime, until: datetime) -> dict[str, Any] | None:
    """Claim a pending version so other replicas don't render it at the same time (correct either way)."""
    return await runtime.db[RECORDS].find_one_and_update(
        {"_id": doc_id, "status": PENDING, "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}]},
        {"$set": {"claimed_until": until}},
        return_document=ReturnDocument.AFTER,
    )


async def release(runtime: ReportingRuntime, doc_id: str, reason: str) -> None:
    """Not published this round for a reason that is not the version's own (an outage, a signature that
    arrived meanwhile): tried again next round."""
    await runtime.db[RECORDS].update_one(
        {"_id": doc_id, "status": PENDING},
        {"$set": {"claimed_until": None, "last_error": reason}, "$inc": {"attempts": 1}},
    )


async def back_off(
    runtime: ReportingRuntime, doc_id: str, reason: str, failures: int, next_attempt_at: datetime, parked: bool
) -> None:
    """The version failed for the `failures`-th time: not tried again before `next_attempt_at`, or
    parked (still pending and visible, never tried again until a fact of its job arrives)."""
    fields: dict[str, Any] = {
        "claimed_until": None,
        "last_error": reason,
        "failures": failures,
        "next_attempt_at": next_attempt_at,
    }
    if parked:
        fields["parked_at"] = next_attempt_at
    await runtime.db[RECORDS].update_one({"_id": doc_id, "status": PENDING}, {"$set": fields, "$inc": {"attempts": 1}})


async def fact_arrived(uow: UnitOfWork, job_id: str) -> None:
    """A new event of the job may be what its pending version waited for: it is due again at once, with
    its failures forgotten, parked or not."""
    await uow.db[RECORDS].update_many(
        {"job_id": job_id, "status": PENDING, "failures": {"$gt": 0}},
        {"$set": {"failures": 0}, "$unset": {"next_attempt_at": "", "parked_at": ""}},
        session=uow.session,
    )


async def stuck_count(runtime: ReportingRuntime) -> int:
    """Versions parked after failing every attempt (a gauge to alert on: anything above 0 needs a person)."""
    return await runtime.db[RECORDS].count_documents({"status": PENDING, "parked_at": {"$ne": None}})


async def mark_published(uow: UnitOfWork, doc_id: str, published: dict[str, Any]) -> bool:
    """The pending version is published with `published` (content, reports, time); False when it no
    longer is pending (another replica published it, or the job was cancelled meanwhile) or a
    signature it does not show arrived while it was rendered."""
    shown = [s["signature_id"] for s in published["content"].get("signatures", [])]
    result = await uow.db[RECORDS].update_one(
        {"_id": doc_id, "status": PENDING, "signatures_due": {"$not": {"$elemMatch": {"$nin": shown}}}},
        {"$set": {**published, "status": PUBLISHED, "claimed_until": None}},
        session=uow.session,
    )
    return result.modified_count == 1


async def is_pending(runtime: ReportingRuntime, doc_id: str) -> bool:
    return await runtime.db[RECORDS].find_one({"_id": doc_id, "status": PENDING}, {"_id": 1}) is not None


# Archiving


async def due_for_archive(runtime: ReportingRuntime, cutoff: datetime) -> list[tuple[str, str]]:
    """(record id, job id) of every record no version of which is newer than `cutoff` or pending."""
    due = await runtime.db[RECORDS].aggregate(
        [
            {
                "$group": {
                    "_id": "$record_id",
                    "job_id": {"$first": "$job_id"},
                    "newest": {"$max": "$published_at"},
                    "pending": {"$sum": {"$cond": [{"$eq": ["$status", PENDING]}, 1, 0]}},
                }
            },
            {"$match": {"pending": 0, "newest": {"$lt": cutoff}}},
        ]
    )
    return [(record["_id"], record["job_id"]) async for record in due]


async def versions_of_record(runtime: ReportingRuntime, record_id: str) -> list[dict[str, Any]]:
    return [v async for v in runtime.db[RECORDS].find({"record_id": record_id}, sort=[("version", 1)])]


async def replace_by_stub(uow: UnitOfWork, stub: dict[str, Any], version_ids: list[str]) -> None:
    """The record's versions leave the database; its stub says where the archive copy is."""
    await uow.db[ARCHIVED].replace_one({"_id": stub["_id"]}, stub, upsert=True, session=uow.session)
    await uow.db[RECORDS].delete_many({"_id": {"$in": version_ids}}, session=uow.session)
