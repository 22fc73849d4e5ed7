"""Backups on demand, their state and retention (managers and admins)."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import FromPath, Parameter
from pydantic import BaseModel, ConfigDict

from compressor_contracts import BackupTrigger, StaffRole
from compressor_kit.auth import requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from reporting_service.backups import service, store
from reporting_service.backups.domain import RUNNING, Backup
from reporting_service.settings import ReportingRuntime

MANAGEMENT = (StaffRole.MANAGER, StaffRole.ADMIN)
TAGS = ["Backups"]


class BackupStarted(BaseModel):
    """The backup runs; poll GET /backups/{backup_id} for its end."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"backup_id": "BK-20260310-141502-9c04de", "status": "running"}]}
    )

    backup_id: str
    status: str


class RetentionApplied(BaseModel):
    """The backups retention deleted now."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"expired": ["BK-20260301-020000-1a2b3c", "BK-20260302-020000-4d5e6f"]}]}
    )

    expired: list[str]


@post("/backups", **requires(*MANAGEMENT), operation_id="startBackup", status_code=202, tags=TAGS)
async def start_backup(runtime: NamedDependency[ReportingRuntime]) -> BackupStarted:
    """Start a backup of every service database now; poll GET /backups/{backup_id}."""
    backup_id = await service.start_backup(runtime, BackupTrigger.ON_DEMAND)
    runtime.spawn(service.run_backup(runtime, backup_id), name=f"backup-{backup_id}")
    return BackupStarted(backup_id=backup_id, status=RUNNING)


@get("/backups", **requires(*MANAGEMENT), operation_id="listBackups", tags=TAGS)
async def list_backups(
    runtime: NamedDependency[ReportingRuntime],
    status: Annotated[
        str | None,
        Parameter(
            description="running, completed, failed or expired.", examples=[Example(value="completed")], required=False
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Backup]:
    """Backups, newest first."""
    backups, total = await store.page(runtime, status, limit, offset)
    return Page(items=backups, total=total, limit=limit, offset=offset)


@get("/backups/{backup_id:str}", **requires(*MANAGEMENT), operation_id="getBackup", tags=TAGS)
async def get_backup(backup_id: FromPath[str], runtime: NamedDependency[ReportingRuntime]) -> Backup:
    backup = await store.load(runtime, backup_id)
    if backup is None:
        raise Refusal.not_found(f"no backup {backup_id!r}", field="backup_id")
    return backup


@post("/backups/retention", **requires(*MANAGEMENT), operation_id="applyBackupRetention", status_code=200, tags=TAGS)
async def apply_retention(runtime: NamedDependency[ReportingRuntime]) -> RetentionApplied:
    """Delete the backups retention no longer keeps (BACKUP_KEEP_DAILY, BACKUP_KEEP_MONTHLY)."""
    return RetentionApplied(expired=await service.apply_retention(runtime))
