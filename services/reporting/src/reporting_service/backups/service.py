"""Running a backup (scheduled or on demand), applying retention.

A backup exports every collection of every service database as a compressed archive, then its
manifest; only then is it marked completed, together with `backup.completed`, in one outbox
transaction. Any failure marks it failed with `backup.failed` and removes what was uploaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from pymongo import MongoClient

from compressor_contracts import BackupCompleted, BackupDatabase, BackupFailed, BackupTrigger, StoredObject
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime
from reporting_service.backups import archives, domain
from reporting_service.backups.store import BACKUP_BUCKET, BACKUPS, SCHEDULE
from reporting_service.settings import reporting_settings

log = logging.getLogger(__name__)


async def start_backup(runtime: Runtime, trigger: BackupTrigger) -> str:
    started_at = runtime.clock.now()
    backup_id = domain.new_backup_id(started_at)
    await runtime.db[BACKUPS].insert_one(
        {"_id": backup_id, "status": domain.RUNNING, "trigger": trigger.value, "started_at": started_at}
    )
    return backup_id


async def run_backup(runtime: Runtime, backup_id: str) -> dict[str, Any]:
    """Export, write the manifest, mark completed (or failed). Returns the final backup document."""
    settings = reporting_settings(runtime.settings)
    backup = await runtime.db[BACKUPS].find_one({"_id": backup_id})
    assert backup is not None
    trigger, started_at = BackupTrigger(backup["trigger"]), backup["started_at"]
    bucket = runtime.objects.bucket(BACKUP_BUCKET)
    stage = "start"
    try:
        databases = domain.databases_to_back_up(settings.backup_databases, settings.database_name)
        exported = []
        with MongoClient(settings.mongodb_url.get_secret_value(), tz_aware=True) as client:
            for database in databases:
                stage = f"export {database}"
                collections = []
                names = await asyncio.to_thread(client[database].list_collection_names, filter={"type": "collection"})
                for name in sorted(n for n in names if not n.startswith("system.")):
                    stage = f"export {database}.{name}"
                    key = domain.archive_key(backup_id, database, name)
                    collections.append(
                        await asyncio.to_thread(
                            archives.export_collection, client[database][name], runtime.objects.client, bucket, key
                        )
                    )
                exported.append({"database": database, "collections": collections})
        stage = "manifest"
        manifest = {
            "backup_id": backup_id,
            "trigger": trigger.value,
            "started_at": started_at.isoformat(),
            "format": "gzip-compressed BSON, one archive per collection, documents in _id order",
            "databases": exported,
        }
        body = json.dumps(manifest, indent=2, default=str).encode()
        await runtime.objects.put_bytes(
            BACKUP_BUCKET, domain.manifest_key(backup_id), body, "application/json", {"backup-id": backup_id}
        )
    except Exception as exc:
        log.exception("backup %s failed at %s", backup_id, stage)
        return await _fail(runtime, backup_id, trigger, started_at, stage, exc)

    manifest_object = StoredObject(
        bucket=bucket,
        object_key=domain.manifest_key(backup_id),
        sha256=hashlib.sha256(body).hexdigest(),
        size_bytes=len(body),
        content_type="application/json",
    )
    summary = [
        BackupDatabase(
            database=d["database"],
            collections=len(d["collections"]),
            documents=sum(c["documents"] for c in d["collections"]),
        )
        for d in exported
    ]
    total_bytes = sum(c["archive_bytes"] for d in exported for c in d["collections"]) + len(body)
    completed_at = runtime.clock.now()

    async def complete(uow: UnitOfWork) -> None:
        await uow.db[BACKUPS].update_one(
            {"_id": backup_id, "status": domain.RUNNING},
            {
                "$set": {
                    "status": domain.COMPLETED,
                    "completed_at": completed_at,
                    "manifest": manifest_object.model_dump(),
                    "databases": [d.model_dump() for d in summary],
                    "total_bytes": total_bytes,
                }
            },
            session=uow.session,
        )
        await uow.publish(
            BackupCompleted(
                backup_id=backup_id,
                trigger=trigger,
                started_at=started_at,
                manifest=manifest_object,
                databases=summary,
                total_bytes=total_bytes,
            )
        )

    await runtime.outbox.transact(complete)
    return await runtime.db[BACKUPS].find_one({"_id": backup_id})


async def _fail(runtime: Runtime, backup_id: str, trigger, started_at, stage: str, exc: Exception) -> dict[str, Any]:
    error = f"{type(exc).__name__}: {exc}"[:1900]

    async def fail(uow: UnitOfWork) -> None:
        result = await uow.db[BACKUPS].update_one(
            {"_id": backup_id, "status": domain.RUNNING},
            {"$set": {"status": domain.FAILED, "failed_at": runtime.clock.now(), "stage": stage, "error": error}},
            session=uow.session,
        )
        if result.modified_count != 1:
            return  # another replica already failed it
        await uow.publish(
            BackupFailed(backup_id=backup_id, trigger=trigger, started_at=started_at, stage=stage[:200], error=error)
        )

    await runtime.outbox.transact(fail)
    try:
        await remove_objects(runtime, backup_id)
    except Exception:
        log.warning("could not remove the partial objects of backup %s", backup_id)
    return await runtime.db[BACKUPS].find_one({"_id": backup_id})


async def remove_objects(runtime: Runtime, backup_id: str) -> int:
    bucket = runtime.objects.bucket(BACKUP_BUCKET)

    def remove() -> int:
        client = runtime.objects.client
        removed = 0
        for obj in client.list_objects(bucket, prefix=domain.prefix(backup_id), recursive=True):
            client.remove_object(bucket, obj.object_name)
            removed += 1
        return removed

    return await asyncio.to_thread(remove)


async def apply_retention(runtime: Runtime) -> list[str]:
    """Delete exactly the completed backups retention no longer keeps; returns their ids."""
    settings = reporting_settings(runtime.settings)
    completed = [
        (b["_id"], b["started_at"])
        async for b in runtime.db[BACKUPS].find({"status": domain.COMPLETED}, {"started_at": 1})
    ]
    doomed = sorted(domain.expired(completed, settings.backup_keep_daily, settings.backup_keep_monthly))
    for backup_id in doomed:
        await remove_objects(runtime, backup_id)
        await runtime.db[BACKUPS].update_one(
            {"_id": backup_id, "status": domain.COMPLETED},
            {"$set": {"status": domain.EXPIRED, "expired_at": runtime.clock.now()}},
        )
    return doomed


async def fail_interrupted_backups(runtime: Runtime) -> list[str]:
    """A backup still running long after it started was interrupted (its process died): fail it."""
    settings = reporting_settings(runtime.settings)
    cutoff = runtime.clock.now() - timedelta(seconds=settings.backup_stale_after_seconds)
    interrupted = [b async for b in runtime.db[BACKUPS].find({"status": domain.RUNNING, "started_at": {"$lt": cutoff}})]
    for backup in interrupted:
        error = RuntimeError(f"still running after {settings.backup_stale_after_seconds:g} s; its process stopped")
        await _fail(
            runtime, backup["_id"], BackupTrigger(backup["trigger"]), backup["started_at"], "interrupted", error
        )
    return [b["_id"] for b in interrupted]


async def scheduled_backup(runtime: Runtime) -> None:
    """Run a backup when one is due; one replica wins each slot (conditional update of the schedule)."""
    settings = reporting_settings(runtime.settings)
    await fail_interrupted_backups(runtime)
    now = runtime.clock.now()
    interval = timedelta(seconds=settings.backup_interval_seconds)
    await runtime.db[SCHEDULE].update_one(
        {"_id": "backup"}, {"$setOnInsert": {"next_due": now + interval}}, upsert=True
    )
    slot = await runtime.db[SCHEDULE].find_one_and_update(
        {"_id": "backup", "next_due": {"$lte": now}}, {"$set": {"next_due": now + interval}}
    )
    if slot is None:
        return
    backup_id = await start_backup(runtime, BackupTrigger.SCHEDULED)
    backup = await run_backup(runtime, backup_id)
    if backup and backup["status"] == domain.COMPLETED:
        await apply_retention(runtime)


def schedule_check_seconds(settings) -> float:
    return min(reporting_settings(settings).backup_interval_seconds, 60.0)
