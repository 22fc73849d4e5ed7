"""The SLA monitor: raises job.sla_at_risk and job.sla_breached, each once per job and deadline.

Each job's alerts are one transaction: the job's raised-at marks and the events. Two replicas
running the monitor at once conflict on the job; the loser is retried, finds the marks set and
publishes nothing.
"""

from __future__ import annotations

import logging

from compressor_contracts import JobSlaAtRisk, JobSlaBreached, SlaDeadline
from compressor_kit.outbox import UnitOfWork
from dispatch_service.jobs import store as jobs
from dispatch_service.settings import DispatchRuntime
from dispatch_service.sla.domain import alerts

log = logging.getLogger(__name__)

BATCH = 500


async def check_slas(runtime: DispatchRuntime) -> dict[str, int]:
    """One monitor round at the runtime's clock; returns how many alerts this round raised."""
    now = runtime.clock.now()
    raised = {"at_risk": 0, "breached": 0}
    for deadline in SlaDeadline:
        for job_id in await jobs.due_for_alert(runtime, deadline.value, now, BATCH):

            async def alert(uow: UnitOfWork, job_id: str = job_id, deadline: SlaDeadline = deadline) -> tuple[int, int]:
                job = await jobs.find(uow, job_id)
                if job is None:
                    return 0, 0
                after, events = alerts(job, deadline, now)
                await jobs.apply(uow, job, after, events)
                return (
                    sum(isinstance(e, JobSlaAtRisk) for e in events),
                    sum(isinstance(e, JobSlaBreached) for e in events),
                )

            at_risk, breached = await runtime.outbox.transact(alert)
            raised["at_risk"] += at_risk
            raised["breached"] += breached
    if any(raised.values()):
        log.info("SLA monitor raised %s", raised)
    return raised
