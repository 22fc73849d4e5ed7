"""Archiving: records older than ARCHIVE_AFTER_DAYS move to the archive prefix of object storage
(every version in one JSON document), leaving a stub so the API still finds them."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from typing import Any

from bson import json_util

from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime
from reporting_service.records.domain import PENDING, PUBLISHED
from reporting_service.records.store import ARCHIVED, RECORDS
from reporting_service.settings import reporting_settings

log = logging.getLogger(__name__)

ARCHIVE_BUCKET = "archive"
JSON_OPTIONS = json_util.CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=UTC)


def archive_key(record_id: str) -> str:
    return f"records/{record_id}.json"


async def archive_old_records(runtime: Runtime) -> list[str]:
    """Move every record whose latest version was published before the cutoff; returns their ids."""
    settings = reporting_settings(runtime.settings)
    cutoff = runtime.clock.now() - timedelta(days=settings.archive_after_days)
    # A record is due when no version is newer than the cutoff and none is still pending.
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
    moved = []
    async for record in due:
        await archive_record(runtime, record["_id"], record["job_id"])
        moved.append(record["_id"])
    return moved


async def archive_record(runtime: Runtime, record_id: str, job_id: str) -> None:
    versions = [v async for v in runtime.db[RECORDS].find({"record_id": record_id}, sort=[("version", 1)])]
    body = json_util.dumps({"record_id": record_id, "job_id": job_id, "versions": versions}, json_options=JSON_OPTIONS)
    key = archive_key(record_id)
    # Stored first: the database copy is deleted only once the archive copy exists.
    await runtime.objects.put_bytes(ARCHIVE_BUCKET, key, body.encode(), "application/json", {"record-id": record_id})
    archived_at = runtime.clock.now()

    async def move(uow: UnitOfWork) -> None:
        await uow.db[ARCHIVED].replace_one(
            {"_id": record_id},
            {
                "_id": record_id,
                "job_id": job_id,
                "bucket": runtime.objects.bucket(ARCHIVE_BUCKET),
                "object_key": key,
                "versions": len(versions),
                "archived_at": archived_at,
            },
            upsert=True,
            session=uow.session,
        )
        await uow.db[RECORDS].delete_many({"_id": {"$in": [v["_id"] for v in versions]}}, session=uow.session)

    await runtime.outbox.transact(move)
    log.info("record %s archived to %s", record_id, key)


async def find_archived(
    runtime: Runtime, *, job_id: str | None = None, record_id: str | None = None, version: int | None = None
) -> dict[str, Any] | None:
    stub = await runtime.db[ARCHIVED].find_one({"job_id": job_id} if job_id else {"_id": record_id})
    if stub is None:
        return None
    archived = json_util.loads(
        (await runtime.objects.get_bytes(ARCHIVE_BUCKET, stub["object_key"])).decode(), json_options=JSON_OPTIONS
    )
    published = [v for v in archived["versions"] if v["status"] == PUBLISHED]
    if version is not None:
        published = [v for v in published if v["version"] == version]
    if not published:
        return None
    return {**published[-1], "archived": True}
