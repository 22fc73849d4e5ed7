"""The proactive maintenance scheduler: raises one request per unit and due period, and one per
follow-up visit a review planned.

Safe however often it runs and however many replicas run it at once: each request is inserted
under a unique `proactive_period` key in the same transaction as its job.requested, so a second
run (here or on another replica) finds the key taken and publishes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pymongo.errors import DuplicateKeyError

from compressor_contracts import Priority
from compressor_kit.outbox import UnitOfWork
from intake_service.customer_file import store as file_store
from intake_service.customer_file.domain import FollowUpVisit, UnitOnFile
from intake_service.ids import new_id
from intake_service.proactive import domain
from intake_service.requests import store as jobs
from intake_service.requests.domain import proactive_job
from intake_service.settings import IntakeRuntime

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    due: int = 0
    """Units due for service and follow-up visits due, whether raised now or earlier."""
    raised: list[str] = field(default_factory=list)
    """Job ids of the requests this run raised (periods another run already raised are not listed)."""


async def raise_due_requests(runtime: IntakeRuntime) -> ScanResult:
    lead_days = runtime.settings.proactive_lead_days
    today = runtime.clock.now().date()
    result = ScanResult()
    for unit in await file_store.units_due(runtime, today, lead_days):
        if not domain.is_due(unit, today, lead_days):
            continue
        result.due += 1
        priority = domain.proactive_priority(unit, today)
        await _raise(runtime, result, unit, domain.due_period(unit), unit.maintenance_due_text(), priority)
    for visit in await file_store.follow_up_visits_due(runtime, today, lead_days):
        if not domain.is_visit_due(visit, today, lead_days):
            continue
        result.due += 1
        visited = await file_store.load_unit(runtime, visit.equipment_id)
        if visited is None:
            continue
        fault, priority = domain.follow_up_text(visit), domain.follow_up_priority(visit, today)
        await _raise(runtime, result, visited, domain.follow_up_period(visit), fault, priority, visit=visit)
    if result.raised:
        log.info("proactive scheduler raised %d request(s)", len(result.raised))
    return result


async def _raise(
    runtime: IntakeRuntime,
    result: ScanResult,
    unit: UnitOnFile,
    period: str,
    fault: str,
    priority: Priority,
    visit: FollowUpVisit | None = None,
) -> None:
    if await jobs.is_period_raised(runtime, period):
        return  # raised by an earlier run
    customer = await file_store.load_customer(runtime, unit.customer_id)
    site = await file_store.load_site(runtime, unit.site_id)
    if customer is None or site is None:
        log.warning("equipment %s has no customer or site on file; skipped", unit.equipment_id)
        return
    job = proactive_job(
        new_id("JOB"),
        unit,
        customer,
        site,
        period=period,
        fault_description=fault,
        priority=priority,
        now=runtime.clock.now(),
    )

    async def record(uow: UnitOfWork) -> None:
        await jobs.insert_job(uow, job)
        if visit is not None:
            await file_store.mark_visit_raised(uow, visit, job.job_id)
        await uow.publish(job.requested)

    try:
        await runtime.outbox.transact(record)
    except DuplicateKeyError:
        return  # another run or replica raised this period a moment ago
    result.raised.append(job.job_id)


async def proactive_scheduler(runtime: IntakeRuntime) -> None:
    """The periodic round (interval: PROACTIVE_SCAN_INTERVAL_SECONDS)."""
    await raise_due_requests(runtime)
