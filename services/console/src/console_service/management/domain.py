"""Pure rules of the manager's pages: the dashboard's periods and figures, the review form's body, and
which job events are management alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compressor_contracts import CloudEvent
from compressor_contracts.common import Language
from compressor_contracts.envelope import EventData
from compressor_kit.i18n import speaking
from console_service.texts import N_, _
from console_service.times import shown

# The dashboard's ranges: (label, unit of a period, how many periods).
RANGES: dict[str, tuple[str, str, int]] = {
    "8w": (N_("Last 8 weeks"), "week", 8),
    "6m": (N_("Last 6 months"), "month", 6),
    "12m": (N_("Last 12 months"), "month", 12),
}
DEFAULT_RANGE = "8w"
DIMENSIONS = (
    ("model", "by_model", "model_code"),
    ("engineer", "by_engineer", "engineer_id"),
    ("region", "by_region", "region"),
)
ONE_FILTER = N_("The figures come per model, per engineer or per region: choose one of them at a time.")


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime


def _month_start(day: date, back: int) -> datetime:
    month = day.month - 1 - back
    return datetime(day.year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def periods(range_key: str, now: datetime) -> list[Period]:
    """The range's periods, oldest first; the last one ends at the end of today (UTC)."""
    _label, unit, count = RANGES.get(range_key, RANGES[DEFAULT_RANGE])
    today = now.astimezone(UTC).date()
    end_of_today = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
    if unit == "week":
        ends = [end_of_today - timedelta(weeks=n) for n in range(count)]
        return [Period(shown(e - timedelta(weeks=1), "dd MMM", UTC), e - timedelta(weeks=1), e) for e in reversed(ends)]
    result = []
    for back in reversed(range(count)):
        start = _month_start(today, back)
        end = _month_start(today, back - 1) if back else end_of_today
        result.append(
            Period(shown(start, "MMM y" if start.month == 1 or back == count - 1 else "MMM", UTC), start, end)
        )
    return result


@dataclass(frozen=True)
class Selection:
    """Which figures to show: all jobs, or one model, engineer or region (the API's breakdowns)."""

    dimension: str | None = None  # "model", "engineer" or "region"
    value: str | None = None
    errors: tuple[tuple[str, str], ...] = ()


def selection(model: str | None, engineer: str | None, region: str | None) -> Selection:
    """The first of model, engineer and region that is set; a refusal beside any other that is too."""
    chosen = [(name, value) for name, value in (("model", model), ("engineer", engineer), ("region", region)) if value]
    if not chosen:
        return Selection()
    (dimension, value), *others = chosen
    return Selection(dimension, value, tuple((name, _(ONE_FILTER)) for name, _value in others))


def figures(kpis: dict[str, Any] | None, chosen: Selection) -> dict[str, Any] | None:
    """The KPI figures of `chosen` in one answer of GET /kpis: `overall`, or the row of the breakdown;
    None when the answer is missing or the selected group had no job in the period."""
    if kpis is None:
        return None
    if chosen.dimension is None:
        overall: dict[str, Any] = kpis.get("overall") or {}
        return overall if overall.get("jobs") else None
    for dimension, group, key in DIMENSIONS:
        if dimension == chosen.dimension:
            return next((row for row in kpis.get(group) or [] if row.get(key) == chosen.value), None)
    return None


def options(kpis: dict[str, Any] | None) -> dict[str, list[str]]:
    """The models, engineers and regions that have figures in `kpis` (for the filters)."""
    found: dict[str, list[str]] = {}
    for dimension, group, key in DIMENSIONS:
        found[dimension] = sorted({str(row[key]) for row in (kpis or {}).get(group) or [] if row.get(key)})
    return found


def causes(kpis: dict[str, Any] | None, chosen: Selection) -> list[tuple[str, int]]:
    """Failure causes and their counts: of the chosen model, or of every model together."""
    counts: dict[str, int] = {}
    for model in (kpis or {}).get("failure_causes_by_model") or []:
        if chosen.dimension == "model" and model.get("model_code") != chosen.value:
            continue
        for cause in model.get("causes") or []:
            name = str(cause.get("failure_category") or "unknown")
            counts[name] = counts.get(name, 0) + int(cause.get("count") or 0)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "\u2013"  # an en dash: no figure
    return f"{value:.1f}".rstrip("0").rstrip(".") + unit


def cards(found: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The headline figures as (label, text), or none when no job passed its inspection."""
    if not found:
        return []
    return [
        (_("Jobs done"), str(found.get("jobs", 0))),
        (_("MTTR"), _shown(found.get("mttr_hours"), " h")),
        (_("First-time fix"), _shown(percent(found.get("first_time_fix_rate")), "%")),
        (_("Rework rate"), _shown(percent(found.get("rework_rate")), "%")),
        (_("Arrive-by met"), _shown(percent(found.get("arrive_by_compliance")), "%")),
        (_("Resolve-by met"), _shown(percent(found.get("resolve_by_compliance")), "%")),
        ("CSAT", _shown(found.get("csat_average"), " / 5")),
        ("NPS", _shown(found.get("nps"), "")),
    ]


def series_of(per_period: list[dict[str, Any] | None], name: str, scale: float = 1.0) -> list[float | None]:
    """One figure over the periods (None where a period has no jobs or no value)."""
    values: list[float | None] = []
    for found in per_period:
        value = None if found is None else found.get(name)
        values.append(None if value is None else round(float(value) * scale, 2))
    return values


# The review memo form: the API's field names (lessons one per line; one follow-up).
FOLLOW_UP_KINDS = (
    ("proactive_visit", N_("Proactive visit")),
    ("part_replacement", N_("Part replacement")),
    ("customer_training", N_("Customer training")),
    ("monitoring", N_("Monitoring")),
    ("other", N_("Other")),
)
MEMO_MAX, LESSON_MAX, LESSONS_MAX = 20000, 2000, 50


def review_body(values: dict[str, str]) -> dict[str, Any]:
    """POST /jobs/{id}/review's body from the form: the memo as typed (the API trims and checks it),
    one lesson per non-empty line, and the follow-up when any of its fields is filled in."""
    lessons = [line.strip() for line in values.get("lessons", "").splitlines() if line.strip()]
    body: dict[str, Any] = {"memo": values.get("memo", ""), "lessons": lessons, "follow_ups": []}
    kind, description, due_on = (
        values.get(f"follow_ups.0.{name}", "").strip() for name in ("kind", "description", "due_on")
    )
    if kind or description or due_on:
        body["follow_ups"] = [{"kind": kind or None, "description": description, "due_on": due_on or None}]
    return body


def form_errors(errors: dict[str, str]) -> dict[str, str]:
    """The API's field names as the form's: every `lessons.N` is the lessons box."""
    named: dict[str, str] = {}
    for name, message in errors.items():
        field = "lessons" if name.startswith("lessons") else name
        if field == "follow_ups":
            field = "follow_ups.0.kind"
        named.setdefault(field, message)
    return named


def review_queue(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Urgent reviews (a low score) first; otherwise in the API's order."""
    return sorted(items, key=lambda item: not item.get("urgent"))


# Management alerts: the job events a manager wants to hear of as they arrive. Kept in English (a
# consumer writes them); the title is shown in the reader's language.
ALERT_KINDS = {
    "new_request": N_("New request"),
    "sla_at_risk": N_("SLA at risk"),
    "sla_breached": N_("SLA breached"),
    "escalation": N_("Inspection escalated"),
    "low_score": N_("Low score"),
}


def _name(value: object) -> str | None:
    return getattr(value, "name", None)


PRIORITY_WORDS = {"critical": N_("critical"), "high": N_("high"), "normal": N_("normal"), "low": N_("low")}


def _alert_text(key: str, data: EventData) -> str:
    """The alert's line in the current language (the services' own details, e.g. an SLA's, as they came)."""
    if key == "job.requested":
        priority = str(getattr(getattr(data, "priority", None), "value", getattr(data, "priority", "")))
        equipment = getattr(data, "equipment", None)
        text = _(
            "%(customer)s: %(priority)s priority",
            customer=_name(getattr(data, "customer", None)) or _("A customer"),
            priority=_(PRIORITY_WORDS[priority]) if priority in PRIORITY_WORDS else priority,
        )
        if equipment is not None:
            text += f", {equipment.brand} {equipment.model}"
        return text
    if key in ("job.sla_at_risk", "job.sla_breached"):
        text = str(getattr(data, "detail", "") or "")
        engineer = _name(getattr(data, "engineer", None))
        if not engineer:
            return text
        return (text + " " + _("Engineer: %(name)s.", name=engineer)).strip()
    if key == "job.inspection_escalated":
        failed = _("%(rounds)s failed inspection rounds", rounds=getattr(data, "failed_rounds", "?"))
        return str(getattr(data, "detail", "") or failed)
    text = f"CSAT {getattr(data, 'csat', '?')}/5, NPS {getattr(data, 'nps', '?')}/10"
    comments = getattr(data, "comments", None)
    return text + f": “{comments}”" if comments else text


def alert_of(event: CloudEvent[Any]) -> dict[str, Any] | None:
    """The management alert `event` raises, or None (most job events raise none). Written by a consumer,
    so its line is kept in both languages (`text`, `text_ms`); the page shows the reader's."""
    key = event.routing_key.rsplit(".v", 1)[0]  # job.requested.v1 -> job.requested
    data = event.data
    if key == "job.requested":
        kind = "new_request"
    elif key in ("job.sla_at_risk", "job.sla_breached"):
        kind = "sla_at_risk" if key == "job.sla_at_risk" else "sla_breached"
    elif key == "job.inspection_escalated":
        kind = "escalation"
    elif key == "job.feedback_received" and getattr(data, "low_score", False):
        kind = "low_score"
    else:
        return None
    with speaking(Language.EN):
        text = _alert_text(key, data)
    with speaking(Language.MS):
        text_ms = _alert_text(key, data)
    return {
        "_id": event.id,
        "kind": kind,
        "title": ALERT_KINDS[kind],
        "job_id": event.subject,
        "text": text[:500],
        "text_ms": text_ms[:500],
        "at": event.time,
    }
