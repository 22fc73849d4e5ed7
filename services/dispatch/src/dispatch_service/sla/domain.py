"""The SLA policy and the deadlines of a job. Pure Python.

A job has two deadlines: arrive-by (met by job.engineer_arrived) and resolve-by (met by
job.inspection_passed). Until the engineer commits, they are the policy targets for the
priority counted from the request; the commitment replaces them. A deadline is at risk once
`at_risk_fraction` of the time from the request to it is gone, and breached once it passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from compressor_contracts import (
    EventData,
    JobSlaAtRisk,
    JobSlaBreached,
    Priority,
    SlaDeadline,
    SlaRiskReason,
)
from compressor_kit.refusals import Refusal
from dispatch_service.jobs.domain import Deadline, Deadlines, Job, JobStatus

if TYPE_CHECKING:
    from dispatch_service.settings import DispatchSettings

MET_BY = {
    SlaDeadline.ARRIVE_BY: "the engineer's arrival on site",
    SlaDeadline.RESOLVE_BY: "the passed quality inspection",
}


@dataclass(frozen=True)
class SlaPolicy:
    arrive_within_hours: dict[str, float]
    resolve_within_hours: dict[str, float]
    at_risk_fraction: float

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> SlaPolicy:
        return cls(
            dict(settings.sla_arrive_within_hours),
            dict(settings.sla_resolve_within_hours),
            settings.sla_at_risk_fraction,
        )

    def arrive_target(self, priority: Priority, requested_at: datetime) -> datetime:
        return requested_at + timedelta(hours=self.arrive_within_hours[priority.value])

    def resolve_target(self, priority: Priority, requested_at: datetime) -> datetime:
        return requested_at + timedelta(hours=self.resolve_within_hours[priority.value])

    def at_risk_at(self, requested_at: datetime, due_at: datetime) -> datetime:
        return requested_at + (due_at - requested_at) * self.at_risk_fraction

    def deadline_state(self, requested_at: datetime, due_at: datetime) -> Deadline:
        """A deadline not yet met, nothing raised for it."""
        return Deadline(due_at=due_at, at_risk_at=self.at_risk_at(requested_at, due_at))

    def initial_deadlines(self, priority: Priority, requested_at: datetime) -> Deadlines:
        return Deadlines(
            arrive_by=self.deadline_state(requested_at, self.arrive_target(priority, requested_at)),
            resolve_by=self.deadline_state(requested_at, self.resolve_target(priority, requested_at)),
        )


def _hours(value: float) -> str:
    return f"{value:g} h"


def check_commitment(
    policy: SlaPolicy,
    priority: Priority,
    requested_at: datetime,
    now: datetime,
    arrive_by: datetime,
    resolve_by: datetime,
) -> None:
    """Refuses (naming the field) a commitment that does not respect the policy for the priority."""
    arrive_target = policy.arrive_target(priority, requested_at)
    resolve_target = policy.resolve_target(priority, requested_at)
    if arrive_by <= now:
        raise Refusal.invalid("arrive_by must be in the future", field="commitment.arrive_by")
    if arrive_by > arrive_target:
        raise Refusal.invalid(
            f"arrive_by is outside the SLA policy: a {priority.value} job must be reached on site within "
            f"{_hours(policy.arrive_within_hours[priority.value])} of the request, by {arrive_target.isoformat()}",
            field="commitment.arrive_by",
        )
    if resolve_by < arrive_by:
        raise Refusal.invalid("resolve_by must not be before arrive_by", field="commitment.resolve_by")
    if resolve_by > resolve_target:
        raise Refusal.invalid(
            f"resolve_by is outside the SLA policy: a {priority.value} job must be resolved within "
            f"{_hours(policy.resolve_within_hours[priority.value])} of the request, by {resolve_target.isoformat()}",
            field="commitment.resolve_by",
        )


def committed(job: Job, policy: SlaPolicy, arrive_by: datetime, resolve_by: datetime) -> Deadlines:
    """The job's deadlines once the engineer committed: the commitment replaces the targets."""
    return Deadlines(
        arrive_by=job.sla.arrive_by.model_copy(
            update={"due_at": arrive_by, "at_risk_at": policy.at_risk_at(job.requested_at, arrive_by)}
        ),
        resolve_by=job.sla.resolve_by.model_copy(
            update={"due_at": resolve_by, "at_risk_at": policy.at_risk_at(job.requested_at, resolve_by)}
        ),
    )


def due_alerts(deadline: Deadline, now: datetime) -> tuple[bool, bool]:
    """(raise at-risk, raise breach) for one deadline at `now`."""
    if deadline.met_at is not None:
        return False, False
    at_risk = deadline.at_risk_raised_at is None and deadline.at_risk_at <= now
    breached = deadline.breached_at is None and deadline.due_at <= now
    return at_risk, breached


def alerts(job: Job, which: SlaDeadline, now: datetime) -> tuple[Job, list[EventData]]:
    """What the monitor raises for one deadline of an open job at `now`: each alert once."""
    if job.closed:
        return job, []
    deadline: Deadline = getattr(job.sla, which.value)
    at_risk, breached = due_alerts(deadline, now)
    if not (at_risk or breached):
        return job, []
    engineer = job.engineer
    who = f"{engineer.name} ({engineer.engineer_id})" if engineer else "nobody (unassigned)"
    kind = "committed" if job.commitment else "SLA target"
    due = deadline.due_at.isoformat()
    events: list[EventData] = []
    raised = deadline
    if at_risk:
        raised = raised.model_copy(update={"at_risk_raised_at": now})
        events.append(
            JobSlaAtRisk(
                job_id=job.job_id,
                deadline=which,
                due_at=deadline.due_at,
                reason=SlaRiskReason.DEADLINE_APPROACHING,
                priority=job.priority,
                engineer=engineer,
                detail=f"{job.priority.value} job {job.job_id}: most of the time to the {kind} {which.value} "
                f"({due}) is gone without {MET_BY[which]}; engineer: {who}.",
            )
        )
    if breached:
        raised = raised.model_copy(update={"breached_at": now})
        events.append(
            JobSlaBreached(
                job_id=job.job_id,
                deadline=which,
                due_at=deadline.due_at,
                priority=job.priority,
                engineer=engineer,
                detail=f"{job.priority.value} job {job.job_id}: the {kind} {which.value} "
                f"({due}) passed without {MET_BY[which]}; engineer: {who}.",
            )
        )
    sla = job.sla.model_copy(update={which.value: raised})
    return job.model_copy(update={"sla": sla, "updated_at": now}), events


def arrived(job: Job, arrived_at: datetime, now: datetime) -> Job:
    """job.engineer_arrived meets arrive-by (the first arrival counts) and puts an open job on site."""
    arrive_by = job.sla.arrive_by
    if arrive_by.met_at is None:
        arrive_by = arrive_by.model_copy(update={"met_at": arrived_at})
    status = job.status if job.closed else JobStatus.ON_SITE
    return _changed(job, job.sla.model_copy(update={"arrive_by": arrive_by}), status, now)


def inspection_passed(job: Job, passed_at: datetime, now: datetime) -> Job:
    """job.inspection_passed meets resolve-by and resolves the job (unless it was cancelled); a
    resolved job is closed: the monitor raises nothing more for it."""
    resolve_by = job.sla.resolve_by
    if resolve_by.met_at is None:
        resolve_by = resolve_by.model_copy(update={"met_at": passed_at})
    status = job.status if job.status == JobStatus.CANCELLED else JobStatus.RESOLVED
    return _changed(job, job.sla.model_copy(update={"resolve_by": resolve_by}), status, now)


def _changed(job: Job, sla: Deadlines, status: JobStatus, now: datetime) -> Job:
    if sla == job.sla and status == job.status:
        return job
    return job.model_copy(update={"sla": sla, "status": status, "updated_at": now})
