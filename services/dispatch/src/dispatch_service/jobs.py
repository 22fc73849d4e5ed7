"""Dispatch's copy of each job: what matching, pre-diagnosis and the SLA monitor need, in one
document per job (`jobs`, _id = job id, so a job exists once), plus the per-engineer daily
bookings (`engineer_days`) every assignment writes, so that two concurrent assignments to the
same engineer and day conflict and one is retried (no overbooking across replicas)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from compressor_contracts import Engineer, Equipment, Priority, Site
from compressor_kit.outbox import UnitOfWork
from compressor_kit.problems import Problem
from dispatch_service.matching.domain import Booking

JOBS = "jobs"
ENGINEERS = "engineers"
ENGINEER_DAYS = "engineer_days"
ASSIGNMENTS = "assignments"
COUNTERS = "counters"

UNASSIGNED, ASSIGNED, PREDIAGNOSED, DISPATCHED, ON_SITE, RESOLVED, CANCELLED = (
    "unassigned",
    "assigned",
    "prediagnosed",
    "dispatched",
    "on_site",
    "resolved",
    "cancelled",
)
STATUSES = (UNASSIGNED, ASSIGNED, PREDIAGNOSED, DISPATCHED, ON_SITE, RESOLVED, CANCELLED)
CLOSED = (RESOLVED, CANCELLED)
PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}

INDEXES = {
    JOBS: [
        IndexModel([("status", ASCENDING), ("priority_rank", ASCENDING), ("requested_at", ASCENDING)], name="queue"),
        IndexModel([("engineer.engineer_id", ASCENDING), ("status", ASCENDING)], name="by_engineer"),
        IndexModel([("sla.arrive_by.at_risk_at", ASCENDING)], name="arrive_by_at_risk"),
        IndexModel([("sla.resolve_by.at_risk_at", ASCENDING)], name="resolve_by_at_risk"),
    ],
    # One row per (re)assignment: revision 1 is the first, so a job is assigned exactly once per revision.
    ASSIGNMENTS: [IndexModel([("job_id", ASCENDING), ("revision", ASCENDING)], unique=True, name="one_per_revision")],
    ENGINEER_DAYS: [IndexModel([("engineer_id", ASCENDING), ("day", ASCENDING)], unique=True, name="engineer_day")],
    ENGINEERS: [
        IndexModel([("regions", ASCENDING), ("active", ASCENDING)], name="by_region"),
    ],
}


def engineer_of(job: dict[str, Any]) -> Engineer | None:
    return Engineer(**job["engineer"]) if job.get("engineer") else None


def equipment_of(job: dict[str, Any]) -> Equipment:
    return Equipment.model_validate(job["equipment"])


def site_of(job: dict[str, Any]) -> Site:
    return Site.model_validate(job["site"])


async def load_job(uow_or_db: Any, job_id: str, *, session: Any = None) -> dict[str, Any]:
    """The job, or a 404 problem naming job_id."""
    job = await uow_or_db[JOBS].find_one({"_id": job_id}, session=session)
    if job is None or job.get("status") is None or "priority" not in job:
        raise Problem(404, f"unknown job {job_id}", field="job_id")
    return job


def day_key(engineer_id: str, day: date) -> str:
    return f"{engineer_id}|{day.isoformat()}"


async def book(uow: UnitOfWork, engineer_id: str, day: date, job_id: str, start: datetime, end: datetime) -> None:
    # Every booking writes the engineer's day document: concurrent bookings of one engineer and day
    # conflict there, and the losing transaction is retried against the new state.
    await uow.db[ENGINEER_DAYS].update_one(
        {"_id": day_key(engineer_id, day)},
        {
            "$setOnInsert": {"engineer_id": engineer_id, "day": day.isoformat()},
            "$push": {"bookings": {"job_id": job_id, "start": start, "end": end}},
            "$inc": {"count": 1},
        },
        upsert=True,
        session=uow.session,
    )


async def release(uow: UnitOfWork, engineer_id: str, day: str | None, job_id: str) -> None:
    if day is None:
        return
    await uow.db[ENGINEER_DAYS].update_one(
        {"_id": f"{engineer_id}|{day}", "bookings.job_id": job_id},
        {"$pull": {"bookings": {"job_id": job_id}}, "$inc": {"count": -1}},
        session=uow.session,
    )


async def bookings_of(
    uow: UnitOfWork, engineer_ids: list[str], first_day: date, last_day: date
) -> dict[str, dict[date, list[Booking]]]:
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


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    """The job as the HTTP API shows it."""
    sla = {
        name: {
            k: v
            for k, v in state.items()
            if k in ("due_at", "at_risk_at", "met_at", "at_risk_raised_at", "breached_at")
        }
        for name, state in (job.get("sla") or {}).items()
    }
    return {
        "job_id": job["_id"],
        "status": job["status"],
        "priority": job["priority"],
        "requested_at": job["requested_at"],
        "customer": job.get("customer"),
        "site": job["site"],
        "equipment": job["equipment"],
        "fault_description": job["fault_description"],
        "engineer": job.get("engineer"),
        "scheduled_window": job.get("scheduled_window"),
        "matched_skills": job.get("matched_skills", []),
        "assignment_mode": job.get("assignment_mode"),
        "assignment_revision": job.get("assignment_revision", 0),
        "reason": job.get("reason"),
        "prediagnosis": job.get("prediagnosis"),
        "commitment": job.get("commitment"),
        "dispatch": job.get("dispatch"),
        "sla": sla,
        "cancelled_at": job.get("cancelled_at"),
    }
