"""The customer file learns from job.closed: the service goes into the equipment's history, the
last and next service move on, the review's dated proactive visits are planned, the job is no
longer open; customer_file.updated tells the others."""

from __future__ import annotations

import logging

from compressor_contracts import CloudEvent, CustomerFileUpdated, JobClosed
from compressor_kit.consumer import Consumer
from compressor_kit.messaging import PermanentFailure
from compressor_kit.outbox import UnitOfWork
from compressor_kit.runtime import Runtime
from intake_service.catalogue.store import catalogue
from intake_service.customer_file import domain
from intake_service.customer_file.store import EQUIPMENT, FOLLOW_UP_VISITS, HISTORY
from intake_service.requests.domain import CLOSED, OPEN
from intake_service.requests.store import JOBS

log = logging.getLogger(__name__)

QUEUE = "intake.customer-file"


async def record_closed_job(runtime: Runtime, event: CloudEvent, uow: UnitOfWork) -> None:
    closed: JobClosed = event.data
    outcome = closed.outcome
    db, session = uow.db, uow.session
    await db[JOBS].update_one(
        {"_id": closed.job_id, "status": OPEN},
        {"$set": {"status": CLOSED, "closed_at": event.time}},
        session=session,
    )
    # The inbox stops a redelivery; the one-entry-per-job key also stops a re-sent close (new event id).
    if await db[HISTORY].find_one({"job_id": closed.job_id}, {"_id": 1}, session=session) is not None:
        log.info("job %s is already in the service history", closed.job_id)
        return
    equipment = await db[EQUIPMENT].find_one({"_id": outcome.equipment_id}, session=session)
    if equipment is None or equipment["customer_id"] != outcome.customer_id:
        raise PermanentFailure(
            f"equipment {outcome.equipment_id} of customer {outcome.customer_id} is not in the customer file"
        )
    model = catalogue().get(equipment["model_code"])
    if model is None:
        raise PermanentFailure(f"model {equipment['model_code']} is no longer in the equipment catalogue")
    entry = {**domain.history_entry(closed), "recorded_at": runtime.clock.now()}
    await db[HISTORY].insert_one(entry, session=session)
    visits = domain.follow_up_visits(closed, equipment["site_id"])
    if visits:
        await db[FOLLOW_UP_VISITS].insert_many(visits, session=session)
    update = domain.after_service(equipment, model, closed)
    await db[EQUIPMENT].update_one({"_id": equipment["_id"]}, {"$set": update}, session=session)
    now_on_file = {**equipment, **update}
    await uow.publish(
        CustomerFileUpdated(
            job_id=closed.job_id,
            customer_id=outcome.customer_id,
            equipment_id=outcome.equipment_id,
            history_entry_id=entry["_id"],
            last_service_on=now_on_file["last_service_on"],
            running_hours=now_on_file["running_hours"],
            next_service_due_on=now_on_file["next_service_due_on"],
            next_service_due_at_hours=now_on_file["next_service_due_at_hours"],
        ),
        cause=event,
    )


def consumers(runtime: Runtime) -> list[Consumer]:
    async def on_job_closed(event: CloudEvent, uow: UnitOfWork) -> None:
        await record_closed_job(runtime, event, uow)

    return [Consumer(QUEUE, {JobClosed: on_job_closed})]
