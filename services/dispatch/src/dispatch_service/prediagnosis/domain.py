"""The assigned engineer's remote pre-diagnosis and commitment, and departure. Pure Python."""

from __future__ import annotations

from datetime import datetime

from compressor_contracts import (
    Engineer,
    JobEngineerDispatched,
    JobPrediagnosed,
    PartLine,
    PrediagnosisContact,
    ServiceCommitment,
)
from compressor_kit.refusals import Refusal
from dispatch_service.jobs.domain import Commitment, Departure, Job, JobStatus, Prediagnosis
from dispatch_service.sla.domain import SlaPolicy, check_commitment, committed


def assigned_engineer(job: Job, subject: str) -> Engineer:
    """The engineer the job is assigned to, who must be `subject`: only they may act on it."""
    if job.status == JobStatus.CANCELLED:
        raise Refusal.conflict(f"job {job.job_id} was cancelled", field="job_id")
    if job.status == JobStatus.UNASSIGNED or job.engineer is None:
        raise Refusal.conflict(f"job {job.job_id} is not assigned yet", field="job_id")
    if job.engineer.engineer_id != subject:
        raise Refusal.forbidden(f"job {job.job_id} is assigned to another engineer, not {subject}", field="job_id")
    return job.engineer


def prediagnose(
    job: Job,
    subject: str,
    policy: SlaPolicy,
    now: datetime,
    *,
    contacted_via: PrediagnosisContact,
    confirmed_symptoms: list[str],
    suspected_causes: list[str],
    likely_parts: list[PartLine],
    notes: str | None,
    commitment: Commitment,
) -> tuple[Job, JobPrediagnosed]:
    """The engineer's findings and commitment, which must respect the SLA policy for the priority and
    then replace its targets as the job's deadlines."""
    engineer = assigned_engineer(job, subject)
    if job.status == JobStatus.RESOLVED:
        raise Refusal.conflict(f"job {job.job_id} is already resolved", field="job_id")
    if job.status != JobStatus.ASSIGNED:
        raise Refusal.conflict(f"the pre-diagnosis of job {job.job_id} is already recorded", field="job_id")
    check_commitment(policy, job.priority, job.requested_at, now, commitment.arrive_by, commitment.resolve_by)
    prediagnosis = Prediagnosis(
        contacted_via=contacted_via,
        confirmed_symptoms=confirmed_symptoms,
        suspected_causes=suspected_causes,
        likely_parts=likely_parts,
        notes=notes,
        recorded_at=now,
        engineer_id=subject,
    )
    after = job.model_copy(
        update={
            "status": JobStatus.PREDIAGNOSED,
            "prediagnosis": prediagnosis,
            "commitment": commitment,
            "committed_at": now,
            "sla": committed(job, policy, commitment.arrive_by, commitment.resolve_by),
            "updated_at": now,
        }
    )
    event = JobPrediagnosed(
        job_id=job.job_id,
        engineer=engineer,
        contacted_via=contacted_via,
        confirmed_symptoms=confirmed_symptoms,
        suspected_causes=suspected_causes,
        likely_parts=likely_parts,
        commitment=ServiceCommitment(arrive_by=commitment.arrive_by, resolve_by=commitment.resolve_by),
        notes=notes,
    )
    return after, event


def depart(job: Job, subject: str, now: datetime, eta: datetime) -> tuple[Job, JobEngineerDispatched]:
    """The engineer leaves for the site now, after the pre-diagnosis, expecting to arrive at `eta`."""
    engineer = assigned_engineer(job, subject)
    if job.status == JobStatus.ASSIGNED:
        raise Refusal.conflict("record the remote pre-diagnosis and commitment before departing", field="job_id")
    if job.status != JobStatus.PREDIAGNOSED:
        raise Refusal.conflict(f"job {job.job_id} is {job.status.value}; the engineer already departed", field="job_id")
    if eta <= now:
        raise Refusal.invalid("eta must be in the future", field="eta")
    after = job.model_copy(
        update={"status": JobStatus.DISPATCHED, "dispatch": Departure(departed_at=now, eta=eta), "updated_at": now}
    )
    return after, JobEngineerDispatched(job_id=job.job_id, engineer=engineer, departed_at=now, eta=eta)
