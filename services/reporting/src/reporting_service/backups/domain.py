"""Pure backup rules: ids, object keys, which databases, and which backups retention expires."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import BackupDatabase, BackupTrigger, StoredObject
from compressor_contracts.topology import PRODUCERS

RUNNING, COMPLETED, FAILED, EXPIRED = "running", "completed", "failed", "expired"

RESTORING_SUFFIX = ".restoring"
"""A collection is restored into `<name>.restoring`, verified, then renamed over `<name>`."""
HELD = "held"
"""Outbox status of an event that was pending in a restored backup: the relay (which publishes only
`pending`) leaves it until a person releases it (`python -m reporting_service release-held`)."""


class Backup(BaseModel):
    """One backup: running, then completed (with its manifest) or failed (at a stage); expired once
    retention deleted its objects."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "backup_id": "BK-20260310-020000-3fa2c1",
                    "status": "completed",
                    "trigger": "scheduled",
                    "started_at": "2026-03-10T02:00:00Z",
                    "completed_at": "2026-03-10T02:03:41Z",
                    "manifest": {
                        "bucket": "compressor-backups",
                        "object_key": "backups/BK-20260310-020000-3fa2c1/manifest.json",
                        "sha256": "1b4f0e9870cf2a6c3e5d7b9a1c3e5f7081a2b3c4d5e6f708192a3b4c5d6e7f80",
                        "size_bytes": 18342,
                        "content_type": "application/json",
                    },
                    "databases": [{"database": "compressor_intake", "collections": 9, "documents": 48211}],
                    "total_bytes": 7340032,
                }
            ]
        }
    )

    backup_id: str
    status: str = Field(description="running, completed, failed or expired.")
    trigger: BackupTrigger
    started_at: datetime
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    expired_at: datetime | None = None
    stage: str | None = Field(default=None, description="Where a failed backup stopped.")
    error: str | None = None
    manifest: StoredObject | None = None
    databases: list[BackupDatabase] | None = None
    total_bytes: int | None = None


def new_backup_id(started_at: datetime) -> str:
    return f"BK-{started_at:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def prefix(backup_id: str) -> str:
    return f"backups/{backup_id}/"


def archive_key(backup_id: str, database: str, collection: str) -> str:
    return f"{prefix(backup_id)}{database}/{collection}.bson.gz"


def manifest_key(backup_id: str) -> str:
    return f"{prefix(backup_id)}manifest.json"


def databases_to_back_up(configured: str, database_name: Callable[[str], str]) -> list[str]:
    """The configured list, else every phase service's database (deduplicated: services may share one).
    Not the console's: it holds people's sessions and their tokens, which no archive should keep."""
    names = [n.strip() for n in configured.split(",") if n.strip()]
    return sorted(set(names or (database_name(service) for service in PRODUCERS)))


def expired(backups: Iterable[tuple[str, datetime]], keep_daily: int, keep_monthly: int) -> set[str]:
    """Completed backups (id, started_at) that retention deletes: everything except the newest
    backup of each of the `keep_daily` most recent days and of each of the `keep_monthly` most
    recent months that have a backup."""
    newest_first = sorted(backups, key=lambda b: b[1], reverse=True)
    keep: set[str] = set()
    days: list[date] = []
    months: list[tuple[int, int]] = []
    for backup_id, started_at in newest_first:
        day, month = started_at.date(), (started_at.year, started_at.month)
        if day not in days:
            days.append(day)
            if len(days) <= keep_daily:
                keep.add(backup_id)
        if month not in months:
            months.append(month)
            if len(months) <= keep_monthly:
                keep.add(backup_id)
    return {backup_id for backup_id, _ in newest_first} - keep
