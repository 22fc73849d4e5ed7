"""The SLA policy and the deadlines of a job. Pure Python.

A job has two deadlines: arrive-by (met by job.engineer_arrived) and resolve-by (met by
job.inspection_passed). Until the engineer commits, they are the policy targets for the
priority counted from the request; the commitment replaces them. A deadline is at risk once
`at_risk_fraction` of the time from the request to it is gone, and breached once it passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from compressor_contracts import SlaDeadline

ARRIVE_BY = SlaDeadline.ARRIVE_BY.value
RESOLVE_BY = SlaDeadline.RESOLVE_BY.value
DEADLINES = (ARRIVE_BY, RESOLVE_BY)


@dataclass(frozen=True)
class SlaPolicy:
    arrive_within_hours: dict[str, float]
    resolve_within_hours: dict[str, float]
    at_risk_fraction: float

    @classmethod
    def from_settings(cls, settings: Any) -> SlaPolicy:
        return cls(
            dict(settings.sla_arrive_within_hours),
            dict(settings.sla_resolve_within_hours),
            settings.sla_at_risk_fraction,
        )

    def arrive_target(self, priority: str, requested_at: datetime) -> datetime:
        return requested_at + timedelta(hours=self.arrive_within_hours[priority])

    def resolve_target(self, priority: str, requested_at: datetime) -> datetime:
        return requested_at + timedelta(hours=self.resolve_within_hours[priority])

    def at_risk_at(self, requested_at: datetime, due_at: datetime) -> datetime:
        return requested_at + (due_at - requested_at) * self.at_risk_fraction

    def deadline_state(self, requested_at: datetime, due_at: datetime) -> dict[str, Any]:
        """The stored state of one deadline: when due, when at risk, what was raised, whether met."""
        return {
            "due_at": due_at,
            "at_risk_at": self.at_risk_at(requested_at, due_at),
            "met_at": None,
            "at_risk_raised_at": None,
            "breached_at": None,
        }

    def initial_deadlines(self, priority: str, requested_at: datetime) -> dict[str, dict[str, Any]]:
        return {
            ARRIVE_BY: self.deadline_state(requested_at, self.arrive_target(priority, requested_at)),
            RESOLVE_BY: self.deadline_state(requested_at, self.resolve_target(priority, requested_at)),
        }


@dataclass(frozen=True)
class CommitmentError:
    field: str
    message: str


def _hours(value: float) -> str:
    return f"{value:g} h"


def check_commitment(
    policy: SlaPolicy, priority: str, requested_at: datetime, now: datetime, arrive_by: datetime, resolve_by: datetime
) -> CommitmentError | None:
    """None when the commitment respects the policy for the priority; else the first problem."""
    arrive_target = policy.arrive_target(priority, requested_at)
    resolve_target = policy.resolve_target(priority, requested_at)
    if arrive_by <= now:
        return CommitmentError("commitment.arrive_by", "arrive_by must be in the future")
    if arrive_by > arrive_target:
        return CommitmentError(
            "commitment.arrive_by",
            f"arrive_by is outside the SLA policy: a {priority} job must be reached on site within "
            f"{_hours(policy.arrive_within_hours[priority])} of the request, by {arrive_target.isoformat()}",
        )
    if resolve_by < arrive_by:
        return CommitmentError("commitment.resolve_by", "resolve_by must not be before arrive_by")
    if resolve_by > resolve_target:
        return CommitmentError(
            "commitment.resolve_by",
            f"resolve_by is outside the SLA policy: a {priority} job must be resolved within "
            f"{_hours(policy.resolve_within_hours[priority])} of the request, by {resolve_target.isoformat()}",
        )
    return None


def due_alerts(deadline: dict[str, Any], now: datetime) -> tuple[bool, bool]:
    """(raise at-risk, raise breach) for one stored deadline state at `now`."""
    if deadline.get("met_at") is not None:
        return False, False
    at_risk = deadline["at_risk_raised_at"] is None and deadline["at_risk_at"] <= now
    breached = deadline["breached_at"] is None and deadline["due_at"] <= now
    return at_risk, breached
