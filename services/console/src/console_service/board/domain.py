"""Pure job-board rules: what one job event changes in the job's board row, and how the board is
filtered and grouped. Events of one job may arrive out of order across producers: a row keeps the
time of what it last took for each part (phase, who and what), and an older event changes nothing
that a newer one has set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from compressor_contracts import (
    CloudEvent,
    JobCancelled,
    JobClosed,
    JobReportPublished,
    JobRequested,
    JobSlaAtRisk,
    JobSlaBreached,
    Priority,
)
from compressor_kit.refusals import Refusal
from console_service.texts import N_, _

# Kept in English in the board's rows; shown with `phase_label` in the reader's language.
PHASE_NAMES = {
    1: N_("Intake"),
    2: N_("Remote pre-diagnosis"),
    3: N_("On-site diagnosis"),
    4: N_("Maintenance plan"),
    5: N_("Execution"),
    6: N_("Quality inspection"),
    7: N_("Record and report"),
    8: N_("Customer feedback"),
    9: N_("Internal review"),
}
OPEN, CANCELLED, CLOSED = "open", "cancelled", "closed"
AT_RISK, BREACHED = "at_risk", "breached"
SLA_RANK = {None: 0, AT_RISK: 1, BREACHED: 2}
PRIORITIES = tuple(p.value for p in Priority)


def phase_label(phase: object, fallback: str | None = None) -> str:
    """Phase `phase` (its number) by name in the reader's language; `fallback` (or "") when unknown."""
    name = PHASE_NAMES.get(phase) if isinstance(phase, int) else None
    return _(name) if name else (fallback or "")


def _newer(row: dict[str, Any], part: str, time: datetime) -> bool:
    seen = row.get(f"{part}_at")
    return seen is None or time >= seen


def board_row(row: dict[str, Any] | None, event: CloudEvent[Any]) -> dict[str, Any]:
    """The job's board row after `event` (a new row for the job's first event seen)."""
    data = event.data
    time = event.time
    new: dict[str, Any] = dict(row) if row else {"_id": event.subject, "status": OPEN, "sla": None}
    phase = getattr(type(data), "phase", None)
    if phase is not None and _newer(new, "phase", time):
        new.update(phase=phase, phase_name=PHASE_NAMES[phase], phase_at=time)
    if _newer(new, "details", time):
        priority = getattr(data, "priority", None)
        if priority is not None:
            new["priority"] = str(priority.value if isinstance(priority, Priority) else priority)
        customer = getattr(data, "customer", None)
        if customer is not None:
            new.update(customer_id=customer.customer_id, customer_name=customer.name)
        equipment = getattr(data, "equipment", None)
        if equipment is not None:
            new.update(
                equipment_id=equipment.equipment_id,
                model_code=equipment.model_code,
                model=f"{equipment.brand} {equipment.model}",
            )
        site = getattr(data, "site", None)
        if site is not None:
            new.update(region=site.region, site_name=site.name)
        engineer = getattr(data, "engineer", None)
        if engineer is not None and hasattr(engineer, "engineer_id"):
            new.update(engineer_id=engineer.engineer_id, engineer_name=engineer.name)
        new["details_at"] = time
    if isinstance(data, JobSlaAtRisk | JobSlaBreached):
        state = BREACHED if isinstance(data, JobSlaBreached) else AT_RISK
        if SLA_RANK[state] >= SLA_RANK[new.get("sla")]:
            new.update(sla=state, sla_deadline=str(data.deadline.value), sla_detail=data.detail)
    if isinstance(data, JobReportPublished):
        new["report_published"] = True
    if isinstance(data, JobRequested):
        # The machine's own readings, when telemetry raised the job: what the remote pre-diagnosis starts from.
        new["requested_at"] = time
        if data.machine_readings:
            new["machine_readings"] = [r.model_dump(mode="json") for r in data.machine_readings]
    if isinstance(data, JobCancelled):
        new["status"] = CANCELLED
    elif isinstance(data, JobClosed) and new.get("status") != CANCELLED:
        new["status"] = CLOSED
    if new.get("updated_at") is None or time >= new["updated_at"]:
        new.update(updated_at=time, last_event=type(data).name)
    return new


@dataclass(frozen=True)
class BoardFilter:
    """Which rows the board shows; every given value must match."""

    priority: str | None = None
    region: str | None = None
    engineer_id: str | None = None

    def __post_init__(self) -> None:
        if self.priority is not None and self.priority not in PRIORITIES:
            raise Refusal.invalid(
                _("priority must be one of %(priorities)s", priorities=", ".join(PRIORITIES)), field="priority"
            )

    def matches(self, row: dict[str, Any]) -> bool:
        return all(
            value is None or row.get(name) == value
            for name, value in (("priority", self.priority), ("region", self.region), ("engineer_id", self.engineer_id))
        )


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    rows: list[dict[str, Any]]


def columns(rows: list[dict[str, Any]]) -> list[Column]:
    """Open jobs by phase (most urgent first: breached, at risk, then priority), then closed and cancelled."""

    def urgency(row: dict[str, Any]) -> tuple[int, int, str]:
        priority = row.get("priority")
        rank = Priority(priority).rank if priority in PRIORITIES else len(PRIORITIES)
        return (-SLA_RANK[row.get("sla")], rank, row["_id"])

    open_rows = [r for r in rows if r.get("status", OPEN) == OPEN]
    found = [
        Column(f"phase-{n}", f"{n}. {_(name)}", sorted((r for r in open_rows if r.get("phase") == n), key=urgency))
        for n, name in PHASE_NAMES.items()
    ]
    found.append(Column(CLOSED, _("Closed"), [r for r in rows if r.get("status") == CLOSED]))
    found.append(Column(CANCELLED, _("Cancelled"), [r for r in rows if r.get("status") == CANCELLED]))
    return found


def column_of(row: dict[str, Any]) -> str:
    status = row.get("status", OPEN)
    return f"phase-{row.get('phase')}" if status == OPEN else str(status)
