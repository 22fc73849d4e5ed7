"""Pure timeline rules: which phase an event belongs to, who acted, time spent per phase and round,
and the job's summary (status, phase, who and what) derived from its events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from compressor_contracts import CloudEvent, Priority
from compressor_kit.i18n import N_
from compressor_kit.refusals import Refusal

# English in the API; the report translates them (`_(PHASE_NAMES[n])`).
PHASE_NAMES = {
    1: N_("intake"),
    2: N_("remote pre-diagnosis"),
    3: N_("on-site diagnosis"),
    4: N_("maintenance plan"),
    5: N_("execution"),
    6: N_("quality inspection"),
    7: N_("record and report"),
    8: N_("customer feedback"),
    9: N_("internal review"),
}

OPEN, CANCELLED, CLOSED = "open", "cancelled", "closed"
STATUSES = (OPEN, CANCELLED, CLOSED)
PRIORITIES = tuple(p.value for p in Priority)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs to list; every given value must match (requested in [from, to))."""

    phase: int | None = None
    status: str | None = None
    customer_id: str | None = None
    engineer_id: str | None = None
    priority: str | None = None
    requested_from: datetime | None = None
    requested_to: datetime | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise Refusal.invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise Refusal.invalid("priority must be critical, high, normal or low", field="priority")
        if self.requested_from and self.requested_to and self.requested_to <= self.requested_from:
            raise Refusal.invalid("requested_to must be after requested_from", field="requested_to")


# Process order, to order events that carry the same time.
EVENT_ORDER = {
    name: rank
    for rank, name in enumerate(
        [
            "job.requested",
            "job.assigned",
            "job.prediagnosed",
            "job.engineer_dispatched",
            "job.engineer_arrived",
            "job.diagnosed",
            "job.plan_proposed",
            "job.plan_rejected",
            "job.plan_approved",
            "job.signed",
            "job.work_started",
            "job.progress_reported",
            "job.work_completed",
            "job.inspection_failed",
            "job.inspection_escalated",
            "job.inspection_passed",
            "job.report_published",
            "job.survey_sent",
            "job.feedback_received",
            "job.reviewed",
            "job.closed",
            "customer_file.updated",
        ]
    )
}


def event_name(routing_key: str) -> str:
    """'job.work_started.v1' -> 'job.work_started'."""
    return routing_key.rsplit(".", 1)[0]


def actor_of(data: dict[str, Any], source: str) -> dict[str, str]:
    """Who acted: the person the event names, else the producing service."""
    for key in ("recorded_by", "assigned_by", "reviewer", "inspector"):
        person = data.get(key)
        if person:
            return {"id": person["user_id"], "name": person["name"], "role": str(person["role"])}
    if data.get("engineer"):
        return {"id": data["engineer"]["engineer_id"], "name": data["engineer"]["name"], "role": "engineer"}
    for key in ("approver", "rejected_by", "signer"):
        person = data.get(key)
        if person:
            return {"id": "", "name": person["name"], "role": "customer"}
    service = source.rsplit("/", 1)[-1]
    return {"id": service, "name": service, "role": "service"}


def timeline_entry(event: CloudEvent[Any]) -> dict[str, Any]:
    """The stored form of one event in a job's timeline."""
    data = event.data.model_dump(mode="json")
    return {
        "_id": event.id,
        "job_id": event.subject,
        "type": event.type,
        "event": event_name(event.routing_key),
        "version": type(event.data).version,
        "phase": type(event.data).phase,
        "round": data.get("round"),
        "time": event.time,
        "actor": actor_of(data, event.source),
        "source": event.source,
        "correlation_id": event.correlationid,
        "data": data,
    }


def order_of(entry: dict[str, Any]) -> tuple[Any, int, str]:
    """Where an entry stands in its job's timeline: by time, then process order, then id."""
    return (entry["time"], EVENT_ORDER.get(entry["event"], 99), entry["_id"])


def in_order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=order_of)


@dataclass(frozen=True)
class Stint:
    """A continuous stretch of the job in one phase (and, for execution and inspection, one round)."""

    phase: int
    round: int | None
    started_at: datetime
    ended_at: datetime

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def stints(entries: list[dict[str, Any]]) -> list[Stint]:
    """Phase stints from ordered entries. The time up to an event belongs to that event's phase
    (an event marks progress in its phase); events of no phase (SLA, notifications) are not
    boundaries. Consecutive events of the same phase and round form one stint."""
    phased = [e for e in in_order(entries) if e["phase"] is not None]
    result: list[Stint] = []
    if not phased:
        return result
    previous_time = phased[0]["time"]
    for entry in phased:
        key = (entry["phase"], entry["round"] if entry["phase"] in (5, 6) else None)
        if result and (result[-1].phase, result[-1].round) == key:
            last = result[-1]
            result[-1] = Stint(last.phase, last.round, last.started_at, entry["time"])
        else:
            result.append(Stint(key[0], key[1], previous_time, entry["time"]))
        previous_time = entry["time"]
    return result


def seconds_per_phase(all_stints: list[Stint]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for stint in all_stints:
        totals[str(stint.phase)] = totals.get(str(stint.phase), 0.0) + stint.seconds
    return totals


SUMMARY_FIELDS = (
    "time",
    "event",
    "phase",
    "round",
    "data.priority",
    "data.equipment.equipment_id",
    "data.equipment.model_code",
    "data.site.region",
    "data.customer.customer_id",
    "data.customer.name",
    "data.engineer.engineer_id",
    "data.engineer.name",
    "data.round",
    "data.record_id",
    "data.csat",
    "data.nps",
)
"""What `summarise` reads of each entry: when the job's summary is recomputed from all its events, the
store reads only these rather than every event's whole payload."""

VIEW_FIELDS = ("type", "event", "phase", "round", "time", "actor")
"""What `timeline_view` reads of each entry."""


CONTINUE_FROM = "continue_from"
"""Kept in each summary: where the summary stands (its last entry's place in order, the phase stint it
ends in, the seconds of the stints before), so that an event coming after all the others updates it
from this alone (`summary_after`) instead of reading every entry of the job again."""


def summarise(job_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The job's summary for listing and filtering, derived from all its events (any order in)."""
    summary: dict[str, Any] = {
        "_id": job_id,
        "status": OPEN,
        "events": 0,
        "work_rounds": 0,
        "rework_rounds": 0,
        "seconds_per_phase": {},
        CONTINUE_FROM: None,
    }
    for entry in in_order(entries):
        summary = summary_after(summary, entry)
    return summary


def follows(summary: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether `entry` comes after every entry the summary was made from, so `summary_after` applies."""
    state = summary.get(CONTINUE_FROM)
    if state is None:
        return False  # no entry yet, or a summary stored before it kept its state: recomputed
    last = state["last"]
    return order_of(entry) > (last["time"], last["rank"], last["id"])


def summary_after(summary: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The summary once `entry` is added, `entry` coming after every entry so far (`follows`). Folding
    the entries in order from the empty summary is exactly `summarise`."""
    summary = {**summary, "events": summary["events"] + 1}
    data, name = entry["data"], entry["event"]
    if name in ("job.requested", "job.assigned"):
        summary["priority"] = data["priority"]
        summary["equipment_id"] = data["equipment"]["equipment_id"]
        summary["model_code"] = data["equipment"]["model_code"]
        summary["region"] = data["site"]["region"]
    if name == "job.requested":
        summary["customer_id"] = data["customer"]["customer_id"]
        summary["customer_name"] = data["customer"]["name"]
        summary["requested_at"] = entry["time"]
    if data.get("engineer") and name != "job.sla_at_risk":
        summary["engineer_id"] = data["engineer"]["engineer_id"]
        summary["engineer_name"] = data["engineer"]["name"]
    if name == "job.work_started":
        summary["work_rounds"] = max(summary["work_rounds"], data["round"])
    if name == "job.inspection_failed":
        summary["rework_rounds"] += 1
    if name == "job.inspection_passed":
        summary["inspection_passed_at"] = entry["time"]
    if name == "job.report_published":
        summary["record_id"] = data["record_id"]
    if name == "job.feedback_received":
        summary["csat"] = data["csat"]
        summary["nps"] = data["nps"]
    if name == "job.cancelled":
        summary["status"] = CANCELLED
    if name == "job.closed" and summary["status"] != CANCELLED:
        summary["status"] = CLOSED
    state = summary[CONTINUE_FROM] or {"stint": None, "closed_seconds": {}}
    stint, closed = state["stint"], state["closed_seconds"]
    if entry["phase"] is not None:
        summary["phase"] = entry["phase"]
        summary["phase_name"] = PHASE_NAMES[entry["phase"]]
        stint, closed = _stint_after(stint, closed, entry)
        # As seconds_per_phase(stints(...)) adds them up: the stints before, then the one it is in.
        totals = dict(closed)
        totals[str(stint["phase"])] = totals.get(str(stint["phase"]), 0.0) + _seconds(stint)
        summary["seconds_per_phase"] = totals
    summary.setdefault("first_event_at", entry["time"])
    summary["last_event"] = name
    summary["last_event_at"] = entry["time"]
    _, rank, entry_id = order_of(entry)
    summary[CONTINUE_FROM] = {
        "last": {"time": entry["time"], "rank": rank, "id": entry_id},
        "stint": stint,
        "closed_seconds": closed,
    }
    return summary


def _stint_after(
    stint: dict[str, Any] | None, closed: dict[str, float], entry: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, float]]:
    """The phase stint a phased entry ends in, and the seconds of the stints closed before it (as `stints`)."""
    phase, stint_round = entry["phase"], entry["round"] if entry["phase"] in (5, 6) else None
    if stint is not None and (stint["phase"], stint["round"]) == (phase, stint_round):
        return {**stint, "ended_at": entry["time"]}, closed
    if stint is None:
        return {"phase": phase, "round": stint_round, "started_at": entry["time"], "ended_at": entry["time"]}, closed
    closed = dict(closed)
    closed[str(stint["phase"])] = closed.get(str(stint["phase"]), 0.0) + _seconds(stint)
    return {"phase": phase, "round": stint_round, "started_at": stint["ended_at"], "ended_at": entry["time"]}, closed


def _seconds(stint: dict[str, Any]) -> float:
    return float((stint["ended_at"] - stint["started_at"]).total_seconds())


def timeline_view(job_id: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The API form of one job's timeline."""
    ordered = in_order(entries)
    all_stints = stints(ordered)
    return {
        "job_id": job_id,
        "events": [
            {
                "event_id": e["_id"],
                "event": e["event"],
                "type": e["type"],
                "phase": e["phase"],
                "phase_name": PHASE_NAMES.get(e["phase"]) if e["phase"] else None,
                "round": e["round"],
                "time": e["time"],
                "actor": e["actor"],
            }
            for e in ordered
        ],
        "phases": [
            {
                "phase": s.phase,
                "phase_name": PHASE_NAMES[s.phase],
                "round": s.round,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
                "seconds": s.seconds,
            }
            for s in all_stints
        ],
        "seconds_per_phase": seconds_per_phase(all_stints),
        "rework_rounds": sum(1 for e in ordered if e["event"] == "job.inspection_failed"),
    }
