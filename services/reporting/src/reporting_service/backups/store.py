"""Backup bookkeeping (`backups`, one document per backup), the schedule lock (`backup_schedule`),
and the databases backed up and restored (`ServerDatabases`, synchronous, for worker threads)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from types import TracebackType
from typing import Any

from bson.raw_bson import RawBSONDocument
from minio import Minio
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.collection import Collection

from compressor_contracts import BackupDatabase, BackupTrigger, StoredObject
from compressor_kit.outbox import UnitOfWork
from reporting_service.backups import archives
from reporting_service.backups.domain import COMPLETED, EXPIRED, FAILED, RUNNING, Backup
from reporting_service.settings import ReportingRuntime

BACKUPS = "backups"
SCHEDULE = "backup_schedule"
BACKUP_BUCKET = "backups"

INDEXES = {
    BACKUPS: [
        IndexModel([("started_at", DESCENDING)], name="newest_first"),
        IndexModel([("status", ASCENDING), ("started_at", DESCENDING)], name="by_status"),
    ]
}


def _backup(doc: dict[str, Any]) -> Backup:
    doc = dict(doc)
    doc["backup_id"] = doc.pop("_id")
    return Backup.model_validate(doc)


async def start(runtime: ReportingRuntime, backup_id: str, trigger: BackupTrigger, started_at: datetime) -> None:
    await runtime.db[BACKUPS].insert_one(
        {"_id": backup_id, "status": RUNNING, "trigger": trigger.value, "started_at": started_at}
    )


async def load(runtime: ReportingRuntime, backup_id: str) -> Backup | None:
    doc = await runtime.db[BACKUPS].find_one({"_id": backup_id})
    return _backup(doc) if doc else None


async def page(runtime: ReportingRuntime, status: str | None, limit: int, offset: int) -> tuple[list[Backup], int]:
    """Backups (of one status, if given), newest first, and how many there are in all."""
    query = {"status": status} if status else {}
    total = await runtime.db[BACKUPS].count_documents(query)
    cursor = runtime.db[BACKUPS].find(query).sort([("started_at", -1)]).skip(offset).limit(limit)
    return [_backup(d) async for d in cursor], total


async def complete(
    uow: UnitOfWork,
    backup_id: str,
    completed_at: datetime,
    manifest: StoredObject,
    databases: list[BackupDatabase],
    total_bytes: int,
) -> None:
    await uow.db[BACKUPS].update_one(
        {"_id": backup_id, "status": RUNNING},
        {
            "$set": {
                "status": COMPLETED,
                "completed_at": completed_at,
                "manifest": manifest.model_dump(),
                "databases": [d.model_dump() for d in databases],
                "total_bytes": total_bytes,
            }
        },
        session=uow.session,
    )


async def fail(uow: UnitOfWork, backup_id: str, failed_at: datetime, stage: str, error: str) -> bool:
    """Mark the running backup failed; False when it no longer runs (another replica failed it)."""
    result = await uow.db[BACKUPS].update_one(
        {"_id": backup_id, "status": RUNNING},
        {"$set": {"status": FAILED, "failed_at": failed_at, "stage": stage, "error": error}},
        session=uow.session,
    )
    return result.modified_count == 1


async def completed(runtime: ReportingRuntime) -> list[tuple[str, datetime]]:
    """(id, started_at) of every completed backup."""
    return [
        (b["_id"], b["started_at"]) async for b in runtime.db[BACKUPS].find({"status": COMPLETED}, {"started_at": 1})
    ]


async def expire(runtime: ReportingRuntime, backup_id: str, expired_at: datetime) -> None:
    await runtime.db[BACKUPS].update_one(
        {"_id": backup_id, "status": COMPLETED}, {"$set": {"status": EXPIRED, "expired_at": expired_at}}
    )


async def running_since_before(runtime: ReportingRuntime, cutoff: datetime) -> list[Backup]:
    cursor = runtime.db[BACKUPS].find({"status": RUNNING, "started_at": {"$lt": cutoff}})
    return [_backup(d) async for d in cursor]


async def take_schedule_slot(runtime: ReportingRuntime, now: datetime, next_due: datetime) -> bool:
    """True when a scheduled backup is due now and this replica won it (the next one is due at `next_due`)."""
    await runtime.db[SCHEDULE].update_one({"_id": "backup"}, {"$setOnInsert": {"next_due": next_due}}, upsert=True)
    slot = await runtime.db[SCHEDULE].find_one_and_update(
        {"_id": "backup", "next_due": {"$lte": now}}, {"$set": {"next_due": next_due}}
    )
    return slot is not None


def _raw(collection: Collection[Any]) -> Collection[RawBSONDocument]:
    return collection.with_options(codec_options=collection.codec_options.with_options(document_class=RawBSONDocument))


class ServerDatabases:
    """Whole databases of the MongoDB server, read for a backup and written by a restore (synchronous)."""

    def __init__(self, mongodb_url: str) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(mongodb_url, tz_aware=True)

    def __enter__(self) -> ServerDatabases:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.client.close()

    def collection_names(self, database: str) -> list[str]:
        """The database's collections (no views, no system collections), sorted."""
        names = self.client[database].list_collection_names(filter={"type": "collection"})
        return sorted(n for n in names if not n.startswith("system."))

    def export(self, database: str, name: str, store: Minio, bucket: str, key: str) -> dict[str, Any]:
        """Upload one collection as an archive; its manifest entry (counts, checksums, indexes)."""
        collection = self.client[database][name]
        source = archives.upload(_raw(collection).find().sort("_id", ASCENDING), store, bucket, key)
        indexes = []
        for index in collection.list_indexes():
            spec = dict(index)
            if spec["name"] == "_id_":
                continue
            spec.pop("v", None)
            spec.pop("ns", None)
            spec["key"] = list(spec["key"].items())
            indexes.append(spec)
        return {
            "name": name,
            "documents": source.count,
            "archive_key": key,
            "archive_bytes": source.archive_bytes,
            "archive_sha256": source.archive_sha256.hexdigest(),
            "content_sha256": source.content_sha256.hexdigest(),
            "indexes": indexes,
        }

    def existing(self, database: str) -> set[str]:
        return set(self.client[database].list_collection_names())

    def restore(self, database: str, entry: dict[str, Any], store: Minio, bucket: str) -> tuple[int, str, str]:
        """Replace one collection by its archive, with its indexes: (document count, archive SHA-256 as
        downloaded, SHA-256 of the documents' BSON in `_id` order) of what was restored."""
        target = self.client[database]
        name = entry["name"]
        target.drop_collection(name)
        target.create_collection(name)
        raw = _raw(target[name])
        archive_sha = archives.download(store, bucket, entry["archive_key"], lambda batch: raw.insert_many(batch))
        if entry["indexes"]:
            target[name].create_indexes(
                [
                    IndexModel([tuple(k) for k in spec["key"]], **{o: v for o, v in spec.items() if o != "key"})
                    for spec in entry["indexes"]
                ]
            )
        digest = hashlib.sha256()
        count = 0
        for document in raw.find().sort("_id", ASCENDING):
            digest.update(document.raw)
            count += 1
        return count, archive_sha, digest.hexdigest()
