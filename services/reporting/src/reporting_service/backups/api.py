"""Backups on demand, their state, retention and archiving now (managers and admins)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from compressor_contracts import BackupTrigger
from compressor_kit.auth import Role, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.problems import Problem
from compressor_kit.runtime import Runtime
from reporting_service.backups import service
from reporting_service.backups.store import BACKUPS
from reporting_service.records.archive import archive_old_records

MANAGEMENT = (Role.MANAGER, Role.ADMIN)
_running: set[asyncio.Task] = set()  # keeps on-demand backups alive until done


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc["backup_id"] = doc.pop("_id")
    return doc


@post("/backups", **requires(*MANAGEMENT), operation_id="startBackup", status_code=202)
async def start_backup(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Start a backup of every service database now; poll GET /backups/{backup_id}."""
    backup_id = await service.start_backup(runtime, BackupTrigger.ON_DEMAND)
    task = asyncio.create_task(service.run_backup(runtime, backup_id), name=f"backup-{backup_id}")
    _running.add(task)
    task.add_done_callback(_running.discard)
    return {"backup_id": backup_id, "status": "running"}


@get("/backups", **requires(*MANAGEMENT), operation_id="listBackups")
async def list_backups(
    runtime: NamedDependency[Runtime], status: FromQuery[str | None] = None, limit: Limit = 50, offset: Offset = 0
) -> Page[dict[str, Any]]:
    """Backups, newest first."""
    query = {"status": status} if status else {}
    total = await runtime.db[BACKUPS].count_documents(query)
    cursor = runtime.db[BACKUPS].find(query).sort([("started_at", -1)]).skip(offset).limit(limit)
    return Page(items=[_view(d) async for d in cursor], total=total, limit=limit, offset=offset)


@get("/backups/{backup_id:str}", **requires(*MANAGEMENT), operation_id="getBackup")
async def get_backup(backup_id: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    doc = await runtime.db[BACKUPS].find_one({"_id": backup_id})
    if doc is None:
        raise Problem(404, f"no backup {backup_id!r}", field="backup_id")
    return _view(doc)


@post("/backups/retention", **requires(*MANAGEMENT), operation_id="applyBackupRetention", status_code=200)
async def apply_retention(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Delete the backups retention no longer keeps (BACKUP_KEEP_DAILY, BACKUP_KEEP_MONTHLY)."""
    return {"expired": await service.apply_retention(runtime)}


@post("/archive/records", **requires(*MANAGEMENT), operation_id="archiveOldRecords", status_code=200)
async def archive_records(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Move records older than ARCHIVE_AFTER_DAYS to the archive now (also runs on a schedule)."""
    return {"archived": await archive_old_records(runtime)}
