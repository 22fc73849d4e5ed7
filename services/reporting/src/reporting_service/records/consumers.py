"""The job's events kept as facts for its record; a passed inspection makes the record due.

The record itself is written by the publisher (`publisher.py`) once its PDF is stored, so a
store outage delays the report without losing it and nothing is marked published too early.
"""

from __future__ import annotations

from compressor_contracts import CATALOGUE, CloudEvent, JobCancelled, JobInspectionPassed, service_topology
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from reporting_service.records.domain import ABANDONED, PENDING, record_id_for
from reporting_service.records.store import ARCHIVED, FACTS, RECORDS, version_id
from reporting_service.timeline.domain import timeline_entry

QUEUE = "reporting.reports"


async def keep_fact(event: CloudEvent, uow: UnitOfWork) -> None:
    if await uow.db[FACTS].find_one({"_id": event.id}, {"_id": 1}, session=uow.session):
        return
    await uow.db[FACTS].insert_one(timeline_entry(event), session=uow.session)


async def inspection_passed(event: CloudEvent, uow: UnitOfWork) -> None:
    await keep_fact(event, uow)
    if await uow.db[ARCHIVED].find_one({"job_id": event.subject}, {"_id": 1}, session=uow.session):
        return  # its record was long published and archived
    record_id = record_id_for(event.subject)
    # One record per job: a redelivered or repeated pass finds version 1 and changes nothing.
    await uow.db[RECORDS].update_one(
        {"_id": version_id(record_id, 1)},
        {
            "$setOnInsert": {
                "record_id": record_id,
                "version": 1,
                "job_id": event.subject,
                "status": PENDING,
                "created_at": event.time,
                "correlation_id": event.correlationid,
                "cause": event.model_dump_json(),
            }
        },
        upsert=True,
        session=uow.session,
    )


async def job_cancelled(event: CloudEvent, uow: UnitOfWork) -> None:
    await keep_fact(event, uow)
    await uow.db[RECORDS].update_many(
        {"job_id": event.subject, "status": PENDING}, {"$set": {"status": ABANDONED}}, session=uow.session
    )


def reports_consumer() -> Consumer:
    spec = service_topology("reporting").queue("reports")
    handlers = {cls: keep_fact for key, cls in CATALOGUE.items() if key in spec.bindings}
    handlers[JobInspectionPassed] = inspection_passed
    handlers[JobCancelled] = job_cancelled
    return Consumer(QUEUE, handlers)
