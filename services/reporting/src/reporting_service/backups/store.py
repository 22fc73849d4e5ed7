"""Backup bookkeeping (`backups`, one document per backup) and the schedule lock."""

from pymongo import ASCENDING, DESCENDING, IndexModel

BACKUPS = "backups"
SCHEDULE = "backup_schedule"
BACKUP_BUCKET = "backups"

INDEXES = {
    BACKUPS: [
        IndexModel([("started_at", DESCENDING)], name="newest_first"),
        IndexModel([("status", ASCENDING), ("started_at", DESCENDING)], name="by_status"),
    ]
}
