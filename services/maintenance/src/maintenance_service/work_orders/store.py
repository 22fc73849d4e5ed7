"""Work orders in MongoDB: one document per job, changed only through `change_work_order`.

Each change loads the work order, lets pure domain code decide, stores the result on the
condition that nobody changed it meanwhile (version), and records the events in the outbox,
all in one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel

from compressor_contracts import EventData
from compressor_kit.outbox import UnitOfWork
from compressor_kit.refusals import Refusal
from maintenance_service.settings import MaintenanceRuntime
from maintenance_service.work_orders.domain import Status, WorkOrder

WORK_ORDERS = "work_orders"
INDEXES = {
    WORK_ORDERS: [
        IndexModel([("engineer.engineer_id", ASCENDING), ("status", ASCENDING)], name="by_engineer"),
        IndexModel([("customer.customer_id", ASCENDING)], name="by_customer"),
    ]
}

R = TypeVar("R")
Decision = tuple[WorkOrder, Sequence[EventData], R]
"""What a decide function returns: the new work order, the events to publish, and its answer."""


def from_document(doc: Mapping[str, Any]) -> WorkOrder:
    fields = dict(doc)
    fields.pop("_id", None)
    return WorkOrder.model_validate(fields)


async def find(runtime: MaintenanceRuntime, job_id: str) -> WorkOrder | None:
    """The work order as stored now (outside a transaction: for reading)."""
    doc = await runtime.db[WORK_ORDERS].find_one({"_id": job_id})
    return from_document(doc) if doc else None


async def find_all(
    runtime: MaintenanceRuntime, *, engineer_id: str | None, status: Status | None, limit: int, offset: int
) -> tuple[list[WorkOrder], int]:
    """One page of work orders by job id (of one engineer, in one status, if given), and how many in all."""
    query: dict[str, Any] = {}
    if engineer_id is not None:
        query["engineer.engineer_id"] = engineer_id
    if status is not None:
        query["status"] = status.value
    collection = runtime.db[WORK_ORDERS]
    total = await collection.count_documents(query)
    docs = collection.find(query).sort("_id", 1).skip(offset).limit(limit)
    return [from_document(doc) async for doc in docs], total


async def load(uow: UnitOfWork, job_id: str) -> WorkOrder | None:
    """The work order within the unit of work's transaction."""
    doc = await uow.db[WORK_ORDERS].find_one({"_id": job_id}, session=uow.session)
    return from_document(doc) if doc else None


async def save(uow: UnitOfWork, before: WorkOrder, after: WorkOrder) -> WorkOrder:
    if after == before:
        return before
    stored = after.model_copy(update={"version": before.version + 1})
    doc = {"_id": stored.job_id, **stored.model_dump(mode="json")}
    # The version condition keeps two replicas from both applying a decision taken on the same state.
    result = await uow.db[WORK_ORDERS].replace_one(
        {"_id": stored.job_id, "version": before.version}, doc, upsert=before.version == 0, session=uow.session
    )
    if result.matched_count == 0 and result.upserted_id is None:
        raise Refusal.conflict(f"job {stored.job_id} changed meanwhile; retry")
    return stored


async def apply_to_work_order(
    uow: UnitOfWork,
    job_id: str,
    decide: Callable[[WorkOrder], Awaitable[Decision[R]]],
    *,
    create: bool = False,
) -> R:
    """Inside a transaction: load (or create), decide, store, publish."""
    before = await load(uow, job_id)
    if before is None:
        if not create:
            raise Refusal.not_found(f"no work order for job {job_id}", field="job_id")
        before = WorkOrder(job_id=job_id)
    after, events, result = await decide(before)
    stored = await save(uow, before, after)
    for data in events:
        # Every event of the job shares the correlation id of its job.requested event.
        await uow.publish(data, correlation_id=stored.correlation_id)
    return result


async def change_work_order(
    runtime: MaintenanceRuntime, job_id: str, decide: Callable[[WorkOrder, UnitOfWork], Awaitable[Decision[R]]]
) -> R:
    """A command from an HTTP route: one transaction; a refused decision writes and publishes nothing."""

    async def work(uow: UnitOfWork) -> R:
        async def decide_in(order: WorkOrder) -> Decision[R]:
            return await decide(order, uow)

        return await apply_to_work_order(uow, job_id, decide_in)

    return await runtime.outbox.transact(work)
