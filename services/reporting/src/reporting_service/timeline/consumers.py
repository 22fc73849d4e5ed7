"""Every job event, once, in one transaction: into its job's timeline, the job's summary updated (from
the stored summary alone when the event comes after all the others, recomputed from all its events
when it does not, so events arriving out of order across producers still give the right summary), and
what the event changes for the job's record (a passed inspection makes it due, a cancellation abandons
it, a signature after it was published adds a version). The record's content is built later from the
stored timeline (`records/publisher.py`), so nothing else keeps a copy of the events."""

from __future__ import annotations

from typing import Any

from compressor_contracts import CATALOGUE, CloudEvent, JobCancelled, JobInspectionPassed, JobSigned
from compressor_kit.consumer import Consumer
from compressor_kit.outbox import UnitOfWork
from reporting_service.records import domain as records
from reporting_service.records import store as record_store
from reporting_service.settings import ReportingRuntime
from reporting_service.timeline import domain, store


async def take_event(event: CloudEvent[Any], uow: UnitOfWork) -> None:
    entry = domain.timeline_entry(event)
    if not await store.add_entry(uow, entry):
        return  # already in the timeline, and so already applied
    summary = await store.summary_in(uow, event.subject)
    entry = store.as_stored(uow, entry)
    if summary is not None and domain.follows(summary, entry):
        after = domain.summary_after(summary, entry)
        await store.update_summary(uow, summary, after)
    else:
        entries = await store.entries_in(uow, event.subject, domain.SUMMARY_FIELDS)
        after = domain.summarise(event.subject, entries)
        await store.save_summary(uow, after)
    if after.get("inspection_passed_at") is not None:  # no record version exists before (first_version_due)
        await record_store.fact_arrived(uow, event.subject)  # what a version backing off or parked waited for, maybe
    if isinstance(event.data, JobInspectionPassed):
        # One record per job: a repeated pass finds version 1 and changes nothing.
        await record_store.make_first_version_due(uow, records.first_version(event))
    elif isinstance(event.data, JobCancelled):
        await record_store.abandon_pending(uow, event.subject)
    elif isinstance(event.data, JobSigned):
        # Signed before the record's first version is due: that version reads it from the timeline.
        await record_store.signature_arrived(uow, event.subject, event.data.model_dump(mode="json"), event.time)


def consumers(runtime: ReportingRuntime) -> list[Consumer]:
    spec = runtime.topology.queue("timeline")
    handled = {cls: take_event for key, cls in CATALOGUE.items() if spec.receives(key)}
    return [Consumer(spec.name, handled)]
