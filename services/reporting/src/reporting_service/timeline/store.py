"""Where timelines live: one document per event (`timeline_events`) and one summary per job (`jobs`)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

EVENTS = "timeline_events"
JOBS = "jobs"

INDEXES = {
    EVENTS: [IndexModel([("job_id", ASCENDING), ("time", ASCENDING)], name="job_in_time")],
    JOBS: [
        IndexModel([("phase", ASCENDING), ("last_event_at", DESCENDING)], name="by_phase"),
        IndexModel([("status", ASCENDING), ("last_event_at", DESCENDING)], name="by_status"),
        IndexModel([("customer_id", ASCENDING), ("requested_at", DESCENDING)], name="by_customer"),
        IndexModel([("engineer_id", ASCENDING), ("requested_at", DESCENDING)], name="by_engineer"),
        IndexModel([("priority", ASCENDING), ("requested_at", DESCENDING)], name="by_priority"),
        IndexModel([("equipment_id", ASCENDING), ("requested_at", ASCENDING)], name="by_equipment"),
        IndexModel([("requested_at", DESCENDING)], name="by_requested_at"),
    ],
}


async def job_entries(db, job_id: str, fields: tuple[str, ...], session=None) -> list[dict[str, Any]]:
    """The job's timeline entries, with only `fields` (and `_id`)."""
    projection = dict.fromkeys(fields, 1)
    return [e async for e in db[EVENTS].find({"job_id": job_id}, projection, session=session)]
