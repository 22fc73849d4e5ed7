"""Writing an assignment: the job, its booking, the assignment history row and job.assigned, in
the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from compressor_contracts import AssignmentMode, Engineer, JobAssigned, Priority, StaffMember, TimeWindow
from compressor_contracts.envelope import CloudEvent
from compressor_kit.outbox import UnitOfWork
from dispatch_service.engineers.domain import EngineerProfile
from dispatch_service.jobs import (
    ASSIGNED,
    ASSIGNMENTS,
    ENGINEERS,
    JOBS,
    UNASSIGNED,
    book,
    bookings_of,
    engineer_of,
    equipment_of,
    release,
    site_of,
)
from dispatch_service.matching.domain import Booking


async def engineer_profiles(uow: UnitOfWork, query: dict[str, Any], *, limit: int = 0) -> list[EngineerProfile]:
    cursor = uow.db[ENGINEERS].find(query, session=uow.session).sort("_id", 1).limit(limit)
    return [EngineerProfile.from_document(doc) async for doc in cursor]


async def bookings_around(
    uow: UnitOfWork, engineers: list[EngineerProfile], start: datetime, end: datetime
) -> dict[str, dict[date, list[Booking]]]:
    # A day either side: the engineers' local days may differ from UTC.
    return await bookings_of(
        uow,
        [e.engineer_id for e in engineers],
        (start - timedelta(days=1)).date(),
        (end + timedelta(days=1)).date(),
    )


async def record_assignment(
    uow: UnitOfWork,
    job: dict[str, Any],
    *,
    engineer: Engineer,
    day: date,
    start: datetime,
    end: datetime,
    mode: AssignmentMode,
    matched_skills: list[str],
    reason: str,
    now: datetime,
    assigned_by: StaffMember | None = None,
    cause: CloudEvent | None = None,
) -> CloudEvent:
    """Assign (or reassign) `job`; the caller holds the job as read in this transaction."""
    previous = engineer_of(job)
    revision = job.get("assignment_revision", 0) + 1
    if previous is not None:
        await release(uow, previous.engineer_id, job.get("booking_day"), job["_id"])
    await book(uow, engineer.engineer_id, day, job["_id"], start, end)
    status = job["status"] if job["status"] not in (UNASSIGNED,) else ASSIGNED
    # Conditional on the revision read: a concurrent (re)assignment makes this match nothing.
    result = await uow.db[JOBS].update_one(
        {"_id": job["_id"], "assignment_revision": job.get("assignment_revision", 0)},
        {
            "$set": {
                "status": status,
                "engineer": engineer.model_dump(),
                "scheduled_window": {"start": start, "end": end},
                "booking_day": day.isoformat(),
                "matched_skills": matched_skills,
                "assignment_mode": mode.value,
                "assignment_revision": revision,
                "reason": reason,
                "updated_at": now,
            }
        },
        session=uow.session,
    )
    if result.matched_count != 1:
        raise RuntimeError(f"job {job['_id']} changed while being assigned")
    await uow.db[ASSIGNMENTS].insert_one(
        {
            "job_id": job["_id"],
            "revision": revision,
            "engineer_id": engineer.engineer_id,
            "previous_engineer_id": previous.engineer_id if previous else None,
            "mode": mode.value,
            "reason": reason,
            "assigned_by": assigned_by.user_id if assigned_by else None,
            "scheduled_window": {"start": start, "end": end},
            "assigned_at": now,
        },
        session=uow.session,
    )
    return await uow.publish(
        JobAssigned(
            job_id=job["_id"],
            engineer=engineer,
            mode=mode,
            scheduled_window=TimeWindow(start=start, end=end),
            matched_skills=matched_skills,
            region=job["site"]["region"],
            reason=reason,
            assigned_by=assigned_by,
            previous_engineer=previous,
            priority=Priority(job["priority"]),
            equipment=equipment_of(job),
            site=site_of(job),
            fault_description=job["fault_description"],
        ),
        cause=cause,
        correlation_id=None if cause else job["correlation_id"],
    )
