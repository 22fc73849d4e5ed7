"""Jobs in MongoDB: one document per job (`jobs`, _id = job id, so a job exists once).

Every change loads the job, lets pure domain code decide the new state, and stores the fields that
changed on the condition that the job's status and assignment revision are still the ones read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from pymongo import ASCENDING, IndexModel

from compressor_contracts import CloudEvent, EventData, Priority
from compressor_kit.mongo import IndexSpec
from compressor_kit.outbox import UnitOfWork
from compressor_kit.pagination import Page
from compressor_kit.refusals import Refusal
from dispatch_service.jobs.domain import CLOSED, Job, JobStatus
from dispatch_service.settings import DispatchRuntime

JOBS = "jobs"

INDEXES: IndexSpec = {
    JOBS: [
        IndexModel([("status", ASCENDING), ("priority_rank", ASCENDING), ("requested_at", ASCENDING)], name="queue"),
        IndexModel([("engineer.engineer_id", ASCENDING), ("status", ASCENDING)], name="by_engineer"),
        IndexModel([("sla.arrive_by.at_risk_at", ASCENDING)], name="arrive_by_at_risk"),
        IndexModel([("sla.resolve_by.at_risk_at", ASCENDING)], name="resolve_by_at_risk"),
    ],
}

QUEUE_ORDER = [("priority_rank", ASCENDING), ("requested_at", ASCENDING), ("_id", ASCENDING)]


def _bson(value: object) -> object:
    """A dumped model's value as MongoDB stores it: enums by value, dates (not datetimes) as ISO text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _bson(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_bson(v) for v in value]
    return value


def _document(job: Job) -> dict[str, Any]:
    body = {key: _bson(value) for key, value in job.model_dump(exclude={"job_id"}).items()}
    return {"_id": job.job_id, "priority_rank": job.priority.rank, **body}


def _job(doc: Mapping[str, Any]) -> Job | None:
    """The job, or None for a tombstone (a job cancelled before its request came)."""
    if doc.get("status") is None or "priority" not in doc:
        return None
    return Job.model_validate({**doc, "job_id": doc["_id"]})


def _changes(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The dotted paths whose value differs; embedded documents present on both sides are compared field by field."""
    changed: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            changed.update(_changes(old, value, f"{prefix}{key}."))
        elif old != value:
            changed[f"{prefix}{key}"] = value
    return changed


async def status_of(uow: UnitOfWork, job_id: str) -> JobStatus | None:
    """The job's status, tombstones included; None when dispatch never heard of the job."""
    doc = await uow.db[JOBS].find_one({"_id": job_id}, {"status": 1}, session=uow.session)
    return None if doc is None else JobStatus(doc["status"])


async def find(uow: UnitOfWork, job_id: str) -> Job | None:
    doc = await uow.db[JOBS].find_one({"_id": job_id}, session=uow.session)
    return None if doc is None else _job(doc)


async def load(uow: UnitOfWork, job_id: str) -> Job:
    """The job, or a not-found refusal naming job_id."""
    job = await find(uow, job_id)
    if job is None:
        raise Refusal.not_found(f"unknown job {job_id}", field="job_id")
    return job


async def read(runtime: DispatchRuntime, job_id: str) -> Job:
    """The job outside a transaction (for reading), or a not-found refusal naming job_id."""
    doc = await runtime.db[JOBS].find_one({"_id": job_id})
    job = None if doc is None else _job(doc)
    if job is None:
        raise Refusal.not_found(f"unknown job {job_id}", field="job_id")
    return job


async def insert(uow: UnitOfWork, job: Job) -> None:
    await uow.db[JOBS].insert_one(_document(job), session=uow.session)


async def insert_tombstone(uow: UnitOfWork, job_id: str, now: datetime) -> None:
    """A job cancelled before its request came: keeps the late request from being matched."""
    await uow.db[JOBS].insert_one(
        {"_id": job_id, "status": JobStatus.CANCELLED.value, "cancelled_at": now, "updated_at": now},
        session=uow.session,
    )


async def save(uow: UnitOfWork, before: Job, after: Job) -> Job:
    """Store what changed from `before` to `after`, if the job is still in the state read."""
    changes = _changes(_document(before), _document(after))
    if not changes:
        return before
    # Conditional on the state read: a concurrent (re)assignment or transition makes this match nothing.
    result = await uow.db[JOBS].update_one(
        {"_id": before.job_id, "status": before.status.value, "assignment_revision": before.assignment_revision},
        {"$set": changes},
        session=uow.session,
    )
    if result.matched_count != 1:
        raise Refusal.conflict(f"job {before.job_id} changed meanwhile; retry", field="job_id")
    return after


async def apply(
    uow: UnitOfWork, before: Job, after: Job, events: Sequence[EventData], *, cause: CloudEvent[Any] | None = None
) -> Job:
    """Store a decision and record its events; every event of the job shares the correlation id of its
    job.requested event (or continues the event that caused it)."""
    stored = await save(uow, before, after)
    for data in events:
        await uow.publish(data, cause=cause, correlation_id=before.correlation_id)
    return stored


async def change_job(runtime: DispatchRuntime, job_id: str, decide: Callable[[Job], tuple[Job, EventData]]) -> Job:
    """A command on one job: load it, decide (the new state and its event), store and publish in one
    transaction; a refused decision writes and publishes nothing."""

    async def work(uow: UnitOfWork) -> Job:
        before = await load(uow, job_id)
        after, event = decide(before)
        return await apply(uow, before, after, [event])

    return await runtime.outbox.transact(work)


@dataclass(frozen=True)
class JobFilter:
    status: JobStatus | None = None
    priority: Priority | None = None
    engineer_id: str | None = None
    region: str | None = None


async def page(runtime: DispatchRuntime, where: JobFilter, limit: int, offset: int) -> Page[Job]:
    """Jobs (no tombstones), most urgent first: priority, then the oldest request."""
    query: dict[str, Any] = {"priority": {"$exists": True}}
    if where.status is not None:
        query["status"] = where.status.value
    if where.priority is not None:
        query["priority"] = where.priority.value
    if where.engineer_id:
        query["engineer.engineer_id"] = where.engineer_id
    if where.region:
        query["site.region"] = where.region
    total = await runtime.db[JOBS].count_documents(query)
    docs = await runtime.db[JOBS].find(query).sort(QUEUE_ORDER).skip(offset).limit(limit).to_list()
    jobs = [job for job in map(_job, docs) if job is not None]
    return Page(items=jobs, total=total, limit=limit, offset=offset)


async def due_for_alert(runtime: DispatchRuntime, deadline: str, now: datetime, limit: int) -> list[str]:
    """Ids of open jobs whose `deadline` is at risk or breached at `now` and not yet raised as such."""
    prefix = f"sla.{deadline}"
    query = {
        "status": {"$nin": [status.value for status in CLOSED]},
        f"{prefix}.met_at": None,
        "$or": [
            {f"{prefix}.at_risk_at": {"$lte": now}, f"{prefix}.at_risk_raised_at": None},
            {f"{prefix}.due_at": {"$lte": now}, f"{prefix}.breached_at": None},
        ],
    }
    return [doc["_id"] async for doc in runtime.db[JOBS].find(query, {"_id": 1}).limit(limit)]


async def sla_counts(runtime: DispatchRuntime, deadline: str, now: datetime) -> dict[str, int]:
    """How many open jobs have `deadline` at risk (past at_risk_at, before due_at) and breached (past
    due_at) at `now` and not met: the dispatch SLA gauges (sla/metrics.py)."""
    prefix = f"sla.{deadline}"
    open_unmet = {"status": {"$nin": [status.value for status in CLOSED]}, f"{prefix}.met_at": None}
    at_risk = runtime.db[JOBS].count_documents(
        {**open_unmet, f"{prefix}.at_risk_at": {"$lte": now}, f"{prefix}.due_at": {"$gt": now}}
    )
    breached = runtime.db[JOBS].count_documents({**open_unmet, f"{prefix}.due_at": {"$lte": now}})
    return {"at_risk": await at_risk, "breached": await breached}
