"""Who may record a pre-diagnosis or a departure, and when. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch_service.jobs import ASSIGNED, CANCELLED, PREDIAGNOSED, RESOLVED, UNASSIGNED


@dataclass(frozen=True)
class Refusal:
    status: int
    field: str
    message: str


def check_assigned_engineer(job: dict[str, Any], subject: str) -> Refusal | None:
    """Only the engineer the job is assigned to may act on it."""
    if job["status"] == CANCELLED:
        return Refusal(409, "job_id", f"job {job['_id']} was cancelled")
    if job["status"] == UNASSIGNED or not job.get("engineer"):
        return Refusal(409, "job_id", f"job {job['_id']} is not assigned yet")
    assigned = job["engineer"]["engineer_id"]
    if assigned != subject:
        return Refusal(403, "job_id", f"job {job['_id']} is assigned to another engineer, not {subject}")
    return None


def check_can_prediagnose(job: dict[str, Any]) -> Refusal | None:
    if job["status"] == RESOLVED:
        return Refusal(409, "job_id", f"job {job['_id']} is already resolved")
    if job["status"] != ASSIGNED:
        return Refusal(409, "job_id", f"the pre-diagnosis of job {job['_id']} is already recorded")
    return None


def check_can_depart(job: dict[str, Any], now: datetime, eta: datetime) -> Refusal | None:
    if job["status"] == ASSIGNED:
        return Refusal(409, "job_id", "record the remote pre-diagnosis and commitment before departing")
    if job["status"] != PREDIAGNOSED:
        return Refusal(409, "job_id", f"job {job['_id']} is {job['status']}; the engineer already departed")
    if eta <= now:
        return Refusal(422, "eta", "eta must be in the future")
    return None
