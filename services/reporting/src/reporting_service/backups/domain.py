"""Pure backup rules: ids, object keys, which databases, and which backups retention expires."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from compressor_contracts.topology import SERVICES

RUNNING, COMPLETED, FAILED, EXPIRED = "running", "completed", "failed", "expired"


def new_backup_id(started_at: datetime) -> str:
    return f"BK-{started_at:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def prefix(backup_id: str) -> str:
    return f"backups/{backup_id}/"


def archive_key(backup_id: str, database: str, collection: str) -> str:
    return f"{prefix(backup_id)}{database}/{collection}.bson.gz"


def manifest_key(backup_id: str) -> str:
    return f"{prefix(backup_id)}manifest.json"


def databases_to_back_up(configured: str, database_name) -> list[str]:
    """The configured list, else every service's database (deduplicated: services may share one)."""
    names = [n.strip() for n in configured.split(",") if n.strip()]
    return sorted(set(names or (database_name(service) for service in SERVICES)))


def expired(backups: Iterable[tuple[str, datetime]], keep_daily: int, keep_monthly: int) -> set[str]:
    """Completed backups (id, started_at) that retention deletes: everything except the newest
    backup of each of the `keep_daily` most recent days and of each of the `keep_monthly` most
    recent months that have a backup."""
    newest_first = sorted(backups, key=lambda b: b[1], reverse=True)
    keep: set[str] = set()
    days: list[object] = []
    months: list[object] = []
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
