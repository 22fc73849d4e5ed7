"""Every job event into its job's timeline, and the job's summary recomputed from all its events
(so events arriving out of order across producers still give the right summary)."""

from __future__ import annotations

from compressor_contracts import CATALOGUE, CloudEvent, service_topology
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from reporting_service.timeline import domain
from reporting_service.timeline.store import EVENTS, JOBS, job_entries

QUEUE = "reporting.timeline"


async def record_in_timeline(event: CloudEvent, uow: UnitOfWork) -> None:
    entry = domain.timeline_entry(event)
    # An upsert, not an insert: a duplicate key would abort the transaction. A concurrent twin
    # conflicts on the entry and retries.
    added = await uow.db[EVENTS].update_one(
        {"_id": entry.pop("_id")}, {"$setOnInsert": entry}, upsert=True, session=uow.session
    )
    if added.upserted_id is None:
        return  # already in the timeline
    entries = await job_entries(uow.db, event.subject, domain.SUMMARY_FIELDS, session=uow.session)
    summary = domain.summarise(event.subject, entries)
    await uow.db[JOBS].replace_one({"_id": event.subject}, summary, upsert=True, session=uow.session)


def timeline_consumer() -> Consumer:
    spec = service_topology("reporting").queue("timeline")
    handled = {cls: record_in_timeline for key, cls in CATALOGUE.items() if spec.receives(key)}
    return Consumer(QUEUE, handled)
