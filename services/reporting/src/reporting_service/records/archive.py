"""Archiving: records older than ARCHIVE_AFTER_DAYS move to the archive prefix of object storage
(every version in one JSON document), leaving a stub so the API still finds them."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from typing import Any

from bson import json_util

from compressor_kit.outbox import UnitOfWork
from reporting_service.records import store
from reporting_service.records.domain import PUBLISHED
from reporting_service.settings import ReportingRuntime

log = logging.getLogger(__name__)

ARCHIVE_BUCKET = "archive"
JSON_OPTIONS = json_util.CANONICAL_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=UTC)


def archive_key(record_id: str) -> str:
    return f"records/{record_id}.json"


async def archive_old_records(runtime: ReportingRuntime) -> list[str]:
    """Move every record whose latest version was published before the cutoff; returns their ids."""
    cutoff = runtime.clock.now() - timedelta(days=runtime.settings.archive_after_days)
    moved = []
    for record_id, job_id in await store.due_for_archive(runtime, cutoff):
        await archive_record(runtime, record_id, job_id)
        moved.append(record_id)
    return moved


async def archive_record(runtime: ReportingRuntime, record_id: str, job_id: str) -> None:
    versions = await store.versions_of_record(runtime, record_id)
    body = json_util.dumps({"record_id": record_id, "job_id": job_id, "versions": versions}, json_options=JSON_OPTIONS)
    key = archive_key(record_id)
    # Stored first: the database copy is deleted only once the archive copy exists.
    await runtime.objects.put_bytes(ARCHIVE_BUCKET, key, body.encode(), "application/json", {"record-id": record_id})
    stub = {
        "_id": record_id,
        "job_id": job_id,
        "bucket": runtime.objects.bucket(ARCHIVE_BUCKET),
        "object_key": key,
        "versions": len(versions),
        "archived_at": runtime.clock.now(),
    }

    async def move(uow: UnitOfWork) -> None:
        await store.replace_by_stub(uow, stub, [v["_id"] for v in versions])

    await runtime.outbox.transact(move)
    log.info("record %s archived to %s", record_id, key)


async def find_archived(runtime: ReportingRuntime, job_id: str, version: int | None) -> dict[str, Any] | None:
    """The job's archived published version `version` (or its latest), marked `archived`."""
    stub = await store.archived_stub(runtime, job_id)
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
