"""Work orders in MongoDB: one document per job, changed only through `change_work_order`.

Each change loads the work order, lets pure domain code decide, stores the result on the
condition that nobody changed it meanwhile (version), and records the events in the outbox,
all in one transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from compressor_contracts import EventData
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime
from maintenance_service.work_orders.domain import Refused, WorkOrder

WORK_ORDERS = "work_orders"
INDEXES = {
    WORK_ORDERS: [
        IndexModel([("engineer.engineer_id", ASCENDING), ("status", ASCENDING)], name="by_engineer"),
        IndexModel([("customer.customer_id", ASCENDING)], name="by_customer"),
    ]
}

R = TypeVar("R")
Decision = tuple[WorkOrder, Sequence[EventData], R]


async def load(db: AsyncDatabase, job_id: str, session: AsyncClientSession | None = None) -> WorkOrder | None:
    doc = await db[WORK_ORDERS].find_one({"_id": job_id}, session=session)
    return from_document(doc) if doc else None


def from_document(doc: dict[str, Any]) -> WorkOrder:
    doc = dict(doc)
    doc.pop("_id", None)
    return WorkOrder.model_validate(doc)


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
        raise Refused(409, f"job {stored.job_id} changed meanwhile; retry")
    return stored


async def apply_to_work_order(
    uow: UnitOfWork,
    job_id: str,
    decide: Callable[[WorkOrder], Awaitable[Decision[R]]],
    *,
    create: bool = False,
) -> R:
    """Inside a transaction: load (or create), decide, store, publish."""
    before = await load(uow.db, job_id, uow.session)
    if before is None:
        if not create:
            raise Refused(404, f"no work order for job {job_id}", field="job_id")
        before = WorkOrder(job_id=job_id)
    after, events, result = await decide(before)
    stored = await save(uow, before, after)
    for data in events:
        # Every event of the job shares the correlation id of its job.requested event.
        await uow.publish(data, correlation_id=stored.correlation_id)
    return result


async def change_work_order(
    runtime: Runtime, job_id: str, decide: Callable[[WorkOrder, UnitOfWork], Awaitable[Decision[R]]]
) -> R:
    """A command from an HTTP route: one transaction; a Refused decision writes and publishes nothing."""

    async def work(uow: UnitOfWork) -> R:
        async def decide_in(order: WorkOrder) -> Decision[R]:
            return await decide(order, uow)

        return await apply_to_work_order(uow, job_id, decide_in)

    return await runtime.outbox.transact(work)
