"""The SLA monitor: raises job.sla_at_risk and job.sla_breached, each once per job and deadline.

Each alert is one transaction: a conditional update that sets the deadline's raised-at only if it
is still unset, and the event. Two replicas running the monitor at once conflict on that update;
the loser is retried, finds it set and publishes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from compressor_contracts import JobSlaAtRisk, JobSlaBreached, Priority, SlaDeadline, SlaRiskReason
from compressor_kit.outbox import UnitOfWork
from dispatch_service.jobs import CLOSED, JOBS, engineer_of
from dispatch_service.settings import as_dispatch_settings
from dispatch_service.sla.domain import DEADLINES, due_alerts

log = logging.getLogger(__name__)

BATCH = 500
MET_BY = {"arrive_by": "the engineer's arrival on site", "resolve_by": "the passed quality inspection"}


async def check_slas(runtime: Any) -> dict[str, int]:
    """One monitor round at the runtime's clock; returns how many alerts this round raised."""
    now: datetime = runtime.clock.now()
    raised = {"at_risk": 0, "breached": 0}
    for deadline in DEADLINES:
        prefix = f"sla.{deadline}"
        query = {
            "status": {"$nin": list(CLOSED)},
            f"{prefix}.met_at": None,
            "$or": [
                {f"{prefix}.at_risk_at": {"$lte": now}, f"{prefix}.at_risk_raised_at": None},
                {f"{prefix}.due_at": {"$lte": now}, f"{prefix}.breached_at": None},
            ],
        }
        due = [doc["_id"] async for doc in runtime.db[JOBS].find(query, {"_id": 1}).limit(BATCH)]
        for job_id in due:
            at_risk, breached = await runtime.outbox.transact(
                lambda uow, job_id=job_id, deadline=deadline: _alert(uow, job_id, deadline, now)
            )
            raised["at_risk"] += at_risk
            raised["breached"] += breached
    if any(raised.values()):
        log.info("SLA monitor raised %s", raised)
    return raised


async def _alert(uow: UnitOfWork, job_id: str, deadline: str, now: datetime) -> tuple[int, int]:
    job = await uow.db[JOBS].find_one({"_id": job_id}, session=uow.session)
    if job is None or job["status"] in CLOSED:
        return 0, 0
    state = job["sla"][deadline]
    at_risk, breached = due_alerts(state, now)
    prefix = f"sla.{deadline}"
    engineer = engineer_of(job)
    priority = Priority(job["priority"])
    who = f"{engineer.name} ({engineer.engineer_id})" if engineer else "nobody (unassigned)"
    committed = "committed" if job.get("commitment") else "SLA target"
    raised = [0, 0]
    if at_risk and await _claim(uow, job_id, f"{prefix}.at_risk_raised_at", now):
        await uow.publish(
            JobSlaAtRisk(
                job_id=job_id,
                deadline=SlaDeadline(deadline),
                due_at=state["due_at"],
                reason=SlaRiskReason.DEADLINE_APPROACHING,
                priority=priority,
                engineer=engineer,
                detail=f"{priority.value} job {job_id}: most of the time to the {committed} {deadline} "
                f"({state['due_at'].isoformat()}) is gone without {MET_BY[deadline]}; engineer: {who}.",
            ),
            correlation_id=job["correlation_id"],
        )
        raised[0] = 1
    if breached and await _claim(uow, job_id, f"{prefix}.breached_at", now):
        await uow.publish(
            JobSlaBreached(
                job_id=job_id,
                deadline=SlaDeadline(deadline),
                due_at=state["due_at"],
                priority=priority,
                engineer=engineer,
                detail=f"{priority.value} job {job_id}: the {committed} {deadline} "
                f"({state['due_at'].isoformat()}) passed without {MET_BY[deadline]}; engineer: {who}.",
            ),
            correlation_id=job["correlation_id"],
        )
        raised[1] = 1
    return raised[0], raised[1]


async def _claim(uow: UnitOfWork, job_id: str, flag: str, now: datetime) -> bool:
    result = await uow.db[JOBS].update_one(
        {"_id": job_id, flag: None}, {"$set": {flag: now, "updated_at": now}}, session=uow.session
    )
    return result.modified_count == 1


def monitor_interval(settings: Any) -> float:
    return as_dispatch_settings(settings).sla_monitor_interval_seconds
