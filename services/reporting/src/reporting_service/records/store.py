"""Where records live: the job's events as facts (`record_facts`), every record version
(`records`, one document per version, a published version never changes) and archive stubs."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

FACTS = "record_facts"
RECORDS = "records"
ARCHIVED = "archived_records"
REPORTS_BUCKET = "reports"

INDEXES = {
    FACTS: [IndexModel([("job_id", ASCENDING), ("time", ASCENDING)], name="job_in_time")],
    RECORDS: [
        IndexModel([("record_id", ASCENDING), ("version", ASCENDING)], name="one_per_version", unique=True),
        IndexModel([("job_id", ASCENDING), ("version", DESCENDING)], name="by_job"),
        IndexModel([("status", ASCENDING), ("created_at", ASCENDING)], name="by_status"),
        IndexModel([("published_at", ASCENDING)], name="by_published_at"),
    ],
    ARCHIVED: [IndexModel([("job_id", ASCENDING)], name="by_job", unique=True)],
}


def version_id(record_id: str, version: int) -> str:
    return f"{record_id}.v{version}"


async def latest_published(db, *, job_id: str | None = None, record_id: str | None = None) -> dict[str, Any] | None:
    query: dict[str, Any] = {"status": "published"}
    query.update({"job_id": job_id} if job_id else {"record_id": record_id})
    return await db[RECORDS].find_one(query, sort=[("version", DESCENDING)])
