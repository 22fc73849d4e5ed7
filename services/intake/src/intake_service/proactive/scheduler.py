"""The proactive maintenance scheduler: raises one request per unit and due period, and one per
follow-up visit a review planned.

Safe however often it runs and however many replicas run it at once: each request is inserted
under a unique `proactive_period` key in the same transaction as its job.requested, so a second
run (here or on another replica) finds the key taken and publishes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import DuplicateKeyError

from compressor_contracts import Contact, Priority, RequestChannel
from compressor_kit.runtime import Runtime
from intake_service.customer_file.store import CUSTOMERS, EQUIPMENT, FOLLOW_UP_VISITS, SITES
from intake_service.ids import new_id
from intake_service.proactive import domain
from intake_service.requests import domain as requests
from intake_service.requests.store import JOBS
from intake_service.settings import intake_settings

log = logging.getLogger(__name__)

Doc = dict[str, Any]


@dataclass
class ScanResult:
    due: int = 0
    """Units due for service and follow-up visits due, whether raised now or earlier."""
    raised: list[str] = field(default_factory=list)
    """Job ids of the requests this run raised (periods another run already raised are not listed)."""


async def raise_due_requests(runtime: Runtime) -> ScanResult:
    settings = intake_settings(runtime.settings)
    today = runtime.clock.now().date()
    result = ScanResult()
    db = runtime.db
    async for equipment in db[EQUIPMENT].find(domain.due_query(today, settings.proactive_lead_days)):
        result.due += 1
        fault = requests.maintenance_due_text(equipment)
        priority = domain.proactive_priority(equipment, today)
        await _raise(runtime, result, equipment, domain.due_period(equipment), fault, priority)
    async for visit in db[FOLLOW_UP_VISITS].find(domain.follow_ups_due_query(today, settings.proactive_lead_days)):
        result.due += 1
        equipment = await db[EQUIPMENT].find_one({"_id": visit["equipment_id"]})
        if equipment is None:
            continue
        fault = domain.follow_up_text(visit)
        priority = Priority.NORMAL if visit["due_on"] < today.isoformat() else Priority.LOW
        await _raise(runtime, result, equipment, domain.follow_up_period(visit), fault, priority, visit=visit)
    if result.raised:
        log.info("proactive scheduler raised %d request(s)", len(result.raised))
    return result


async def _raise(
    runtime: Runtime,
    result: ScanResult,
    equipment: Doc,
    period: str,
    fault: str,
    priority: Priority,
    visit: Doc | None = None,
) -> None:
    db = runtime.db
    if await db[JOBS].find_one({"proactive_period": period}, {"_id": 1}) is not None:
        return  # raised by an earlier run
    customer = await db[CUSTOMERS].find_one({"_id": equipment["customer_id"]})
    site = await db[SITES].find_one({"_id": equipment["site_id"]})
    if customer is None or site is None:
        log.warning("equipment %s has no customer or site on file; skipped", equipment["_id"])
        return
    data = requests.job_requested(
        job_id=new_id("JOB"),
        channel=RequestChannel.PROACTIVE,
        priority=priority,
        customer=customer,
        contact=Contact(**customer["contacts"][0]),
        site=site,
        equipment=equipment,
        fault_description=fault,
        origin_reference=period,
        recorded_by=None,
    )
    job = requests.new_job(data, requested_at=runtime.clock.now(), proactive_period=period)

    async def record(uow) -> None:
        await uow.db[JOBS].insert_one(job, session=uow.session)
        if visit is not None:
            await uow.db[FOLLOW_UP_VISITS].update_one(
                {"_id": visit["_id"]}, {"$set": {"job_id": data.job_id}}, session=uow.session
            )
        await uow.publish(data)

    try:
        await runtime.outbox.transact(record)
    except DuplicateKeyError:
        return  # another run or replica raised this period a moment ago
    result.raised.append(data.job_id)


async def proactive_scheduler(runtime: Runtime) -> None:
    """The periodic round (interval: PROACTIVE_SCAN_INTERVAL_SECONDS)."""
    await raise_due_requests(runtime)
