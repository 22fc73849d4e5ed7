"""Jobs in MongoDB, as intake tracks them: open until closed or cancelled."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, IndexModel

from compressor_contracts import Priority, RequestChannel
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from intake_service.documents import Document, from_document, to_document
from intake_service.requests.domain import Job, JobStatus
from intake_service.settings import IntakeRuntime

JOBS = "jobs"

INDEXES = {
    JOBS: [
        # Same Idempotency-Key, same job: concurrent retries collide here and return the first job.
        IndexModel(
            [("idempotency_key", ASCENDING)],
            name="one_job_per_idempotency_key",
            unique=True,
            partialFilterExpression={"idempotency_key": {"$exists": True}},
        ),
        # One proactive request per equipment and due period, however many scheduler runs and replicas.
        IndexModel(
            [("proactive_period", ASCENDING)],
            name="one_job_per_due_period",
            unique=True,
            partialFilterExpression={"proactive_period": {"$exists": True}},
        ),
        IndexModel(
            [("status", ASCENDING), ("priority_rank", ASCENDING), ("requested_at", ASCENDING)], name="management_view"
        ),
        IndexModel([("customer_id", ASCENDING), ("status", ASCENDING)], name="by_customer"),
    ],
}

_UNIQUE_WHEN_PRESENT = ("idempotency_key", "proactive_period")


def _document(job: Job) -> Document:
    """The job with the fields the management view filters and sorts by."""
    requested = job.requested
    doc = to_document(
        job,
        "job_id",
        channel=requested.channel,
        priority=requested.priority,
        priority_rank=requested.priority.rank,
        customer_id=requested.customer.customer_id,
        site_id=requested.site.site_id,
        region=requested.site.region,
        equipment_id=requested.equipment.equipment_id,
    )
    for name in _UNIQUE_WHEN_PRESENT:  # their unique indexes hold only the jobs that have one
        if doc[name] is None:
            del doc[name]
    return doc


def _job(doc: Document) -> Job:
    return from_document(Job, doc, "job_id")


async def load_job(source: IntakeRuntime | UnitOfWork, job_id: str) -> Job | None:
    session = source.session if isinstance(source, UnitOfWork) else None
    doc = await source.db[JOBS].find_one({"_id": job_id}, session=session)
    return _job(doc) if doc else None


async def job_with_idempotency_key(runtime: IntakeRuntime, key: str) -> Job | None:
    doc = await runtime.db[JOBS].find_one({"idempotency_key": key})
    return _job(doc) if doc else None


async def jobs_by_id(runtime: IntakeRuntime, job_ids: list[str]) -> dict[str, Job]:
    return {doc["_id"]: _job(doc) async for doc in runtime.db[JOBS].find({"_id": {"$in": job_ids}})}


async def is_period_raised(runtime: IntakeRuntime, period: str) -> bool:
    return await runtime.db[JOBS].find_one({"proactive_period": period}, {"_id": 1}) is not None


async def period_taken(uow: UnitOfWork, period: str) -> bool:
    """Inside the transaction that would raise it: a concurrent raiser conflicts on the unique index."""
    return await uow.db[JOBS].find_one({"proactive_period": period}, {"_id": 1}, session=uow.session) is not None


async def insert_job(uow: UnitOfWork, job: Job) -> None:
    """Raises DuplicateKeyError when a job with its Idempotency-Key or due period exists."""
    await uow.db[JOBS].insert_one(_document(job), session=uow.session)


async def save_job(uow: UnitOfWork, before: Job, after: Job) -> None:
    """Store `after` on the condition that the job is still as `before` found it (its status)."""
    if after == before:
        return
    result = await uow.db[JOBS].replace_one(
        {"_id": before.job_id, "status": before.status.value}, _document(after), session=uow.session
    )
    if result.matched_count == 0:
        raise Refusal.conflict(f"the job is no longer {before.status.value}", field="job_id")


async def close_job(uow: UnitOfWork, job_id: str, at: datetime) -> None:
    """The job closed (feedback's job.closed); a job intake does not know is left alone."""
    before = await load_job(uow, job_id)
    if before is not None:
        await save_job(uow, before, before.close(at))


async def jobs_page(
    runtime: IntakeRuntime,
    *,
    status: JobStatus | None,
    priority: Priority | None,
    channel: RequestChannel | None,
    customer_id: str | None,
    region: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Job], int]:
    """The management view: by priority (most urgent first), then age (oldest first)."""
    filters = (
        ("status", status),
        ("priority", priority),
        ("channel", channel),
        ("customer_id", customer_id),
        ("region", region),
    )
    query = {name: str(value) for name, value in filters if value is not None}
    jobs = runtime.db[JOBS]
    found = (
        await jobs.find(query)
        .sort([("priority_rank", 1), ("requested_at", 1), ("_id", 1)])
        .skip(offset)
        .limit(limit)
        .to_list()
    )
    return [_job(doc) for doc in found], await jobs.count_documents(query)


async def open_jobs_of(runtime: IntakeRuntime, customer_id: str) -> list[Job]:
    """A customer's open jobs, oldest first."""
    query = {"customer_id": customer_id, "status": JobStatus.OPEN.value}
    return [_job(doc) for doc in await runtime.db[JOBS].find(query).sort("requested_at", 1).to_list()]


async def open_jobs_by_priority(runtime: IntakeRuntime) -> dict[Priority, tuple[int, datetime]]:
    """Per priority with open jobs: how many, and when the oldest was requested."""
    groups = await (
        await runtime.db[JOBS].aggregate(
            [
                {"$match": {"status": JobStatus.OPEN.value}},
                {"$group": {"_id": "$priority", "open": {"$sum": 1}, "oldest": {"$min": "$requested_at"}}},
            ]
        )
    ).to_list()
    return {Priority(group["_id"]): (group["open"], group["oldest"]) for group in groups}
