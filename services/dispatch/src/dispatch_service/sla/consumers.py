"""dispatch.sla-tracking: the events that meet a deadline (arrival meets arrive-by, a passed
inspection meets resolve-by)."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CloudEvent, JobEngineerArrived, JobInspectionPassed
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from dispatch_service.jobs import CANCELLED, JOBS, ON_SITE, RESOLVED


def sla_tracking_consumer(runtime: Any) -> Consumer:
    async def on_engineer_arrived(event: CloudEvent, uow: UnitOfWork) -> None:
        arrived: JobEngineerArrived = event.data
        now = runtime.clock.now()
        await uow.db[JOBS].update_one(
            {"_id": arrived.job_id, "priority": {"$exists": True}, "sla.arrive_by.met_at": None},
            {"$set": {"sla.arrive_by.met_at": arrived.arrived_at, "updated_at": now}},
            session=uow.session,
        )
        await uow.db[JOBS].update_one(
            {"_id": arrived.job_id, "status": {"$nin": [RESOLVED, CANCELLED]}},
            {"$set": {"status": ON_SITE}},
            session=uow.session,
        )

    async def on_inspection_passed(event: CloudEvent, uow: UnitOfWork) -> None:
        job_id = event.data.job_id
        now = runtime.clock.now()
        # A resolved job is closed: the monitor raises nothing more for it, whatever arrived before.
        await uow.db[JOBS].update_one(
            {"_id": job_id, "priority": {"$exists": True}, "sla.resolve_by.met_at": None},
            {"$set": {"sla.resolve_by.met_at": event.time, "updated_at": now}},
            session=uow.session,
        )
        await uow.db[JOBS].update_one(
            {"_id": job_id, "status": {"$ne": CANCELLED}}, {"$set": {"status": RESOLVED}}, session=uow.session
        )

    return Consumer(
        "dispatch.sla-tracking",
        {JobEngineerArrived: on_engineer_arrived, JobInspectionPassed: on_inspection_passed},
    )
