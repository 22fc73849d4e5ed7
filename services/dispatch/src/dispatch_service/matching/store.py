"""Bookings and assignments in MongoDB.

`engineer_days`: per engineer and local day, the visits booked. Every assignment writes the
engineer's day document, so two concurrent assignments to the same engineer and day conflict and
one is retried against the new state (no overbooking across replicas).
`assignments`: one row per (re)assignment of a job, revision 1 the first.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pymongo import ASCENDING, IndexModel

from compressor_kit.mongo import IndexSpec
from compressor_kit.outbox import UnitOfWork
from dispatch_service.engineers.domain import EngineerProfile
from dispatch_service.jobs.domain import Job
from dispatch_service.matching.domain import Booking

ENGINEER_DAYS = "engineer_days"
ASSIGNMENTS = "assignments"

INDEXES: IndexSpec = {
    # One row per (re)assignment: revision 1 is the first, so a job is assigned exactly once per revision.
    ASSIGNMENTS: [IndexModel([("job_id", ASCENDING), ("revision", ASCENDING)], unique=True, name="one_per_revision")],
    ENGINEER_DAYS: [IndexModel([("engineer_id", ASCENDING), ("day", ASCENDING)], unique=True, name="engineer_day")],
}


def _day_key(engineer_id: str, day: date | str) -> str:
    return f"{engineer_id}|{day if isinstance(day, str) else day.isoformat()}"


async def book(uow: UnitOfWork, engineer_id: str, day: date, job_id: str, start: datetime, end: datetime) -> None:
    # Every booking writes the engineer's day document: concurrent bookings of one engineer and day
    # conflict there, and the losing transaction is retried against the new state.
    await uow.db[ENGINEER_DAYS].update_one(
        {"_id": _day_key(engineer_id, day)},
        {
            "$setOnInsert": {"engineer_id": engineer_id, "day": day.isoformat()},
            "$push": {"bookings": {"job_id": job_id, "start": start, "end": end}},
            "$inc": {"count": 1},
        },
        upsert=True,
        session=uow.session,
    )


async def release(uow: UnitOfWork, job: Job) -> None:
    """Free the visit the job's engineer has booked for it, if any."""
    if job.engineer is None or job.booking_day is None:
        return
    await uow.db[ENGINEER_DAYS].update_one(
        {"_id": _day_key(job.engineer.engineer_id, job.booking_day), "bookings.job_id": job.job_id},
        {"$pull": {"bookings": {"job_id": job.job_id}}, "$inc": {"count": -1}},
        session=uow.session,
    )


async def bookings_around(
    uow: UnitOfWork, engineers: list[EngineerProfile], start: datetime, end: datetime
) -> dict[str, dict[date, list[Booking]]]:
    """engineer id -> local day -> bookings, for the days from `start` to `end`."""
    # A day either side: the engineers' local days may differ from UTC.
    first_day, last_day = (start - timedelta(days=1)).date(), (end + timedelta(days=1)).date()
    engineer_ids = [e.engineer_id for e in engineers]
    result: dict[str, dict[date, list[Booking]]] = {eid: {} for eid in engineer_ids}
    cursor = uow.db[ENGINEER_DAYS].find(
        {"engineer_id": {"$in": engineer_ids}, "day": {"$gte": first_day.isoformat(), "$lte": last_day.isoformat()}},
        session=uow.session,
    )
    async for doc in cursor:
        result[doc["engineer_id"]][date.fromisoformat(doc["day"])] = [
            Booking(b["job_id"], b["start"], b["end"]) for b in doc.get("bookings", [])
        ]
    return result


async def record_assignment(uow: UnitOfWork, before: Job, after: Job, assigned_by: str | None, now: datetime) -> None:
    """The assignment history row of `after`'s revision."""
    assert after.engineer is not None and after.scheduled_window is not None
    await uow.db[ASSIGNMENTS].insert_one(
        {
            "job_id": after.job_id,
            "revision": after.assignment_revision,
            "engineer_id": after.engineer.engineer_id,
            "previous_engineer_id": before.engineer.engineer_id if before.engineer else None,
            "mode": after.assignment_mode.value if after.assignment_mode else None,
            "reason": after.reason,
            "assigned_by": assigned_by,
            "scheduled_window": {"start": after.scheduled_window.start, "end": after.scheduled_window.end},
            "assigned_at": now,
        },
        session=uow.session,
    )
