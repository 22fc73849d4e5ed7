"""Backup bookkeeping (`backups`, one document per backup; at most one running, across replicas), the
schedule lock (`backup_schedule`), and the databases backed up and restored (`ServerDatabases`,
synchronous, for worker threads)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, cast

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from bson.timestamp import Timestamp
from minio import Minio
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from compressor_contracts import BackupDatabase, BackupTrigger, StoredObject
from compressor_kit.outbox import UnitOfWork
from reporting_service.backups import archives
from reporting_service.backups.domain import COMPLETED, EXPIRED, FAILED, HELD, RESTORING_SUFFIX, RUNNING, Backup
from reporting_service.settings import ReportingRuntime

BACKUPS = "backups"
SCHEDULE = "backup_schedule"
BACKUP_BUCKET = "backups"

INDEXES = {
    BACKUPS: [
        IndexModel([("started_at", DESCENDING)], name="newest_first"),
        IndexModel([("status", ASCENDING), ("started_at", DESCENDING)], name="by_status"),
        # The lock: one running backup at a time, whichever replica starts it. A backup whose process died
        # keeps it until `fail_interrupted_backups` fails it (BACKUP_STALE_AFTER_SECONDS).
        IndexModel(
            [("status", ASCENDING)], name="one_running", unique=True, partialFilterExpression={"status": RUNNING}
        ),
    ]
}
OUTBOX = "outbox"  # compressor_kit.outbox.OUTBOX, in the restored service's database
OUTBOX_PENDING = "pending"  # the only status the outbox relay publishes


def _backup(doc: dict[str, Any]) -> Backup:
    doc = dict(doc)
    doc["backup_id"] = doc.pop("_id")
    return Backup.model_validate(doc)


async def start(runtime: ReportingRuntime, backup_id: str, trigger: BackupTrigger, started_at: datetime) -> str | None:
    """Record the backup as running; None when it did, else the id of the backup already running."""
    try:
        await runtime.db[BACKUPS].insert_one(
            {"_id": backup_id, "status": RUNNING, "trigger": trigger.value, "started_at": started_at}
        )
    except DuplicateKeyError:
        running = await runtime.db[BACKUPS].find_one({"status": RUNNING}, {"_id": 1})
        return str(running["_id"]) if running else "another backup"
    return None


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
        """The database's collections (no views, no system collections, no restore in progress), sorted."""
        names = self.client[database].list_collection_names(filter={"type": "collection"})
        return sorted(n for n in names if not n.startswith("system.") and not n.endswith(RESTORING_SUFFIX))

    def cluster_time(self) -> Timestamp:
        """The newest majority-committed cluster time: every collection of a backup is read as it was then.
        Taken after the collections are listed, so each of them existed at that time."""
        hello = self.client.admin.command("hello")
        majority: Timestamp = hello["lastWrite"]["majorityOpTime"]["ts"]
        return majority

    def export(self, database: str, name: str, store: Minio, bucket: str, key: str, at: Timestamp) -> dict[str, Any]:
        """Upload one collection as it was at cluster time `at` (a snapshot read, the same instant for every
        collection of the backup); its manifest entry (counts, checksums, indexes).

        The read must start within the server's snapshot history window (minSnapshotHistoryWindowInSeconds,
        300 s by default) of `at`; a backup that takes longer fails with SnapshotTooOld."""
        collection = self.client[database][name]
        raw = CodecOptions(document_class=RawBSONDocument)
        # The database's own codec options decode the later batches (getMore), the argument the first one.
        snapshot = self.client.get_database(database, codec_options=raw)
        documents = cast(
            Iterator[RawBSONDocument],
            snapshot.cursor_command(
                {"find": name, "sort": {"_id": 1}, "readConcern": {"level": "snapshot", "atClusterTime": at}},
                codec_options=raw,
            ),
        )
        source = archives.upload(documents, store, bucket, key)
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

    def stage(self, database: str, entry: dict[str, Any], store: Minio, bucket: str) -> tuple[int, str, str]:
        """Import one collection's archive, with its indexes, into its staging collection (the live one is not
        touched): (document count, archive SHA-256 as downloaded, SHA-256 of the documents' BSON in `_id`
        order) of what was staged."""
        target = self.client[database]
        staging = entry["name"] + RESTORING_SUFFIX
        target.drop_collection(staging)  # a restore that died before may have left one
        target.create_collection(staging)
        raw = _raw(target[staging])
        archive_sha = archives.download(store, bucket, entry["archive_key"], lambda batch: raw.insert_many(batch))
        if entry["indexes"]:
            target[staging].create_indexes(
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

    def hold_pending_outbox(self, database: str, backup_id: str, held_at: datetime) -> int:
        """In a staged outbox, hold the events still pending when the backup was taken: the relay publishes
        only pending ones, so they wait for a person (`release-held`) instead of going out again blindly."""
        staging = self.client[database][OUTBOX + RESTORING_SUFFIX]
        result = staging.update_many(
            {"status": OUTBOX_PENDING},
            {"$set": {"status": HELD, "held_at": held_at, "held_by_restore_of": backup_id}},
        )
        return result.modified_count

    def go_live(self, database: str, name: str) -> None:
        """Replace the live collection by its staged one in one step (renameCollection, dropTarget)."""
        self.client.admin.command(
            "renameCollection", f"{database}.{name}{RESTORING_SUFFIX}", to=f"{database}.{name}", dropTarget=True
        )

    def discard_staged(self, database: str, names: list[str]) -> None:
        for name in names:
            self.client[database].drop_collection(name + RESTORING_SUFFIX)

    def held_events(self, database: str) -> list[dict[str, Any]]:
        """The outbox events a restore held, oldest first (id, type, subject, when held)."""
        cursor = self.client[database][OUTBOX].find(
            {"status": HELD}, {"type": 1, "routing_key": 1, "held_at": 1, "held_by_restore_of": 1, "created_at": 1}
        )
        return list(cursor.sort([("created_at", ASCENDING), ("seq", ASCENDING)]))

    def release_held(self, database: str, event_ids: list[str] | None) -> int:
        """Put held outbox events (these, or all) back to pending: the relay publishes them. Returns how many."""
        query: dict[str, Any] = {"status": HELD}
        if event_ids is not None:
            query["_id"] = {"$in": event_ids}
        result = self.client[database][OUTBOX].update_many(
            query, {"$set": {"status": OUTBOX_PENDING}, "$unset": {"held_at": "", "held_by_restore_of": ""}}
        )
        return result.modified_count


async def last_completed_at(runtime: ReportingRuntime) -> datetime | None:
    """When the newest completed backup completed (None before the first): the backup age gauge."""
    doc = await runtime.db[BACKUPS].find_one(
        {"status": COMPLETED}, {"completed_at": 1}, sort=[("started_at", DESCENDING)]
    )
    return doc["completed_at"] if doc and doc.get("completed_at") else None
