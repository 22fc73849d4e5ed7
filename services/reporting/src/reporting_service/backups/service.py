"""Running a backup (scheduled or on demand), applying retention.

A backup exports every collection of every service database as a compressed archive, all as they
were at one cluster time (snapshot reads; the time is in the manifest), then its manifest; only then
is it marked completed, together with `backup.completed`, in one outbox transaction. Any failure
marks it failed with `backup.failed` and removes what was uploaded. Only one backup runs at a time
(a unique index on the running one): another start is refused with 409.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from compressor_contracts import BackupCompleted, BackupDatabase, BackupFailed, BackupTrigger, StoredObject
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from reporting_service.backups import domain, store
from reporting_service.backups.domain import Backup
from reporting_service.backups.store import BACKUP_BUCKET, ServerDatabases
from reporting_service.settings import ReportingRuntime, ReportingSettings

log = logging.getLogger(__name__)


async def start_backup(runtime: ReportingRuntime, trigger: BackupTrigger) -> str:
    """Record a new running backup; refused (conflict) while another one runs, on any replica."""
    started_at = runtime.clock.now()
    backup_id = domain.new_backup_id(started_at)
    running = await store.start(runtime, backup_id, trigger, started_at)
    if running is not None:
        raise Refusal.conflict(
            f"backup {running} is running; only one runs at a time", field="backup_id", running_backup_id=running
        )
    return backup_id


async def _loaded(runtime: ReportingRuntime, backup_id: str) -> Backup:
    backup = await store.load(runtime, backup_id)
    assert backup is not None, backup_id
    return backup


async def run_backup(runtime: ReportingRuntime, backup_id: str) -> Backup:
    """Export, write the manifest, mark completed (or failed). Returns the backup as it ended."""
    settings = runtime.settings
    backup = await _loaded(runtime, backup_id)
    trigger, started_at = backup.trigger, backup.started_at
    bucket = runtime.objects.bucket(BACKUP_BUCKET)
    stage = "start"
    try:
        databases = domain.databases_to_back_up(settings.backup_databases, settings.database_name)
        exported: list[dict[str, Any]] = []
        with ServerDatabases(settings.mongodb_url.get_secret_value()) as server:
            stage = "list collections"
            names = {database: await asyncio.to_thread(server.collection_names, database) for database in databases}
            # One point in time for every collection of every database: an outbox is never paired with
            # another moment's state.
            at = await asyncio.to_thread(server.cluster_time)
            for database in databases:
                collections = []
                for name in names[database]:
                    stage = f"export {database}.{name}"
                    key = domain.archive_key(backup_id, database, name)
                    collections.append(
                        await asyncio.to_thread(server.export, database, name, runtime.objects.client, bucket, key, at)
                    )
                exported.append({"database": database, "collections": collections})
        stage = "manifest"
        manifest = {
            "backup_id": backup_id,
            "trigger": trigger.value,
            "started_at": started_at.isoformat(),
            "cluster_time": {"t": at.time, "i": at.inc},
            "format": "gzip-compressed BSON, one archive per collection, documents in _id order, "
            "every collection as it was at cluster_time (a snapshot read)",
            "databases": exported,
        }
        body = json.dumps(manifest, indent=2, default=str).encode()
        await runtime.objects.put_bytes(
            BACKUP_BUCKET, domain.manifest_key(backup_id), body, "application/json", {"backup-id": backup_id}
        )
    except Exception as exc:
        log.exception("backup %s failed at %s", backup_id, stage)
        return await _fail(runtime, backup, stage, exc)

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
        await store.complete(uow, backup_id, completed_at, manifest_object, summary, total_bytes)
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
    return await _loaded(runtime, backup_id)


async def _fail(runtime: ReportingRuntime, backup: Backup, stage: str, exc: Exception) -> Backup:
    error = f"{type(exc).__name__}: {exc}"[:1900]

    async def fail(uow: UnitOfWork) -> None:
        if not await store.fail(uow, backup.backup_id, runtime.clock.now(), stage, error):
            return  # another replica already failed it
        await uow.publish(
            BackupFailed(
                backup_id=backup.backup_id,
                trigger=backup.trigger,
                started_at=backup.started_at,
                stage=stage[:200],
                error=error,
            )
        )

    await runtime.outbox.transact(fail)
    try:
        await remove_objects(runtime, backup.backup_id)
    except Exception:
        log.warning("could not remove the partial objects of backup %s", backup.backup_id)
    return await _loaded(runtime, backup.backup_id)


async def remove_objects(runtime: ReportingRuntime, backup_id: str) -> int:
    bucket = runtime.objects.bucket(BACKUP_BUCKET)

    def remove() -> int:
        client = runtime.objects.client
        removed = 0
        for obj in client.list_objects(bucket, prefix=domain.prefix(backup_id), recursive=True):
            if obj.object_name is not None:
                client.remove_object(bucket, obj.object_name)
                removed += 1
        return removed

    return await asyncio.to_thread(remove)


async def apply_retention(runtime: ReportingRuntime) -> list[str]:
    """Delete exactly the completed backups retention no longer keeps; returns their ids."""
    settings = runtime.settings
    doomed = sorted(
        domain.expired(await store.completed(runtime), settings.backup_keep_daily, settings.backup_keep_monthly)
    )
    for backup_id in doomed:
        await remove_objects(runtime, backup_id)
        await store.expire(runtime, backup_id, runtime.clock.now())
    return doomed


async def fail_interrupted_backups(runtime: ReportingRuntime) -> list[str]:
    """A backup still running long after it started was interrupted (its process died): fail it."""
    stale_after = runtime.settings.backup_stale_after_seconds
    cutoff: datetime = runtime.clock.now() - timedelta(seconds=stale_after)
    interrupted = await store.running_since_before(runtime, cutoff)
    for backup in interrupted:
        error = RuntimeError(f"still running after {stale_after:g} s; its process stopped")
        await _fail(runtime, backup, "interrupted", error)
    return [b.backup_id for b in interrupted]


async def scheduled_backup(runtime: ReportingRuntime) -> None:
    """Run a backup when one is due; one replica wins each slot (conditional update of the schedule)."""
    await fail_interrupted_backups(runtime)
    now = runtime.clock.now()
    if not await store.take_schedule_slot(
        runtime, now, now + timedelta(seconds=runtime.settings.backup_interval_seconds)
    ):
        return
    try:
        backup_id = await start_backup(runtime, BackupTrigger.SCHEDULED)
    except Refusal as refusal:
        log.warning("scheduled backup skipped: %s", refusal.detail)
        return
    backup = await run_backup(runtime, backup_id)
    if backup.status == domain.COMPLETED:
        await apply_retention(runtime)


def schedule_check_seconds(settings: ReportingSettings) -> float:
    return min(settings.backup_interval_seconds, 60.0)
